import { type ChildProcess, spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { cliPath } from '@pns/test-support';
import { sleep } from '../clock.js';
import { allowedCpus } from '../measure.js';
import { childPids } from '../peers-servers/peer-process.js';
import { pinnedCommand } from '../pinned.js';
import type { BenchPayload, StartedServer, Target, TargetOptions } from '../target.js';
import { pnsPublishKey, pnsSecret } from './pns-config.js';

/** A port nobody listens on right now (the server binds it a moment later). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
  });
}

/** GET that resolves with the status code, or 0 when no answer came. */
function statusOf(url: string): Promise<number> {
  return new Promise((resolve) => {
    const request = http.get(url, { agent: false, timeout: 1000 }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(0));
  });
}

/** The body of `response` once it has ended; rejects unless it is a 200 (`what` heads the error). */
export function okBody(response: http.IncomingMessage, what: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => {
      text += chunk;
    });
    response.on('error', reject);
    response.on('end', () =>
      response.statusCode === 200 ? resolve(text) : reject(new Error(`${what}: HTTP ${response.statusCode} ${text.slice(0, 200)}`)),
    );
  });
}

/** POSTs a publish body to pns at `serverUrl` through `agent`; resolves with the answer's body on 200. */
export function postPublish(agent: http.Agent, serverUrl: string, body: string, timeoutMs: number): Promise<string> {
  const target = new URL('/pns/publish', serverUrl);
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        agent,
        method: 'POST',
        hostname: target.hostname,
        port: target.port,
        path: target.pathname,
        headers: {
          authorization: `Bearer ${pnsPublishKey}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        },
        timeout: timeoutMs,
      },
      (response) => okBody(response, 'publish').then(resolve, reject),
    );
    request.on('timeout', () => request.destroy(new Error('publish: timeout')));
    request.on('error', reject);
    request.end(body);
  });
}

/** A started pns (one `pns serve`, or several nodes) the driver publishes to with a publish body. */
export interface PnsPublishing extends StartedServer {
  publish(body: string): Promise<void>;
}

/** A running `pns serve` with the keep-alive agent the driver publishes through. */
export class PnsServer implements PnsPublishing {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

  /** Kills the server if the driver exits first (main turns SIGINT and SIGTERM into an exit). */
  private readonly killOnExit = (): void => {
    this.child.kill('SIGKILL');
  };

  constructor(
    readonly url: string,
    /** The `pns serve` process (with an IPC channel when started with `ipc`). */
    readonly child: ChildProcess,
  ) {
    process.once('exit', this.killOnExit);
  }

  /** The process and, with `--workers`, its workers (read each time: a worker that died is replaced). */
  get pids(): number[] {
    const pid = this.child.pid as number;
    return [pid, ...childPids(pid)];
  }

  /** POSTs a publish body; resolves on 200. */
  async publish(body: string): Promise<void> {
    await postPublish(this.agent, this.url, body, 30_000);
  }

  async stop(): Promise<void> {
    this.agent.destroy();
    const child = this.child;
    if (child.exitCode !== null || child.signalCode !== null) {
      process.removeListener('exit', this.killOnExit);
      return;
    }
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    const kill = setTimeout(() => child.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(kill);
    process.removeListener('exit', this.killOnExit);
  }
}

/** Forwards the server's output (warnings and worse, at log level warn) to stderr, line by line. */
function forwardOutput(child: ChildProcess): () => string {
  let tail = '';
  const forward = (chunk: string): void => {
    tail = (tail + chunk).slice(-4000);
    for (const line of chunk.split('\n')) if (line.trim()) process.stderr.write(`[pns ${child.pid}] ${line}\n`);
  };
  child.stdout?.setEncoding('utf8').on('data', forward);
  child.stderr?.setEncoding('utf8').on('data', forward);
  return () => tail;
}

/** How the server process itself is run, beyond pns's flags (the soak test's needs: src/soak). */
export interface PnsProcessOptions {
  /** Node.js flags before the pns command, e.g. `--expose-gc` and an `--import` preload. */
  nodeArgs?: readonly string[];
  /** Opens an IPC channel to the process (`server.child.send`). */
  ipc?: boolean;
}

/** Starts `pns serve` pinned to `options.cpu`, with `extraArgs` after the bench's own; resolves once it is ready. */
export async function startPns(
  options: TargetOptions,
  extraArgs: readonly string[] = [],
  processOptions: PnsProcessOptions = {},
): Promise<PnsServer> {
  const port = options.port ?? (await freePort());
  const hold = String(options.holdSeconds);
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('PNS_')) env[name] = value;
  Object.assign(env, { PNS_SECRET: pnsSecret, PNS_PUBLISH_KEY: pnsPublishKey });
  const args = ['serve', '--host', '127.0.0.1', '--port', String(port), '--hold-seconds', hold, '--max-hold-seconds', hold];
  // No publish rate limit: the driver publishes as fast as a scenario asks, and a throttled pns would measure the limit.
  args.push('--publish-rate', '0');
  if (options.drainSeconds !== undefined) args.push('--drain-seconds', String(options.drainSeconds));
  args.push(...extraArgs);
  const node = [process.execPath, ...(processOptions.nodeArgs ?? [])];
  const { command, args: argv } = pinnedCommand(options.cpu, [...node, cliPath, ...args, '--log-level', 'warn']);
  const stdio: ('ignore' | 'pipe' | 'ipc')[] = ['ignore', 'pipe', 'pipe', ...(processOptions.ipc ? (['ipc'] as const) : [])];
  const child = spawn(command, argv, { env, stdio });
  const output = forwardOutput(child);
  const url = `http://127.0.0.1:${port}`;
  const server = new PnsServer(url, child);
  const deadline = Date.now() + 20_000;
  while ((await statusOf(`${url}/readyz`)) !== 200) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`pns serve exited (${child.exitCode}): ${output()}`);
    if (Date.now() > deadline) {
      await server.stop();
      throw new Error(`pns serve not ready within 20 s: ${output()}`);
    }
    await sleep(25);
  }
  for (const pid of server.pids) {
    const cpus = allowedCpus(pid);
    if (cpus !== undefined && cpus !== String(options.cpu)) {
      await server.stop();
      throw new Error(`pns process ${pid} runs on CPUs ${cpus}, not ${options.cpu}`);
    }
  }
  return server;
}

function pnsServer(server: StartedServer): PnsPublishing {
  if (typeof (server as Partial<PnsPublishing>).publish !== 'function') throw new TypeError('not a pns server');
  return server as PnsPublishing;
}

const message = (to: string, payload: BenchPayload): string => `{"to":"${to}","type":"bench","data":${JSON.stringify(payload)}}`;

/**
 * A pns target: `pns serve` with the memory broker, one process pinned to one core, published to over
 * HTTP, and subscribers from `subscriberModule` (one per transport). `serveArgs` are added to the
 * server's command line.
 */
export function pnsTargetWith(name: string, subscriberModule: string, serveArgs: (options: TargetOptions) => string[] = () => []): Target {
  return pnsTargetStarting(name, subscriberModule, (options) => startPns(options, serveArgs(options)));
}

/** A pns target whose servers `start` starts (pns on Redis: one node or several, and their Redis). */
export function pnsTargetStarting(
  name: string,
  subscriberModule: string,
  start: (options: TargetOptions) => Promise<PnsPublishing>,
): Target {
  return {
    name,
    subscriberModule,
    drains: true,
    start,
    publishToUser: (server, user, payload) => pnsServer(server).publish(message(`user:${user}`, payload)),
    publishToTopic: (server, topic, payload) => pnsServer(server).publish(message(`topic:${topic}`, payload)),
    publishBatch: (server, messages) =>
      pnsServer(server).publish(`[${messages.map(({ user, payload }) => message(`user:${user}`, payload)).join(',')}]`),
  };
}

/** pns with the memory broker, long polling, one process pinned to one core. */
export const pnsTarget: Target = pnsTargetWith('pns', './targets/pns-subscriber.js');
