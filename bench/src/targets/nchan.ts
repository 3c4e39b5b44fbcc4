/**
 * Nchan (nginx + the nchan module from Debian's libnginx-mod-nchan) as a
 * benchmark target: its own nginx instance in a temporary prefix, one worker
 * pinned to the server core, memory store, HTTP POST publisher and long-poll
 * subscriber locations. bench/peers/setup.sh installs the packages.
 *
 * Channels: `u.<user>` per user and `t.<topic>` per topic.
 * - POST /pub/<channel>                 publishes (201/202 with channel info)
 * - GET  /pub/<channel>                 channel info (subscriber count), used by the subscriber to confirm it is held
 * - GET  /sub/<user channel>            long poll on the user's channel
 * - GET  /sub/<user channel>/<topic ch> long poll on both (Nchan channel multiplexing: `nchan_channel_id "$1" "$2"`)
 *
 * `nchan-redis` is the same nginx with Nchan's Redis storage (distributed mode, the default: messages are
 * published to Redis and read from it) on its own redis-server (redis-process.ts), pinned to the server
 * core and measured with nginx. Nchan 1.3 documents `nchan_redis_url` + `nchan_use_redis on` as
 * discouraged in favour of an `upstream` with `nchan_redis_server` and `nchan_redis_pass`, used here.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { childPids, exited, freePort, JsonPoster, stopProcess } from '../peers-servers/peer-process.js';
import type { BenchPayload, StartedServer, Target, TargetOptions } from '../target.js';
import { nchanTopicChannel, nchanUserChannel } from './nchan-subscriber.js';
import { type RedisProcess, startRedisProcess } from './redis-process.js';

/** Messages kept per channel: far more than any scenario sends to one channel before it is read. */
const MESSAGE_BUFFER_LENGTH = 1000;
/** How long a message stays buffered. */
const MESSAGE_TIMEOUT = '10m';
/** Shared memory for channels, subscribers and buffered messages (pages count in RSS only once touched). */
const SHARED_MEMORY = '256m';

const MODULE_CANDIDATES = ['/usr/lib/nginx/modules/ngx_nchan_module.so', '/usr/share/nginx/modules/ngx_nchan_module.so'];

/** The nchan module where Debian's libnginx-mod-nchan puts it. */
async function findNchanModule(): Promise<string> {
  for (const candidate of MODULE_CANDIDATES) if (existsSync(candidate)) return candidate;
  const listed = await new Promise<string>((resolve) => {
    const dpkg = spawn('dpkg', ['-L', 'libnginx-mod-nchan'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    dpkg.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
    });
    dpkg.on('error', () => resolve(''));
    dpkg.on('close', () => resolve(out));
  });
  const found = listed.split('\n').find((line) => line.endsWith('/ngx_nchan_module.so'));
  if (found !== undefined && existsSync(found)) return found;
  throw new Error('ngx_nchan_module.so not found: run bench/peers/setup.sh (installs nginx and libnginx-mod-nchan)');
}

function findNginx(): string {
  for (const candidate of ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx']) {
    if (existsSync(candidate)) return candidate;
  }
  return 'nginx';
}

/** The nginx configuration of the bench instance (exported for the report and for tests). */
export function nchanConfig(options: { modulePath: string; prefix: string; port: number; holdSeconds: number; redisUrl?: string }): string {
  const { modulePath, prefix, port, holdSeconds, redisUrl } = options;
  const redisUpstream = redisUrl === undefined ? '' : `\n  upstream bench_redis {\n    nchan_redis_server ${redisUrl};\n  }\n`;
  // In every channel location: Nchan 1.3.6 does not inherit it from the server block (tried: nothing reached Redis).
  const redisPass = redisUrl === undefined ? '' : '\n      nchan_redis_pass bench_redis;';
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const subscriber = [
    'nchan_subscriber longpoll;',
    // Start from "now": a subscriber without a message id waits for the next message.
    'nchan_subscriber_first_message newest;',
    `nchan_subscriber_timeout ${holdSeconds}s;`,
  ].join(' ');
  return `# pns bench: Nchan peer (generated)
load_module ${modulePath};
${asRoot ? 'user root;\n' : ''}daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile 20000;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;

events {
  worker_connections 19900;
}

http {
  access_log off;
  client_body_temp_path ${prefix}/tmp/body;
  proxy_temp_path ${prefix}/tmp/proxy;
  fastcgi_temp_path ${prefix}/tmp/fastcgi;
  uwsgi_temp_path ${prefix}/tmp/uwsgi;
  scgi_temp_path ${prefix}/tmp/scgi;
  keepalive_requests 100000000;
  client_body_buffer_size 16k;

  nchan_shared_memory_size ${SHARED_MEMORY};
  nchan_message_buffer_length ${MESSAGE_BUFFER_LENGTH};
  nchan_message_timeout ${MESSAGE_TIMEOUT};
${redisUpstream}
  server {
    listen 127.0.0.1:${port} backlog=4096;

    location ~ ^/pub/([^/]+)$ {
      nchan_publisher;
      nchan_channel_id "$1";${redisPass}
    }
    location ~ ^/sub/([^/]+)$ {
      ${subscriber}
      nchan_channel_id "$1";${redisPass}
    }
    location ~ ^/sub/([^/]+)/([^/]+)$ {
      ${subscriber}
      nchan_channel_id "$1" "$2";${redisPass}
    }
    location / {
      return 404;
    }
  }
}
`;
}

/** Resolves once nginx answers HTTP on `port` (any status). */
async function waitForHttp(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error('nginx exited during start');
    const ok = await new Promise<boolean>((resolve) => {
      const request = http.get({ hostname: '127.0.0.1', port, path: '/ready', agent: false }, (response) => {
        response.resume();
        response.on('end', () => resolve(true));
      });
      request.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nginx did not answer on port ${port} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const posters = new WeakMap<StartedServer, JsonPoster>();

function posterOf(server: StartedServer): JsonPoster {
  const poster = posters.get(server);
  if (poster === undefined) throw new Error('not a server started by nchanTarget');
  return poster;
}

/** Starts nginx with the bench's Nchan configuration, and first its redis-server when `redis`. */
async function startNchan(options: TargetOptions, redis: boolean): Promise<StartedServer> {
  const modulePath = await findNchanModule();
  const store: RedisProcess | undefined = redis ? await startRedisProcess(options.cpu) : undefined;
  const prefix = await mkdtemp(path.join(os.tmpdir(), 'pns-bench-nchan-'));
  await mkdir(path.join(prefix, 'tmp'), { recursive: true });
  const port = options.port ?? (await freePort());
  const confPath = path.join(prefix, 'nginx.conf');
  const redisUrl = store === undefined ? {} : { redisUrl: store.url };
  await writeFile(confPath, nchanConfig({ modulePath, prefix, port, holdSeconds: options.holdSeconds, ...redisUrl }));

  // daemon off: the spawned process is the nginx master (taskset execs it), so
  // its pid is known and its exit observable; the worker inherits the affinity.
  const child = spawn(
    'taskset',
    ['-c', String(options.cpu), findNginx(), '-p', `${prefix}/`, '-c', confPath, '-e', `${prefix}/error.log`],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  try {
    await waitForHttp(port, child, 15_000);
  } catch (error) {
    await stopProcess(child, 'SIGTERM', 2_000);
    const log = await readFile(path.join(prefix, 'error.log'), 'utf8').catch(() => '');
    await rm(prefix, { recursive: true, force: true });
    await store?.stop();
    throw new Error(`${(error as Error).message}\n${stderr}${log}`);
  }
  const master = child.pid ?? 0;
  let workers = childPids(master);
  for (let i = 0; workers.length === 0 && i < 100; i++) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    workers = childPids(master);
  }

  const poster = new JsonPoster(`http://127.0.0.1:${port}`);
  const server: StartedServer = {
    url: `http://127.0.0.1:${port}`,
    pids: [master, ...workers, ...(store ? [store.pid] : [])],
    ...(store ? { backplanePids: [store.pid] } : {}),
    async stop() {
      poster.close();
      // SIGQUIT = `nginx -s quit`: graceful shutdown (Nchan answers its held subscribers and exits).
      await stopProcess(child, 'SIGQUIT', 10_000);
      await exited(child);
      await rm(prefix, { recursive: true, force: true });
      await store?.stop();
    },
  };
  posters.set(server, poster);
  return server;
}

/** Nchan with the memory store, or with its Redis store on its own redis-server (`redis`). */
function nchanTargetWith(name: string, redis: boolean): Target {
  return {
    name,
    subscriberModule: './nchan-subscriber.js',
    start: (options) => startNchan(options, redis),
    async publishToUser(server: StartedServer, user: string, payload: BenchPayload): Promise<void> {
      await posterOf(server).post(`/pub/${encodeURIComponent(nchanUserChannel(user))}`, JSON.stringify(payload));
    },
    async publishToTopic(server: StartedServer, topic: string, payload: BenchPayload): Promise<void> {
      await posterOf(server).post(`/pub/${encodeURIComponent(nchanTopicChannel(topic))}`, JSON.stringify(payload));
    },
  };
}

export const nchanTarget: Target = nchanTargetWith('nchan', false);

export const nchanRedisTarget: Target = {
  ...nchanTargetWith('nchan-redis', true),
  // D restarts the target, and with it Redis: a question for another scenario (see bench/README.md).
  scenarios: ['B', 'C'],
  compareWith: ['nchan'],
  note: 'one nginx (one worker) with Nchan’s Redis storage (`nchan_redis_pass`, distributed mode); server RSS and CPU are nginx + redis-server, all pinned to CPU 0.',
};
