// Real redis-server processes for tests (Debian package `redis-server`), with nothing beyond node built-ins.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { redisCommand } from './redis-wire.js';
import { onPath, skipFor } from './tools.js';

export interface RedisOptions {
  /** `appendonly yes` with `appendfsync always`: every acknowledged write survives a SIGKILL. */
  appendOnly?: boolean;
  /** Default: a free port. */
  port?: number;
  /** A cluster node (`nodes.conf` in its dir); its bus port, port + 10000, is chosen free too. */
  cluster?: boolean;
}

export interface RedisInstance {
  /** `redis://127.0.0.1:PORT` */
  url: string;
  port: number;
  /** Its own temporary directory, removed by `stop()`. */
  dir: string;
  /** SIGTERM, wait for the exit, remove the dir. Idempotent. */
  stop(): Promise<void>;
  /** SIGKILL and wait for the exit; the dir stays for `restart()`. */
  kill(): Promise<void>;
  /** Starts it again (stopping it first if it runs) on the same port, dir and options; resolves once it has loaded its data. */
  restart(): Promise<void>;
  /** SIGSTOP: the process freezes with its connections open, as a Redis stalled by the machine does. */
  pause(): void;
  /** SIGCONT after `pause()`. */
  resume(): void;
}

export interface RedisClusterInstance {
  urls: string[];
  nodes: RedisInstance[];
  stop(): Promise<void>;
}

const readyTimeoutMs = 10_000;
const clusterTimeoutMs = 15_000;
const busOffset = 10_000;

/** The `redis-server` executable on PATH, if installed. */
export function redisBinary(): string | undefined {
  return onPath('redis-server');
}

/** `redis-cli` (Debian's `redis-tools`, which `redis-server` depends on). */
export function redisCliBinary(): string | undefined {
  return onPath('redis-cli');
}

/**
 * For test files that need a real Redis: `false` when redis-server and redis-cli are installed, else why
 * the tests are skipped. Call it at module level and pass it as node:test's `skip`:
 *
 *   const noRedis = redisSkipReason();
 *   describe('RedisBroker', { skip: noRedis }, () => { ... });
 *
 * Locally a missing binary skips loudly (stderr says which package to install). With CI=true it throws,
 * so the file fails at import: CI must never pass by running no Redis test.
 */
export function redisSkipReason(): string | false {
  const missing = [redisBinary() ? '' : 'redis-server', redisCliBinary() ? '' : 'redis-cli'].filter((name) => name !== '');
  if (missing.length === 0) return false;
  return skipFor(
    'Redis',
    `${missing.join(' and ')} not found on PATH: install the Debian package redis-server (apt-get install redis-server)`,
  );
}

/** Processes and dirs still alive, killed and removed when the test process exits (a forgotten stop()). */
const running = new Set<ChildProcess>();
const dirs = new Set<string>();
let hooked = false;
function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const child of running) child.kill('SIGKILL');
    for (const dir of dirs) {
      try {
        rmSync(dir, { recursive: true, force: true });
      } catch {
        // best effort: the process may still be writing into it
      }
    }
  });
}

interface Launched {
  child: ChildProcess;
  exited: Promise<void>;
  /** The last 16 KiB it wrote (redis-server logs to stdout). */
  output(): string;
}

function launch(port: number, dir: string, options: RedisOptions): Launched {
  const binary = redisBinary();
  if (binary === undefined) throw new Error('redis-server is not installed (Debian package redis-server)');
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir];
  args.push(...(options.appendOnly ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--save', '', '--appendonly', 'no']));
  if (options.cluster) args.push('--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000');
  hookExit();
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let out = '';
  const keep = (chunk: string) => {
    out = (out + chunk).slice(-16_384);
  };
  child.stdout?.setEncoding('utf8').on('data', keep);
  child.stderr?.setEncoding('utf8').on('data', keep);
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', (error) => {
      keep(String(error));
      resolve();
    });
  }).then(() => {
    running.delete(child);
  });
  return { child, exited, output: () => out };
}

function hasExited({ child }: Launched): boolean {
  return child.exitCode !== null || child.signalCode !== null || !running.has(child);
}

/** Signals the process and waits for it to exit; a SIGTERM that is ignored for 10 s becomes SIGKILL. */
async function terminate(launched: Launched, signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
  if (hasExited(launched)) return;
  // A paused process would keep a SIGTERM pending until it runs again.
  launched.child.kill('SIGCONT');
  launched.child.kill(signal);
  const timer = setTimeout(() => launched.child.kill('SIGKILL'), 10_000);
  await launched.exited;
  clearTimeout(timer);
}

/**
 * Until this very process answers PING and has loaded its data. `process_id` makes sure it is ours,
 * not another server that took the port after ours failed to bind it.
 */
async function waitReady(port: number, launched: Launched): Promise<void> {
  const deadline = Date.now() + readyTimeoutMs;
  let last = 'no answer yet';
  for (;;) {
    if (hasExited(launched)) throw new Error(`redis-server on port ${port} exited at start; its output:\n${launched.output()}`);
    try {
      if ((await redisCommand(port, ['PING'], 1000)) === 'PONG') {
        const info = String(await redisCommand(port, ['INFO', 'server', 'persistence'], 1000));
        if (!info.includes(`process_id:${launched.child.pid}\r\n`)) last = 'another process answers on that port';
        else if (info.includes('loading:0\r\n')) return;
        else last = 'still loading its data';
      }
    } catch (error) {
      last = (error as Error).message;
    }
    if (Date.now() > deadline) {
      throw new Error(`redis-server on port ${port} not ready within ${readyTimeoutMs} ms (${last}); its output:\n${launched.output()}`);
    }
    await sleep(20);
  }
}

function bindAndRelease(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const bound = (server.address() as AddressInfo).port;
      server.close(() => resolve(bound));
    });
  });
}

async function freePort(withBus: boolean): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await bindAndRelease(0);
    if (!withBus) return port;
    const busFree = port + busOffset <= 65_535 && (await bindAndRelease(port + busOffset).catch(() => 0)) > 0;
    if (busFree) return port;
  }
  throw new Error('no free port (and bus port) found on 127.0.0.1');
}

/** Starts redis-server on 127.0.0.1 in a fresh temporary dir; resolves once it answers PING. */
export async function startRedis(options: RedisOptions = {}): Promise<RedisInstance> {
  const dir = await mkdtemp(join(tmpdir(), 'pns-redis-'));
  dirs.add(dir);
  const removeDir = async () => {
    await rm(dir, { recursive: true, force: true });
    dirs.delete(dir);
  };
  let port = options.port ?? (await freePort(options.cluster === true));
  let current: Launched;
  // A free port can be taken between our release and redis-server's bind: then it fails, and we retry with another.
  for (let attempt = 1; ; attempt++) {
    current = launch(port, dir, options);
    try {
      await waitReady(port, current);
      break;
    } catch (error) {
      await terminate(current, 'SIGKILL');
      if (options.port !== undefined || attempt >= 5 || !current.output().includes('Address already in use')) {
        await removeDir();
        throw error;
      }
      port = await freePort(options.cluster === true);
    }
  }
  let stopped = false;
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    async stop() {
      if (stopped) return;
      stopped = true;
      await terminate(current, 'SIGTERM');
      await removeDir();
    },
    async kill() {
      await terminate(current, 'SIGKILL');
    },
    pause() {
      if (!hasExited(current)) current.child.kill('SIGSTOP');
    },
    resume() {
      if (!hasExited(current)) current.child.kill('SIGCONT');
    },
    async restart() {
      if (stopped) throw new Error('restart() after stop(): its dir is gone');
      await terminate(current, 'SIGTERM');
      current = launch(port, dir, options);
      try {
        await waitReady(port, current);
      } catch (error) {
        await terminate(current, 'SIGKILL');
        throw error;
      }
    },
  };
}

/**
 * `masters` cluster nodes (at least 3, as redis-cli requires) with every slot assigned, no replicas. `appendOnly`
 * as for `startRedis`: a node then keeps its data across `kill()` and `restart()`; without it a restarted node
 * comes back empty (its cluster configuration, `nodes.conf`, is kept either way).
 */
export async function startRedisCluster(masters = 3, options: Pick<RedisOptions, 'appendOnly'> = {}): Promise<RedisClusterInstance> {
  if (masters < 3) throw new Error('redis-cli --cluster create needs at least 3 masters');
  const cli = redisCliBinary();
  if (cli === undefined) throw new Error('redis-cli is not installed (Debian package redis-server brings it)');
  const started = await Promise.allSettled(Array.from({ length: masters }, () => startRedis({ ...options, cluster: true })));
  const nodes = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
  const stop = async () => {
    await Promise.all(nodes.map((node) => node.stop()));
  };
  try {
    for (const result of started) if (result.status === 'rejected') throw result.reason;
    const addresses = nodes.map((node) => `127.0.0.1:${node.port}`);
    await new Promise<void>((resolve, reject) => {
      const args = ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'];
      execFile(cli, args, { timeout: clusterTimeoutMs }, (error, stdout, stderr) => {
        if (error) reject(new Error(`redis-cli --cluster create failed: ${error.message}\n${stdout}${stderr}`));
        else resolve();
      });
    });
    const deadline = Date.now() + clusterTimeoutMs;
    let last = '';
    for (;;) {
      const infos = await Promise.all(nodes.map((node) => redisCommand(node.port, ['CLUSTER', 'INFO']).then(String, String)));
      if (infos.every((info) => info.includes('cluster_state:ok\r\n') && info.includes('cluster_slots_assigned:16384\r\n'))) break;
      last = infos.join('\n');
      if (Date.now() > deadline) throw new Error(`the Redis cluster is not ok within ${clusterTimeoutMs} ms:\n${last}`);
      await sleep(50);
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { urls: nodes.map((node) => node.url), nodes, stop };
}
