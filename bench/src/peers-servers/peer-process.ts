/**
 * Driver-side helpers shared by the peer targets (Nchan, Socket.IO, Faye):
 * starting a server process pinned to one core, stopping it, and publishing
 * to it over a keep-alive HTTP connection pool.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import type { StartedServer, TargetOptions } from '../target.js';

/** Sockets the driver opens to a peer at most for publishing (requests beyond that queue in the agent). */
export const PUBLISH_SOCKETS = 64;

/** A free TCP port on the loopback interface (the OS picks it; the probe socket is closed before use). */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, host, () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => (port > 0 ? resolve(port) : reject(new Error('no port'))));
    });
  });
}

/** Resolves with the exit code once `child` has exited (immediately if it already has). */
export function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Stops `child`: sends `signal` (the server's graceful stop), waits up to
 * `graceMs`, then SIGTERM, then SIGKILL.
 */
export async function stopProcess(child: ChildProcess, signal: NodeJS.Signals, graceMs = 10_000): Promise<void> {
  const done = exited(child);
  const steps: [NodeJS.Signals, number][] = [
    [signal, graceMs],
    ['SIGTERM', 5_000],
    ['SIGKILL', 5_000],
  ];
  for (const [sig, wait] of steps) {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(sig);
    const finished = await Promise.race([done.then(() => true), sleep(wait).then(() => false)]);
    if (finished) return;
  }
}

/** Child process ids of `pid` (Linux /proc; empty when unavailable). */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter((s) => s !== '')
      .map(Number);
  } catch {
    return [];
  }
}

/**
 * Starts a Node.js peer server script (built under bench/dist/src/peers-servers)
 * pinned to `cpu` with taskset. The script prints one JSON line
 * `{"port": <n>}` on stdout once it listens. taskset execs node, so the
 * child's pid is the server's pid.
 */
export async function startNodePeer(
  script: URL,
  args: string[],
  cpu: number,
  readyTimeoutMs = 30_000,
): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn('taskset', ['-c', String(cpu), process.execPath, fileURLToPath(script), ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const stdout = child.stdout;
  if (stdout === null) throw new Error('no stdout');
  stdout.setEncoding('utf8');
  const port = await new Promise<number>((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => fail(new Error(`${script.pathname} did not report its port in ${readyTimeoutMs} ms`)), readyTimeoutMs);
    const onData = (chunk: string) => {
      buffered += chunk;
      const newline = buffered.indexOf('\n');
      if (newline < 0) return;
      try {
        const ready = JSON.parse(buffered.slice(0, newline)) as { port?: unknown };
        if (typeof ready.port !== 'number') throw new Error(`unexpected ready line: ${buffered.slice(0, newline)}`);
        cleanup();
        resolve(ready.port);
      } catch (error) {
        fail(error instanceof Error ? error : new Error(String(error)));
      }
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
      fail(new Error(`${script.pathname} exited before listening (code ${code}, signal ${signal})`));
    const cleanup = () => {
      clearTimeout(timer);
      stdout.off('data', onData);
      child.off('exit', onExit);
      child.off('error', fail);
    };
    function fail(error: Error) {
      cleanup();
      child.kill('SIGKILL');
      reject(error);
    }
    stdout.on('data', onData);
    child.once('exit', onExit);
    child.once('error', fail);
  });
  // Keep draining stdout so the server never blocks on a full pipe.
  stdout.resume();
  return { child, port };
}

/**
 * Publishes JSON bodies with POST over a keep-alive connection pool of at most
 * `PUBLISH_SOCKETS` sockets. Resolves with the answer's body once the server
 * answered 2xx.
 */
export class JsonPoster {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: PUBLISH_SOCKETS });
  private readonly hostname: string;
  private readonly port: number;

  constructor(baseUrl: string) {
    const url = new URL(baseUrl);
    this.hostname = url.hostname;
    this.port = Number(url.port);
  }

  post(path: string, body: string, contentType = 'application/json'): Promise<string> {
    return new Promise((resolve, reject) => {
      const request = http.request(
        {
          hostname: this.hostname,
          port: this.port,
          path,
          method: 'POST',
          agent: this.agent,
          headers: { 'content-type': contentType, 'content-length': Buffer.byteLength(body) },
        },
        (response) => {
          const status = response.statusCode ?? 0;
          let answer = '';
          response.setEncoding('utf8');
          response.on('data', (chunk: string) => {
            answer += chunk;
          });
          response.on('end', () => {
            if (status >= 200 && status < 300) resolve(answer);
            else reject(new Error(`POST ${path}: HTTP ${status} ${answer.slice(0, 200)}`));
          });
          response.on('error', reject);
        },
      );
      request.on('error', reject);
      request.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** A Node.js peer server started by `startPeerServer`, with the pool the driver publishes through. */
export interface PeerServer extends StartedServer {
  readonly poster: JsonPoster;
}

/** Starts a Node.js peer server script pinned to the server core (`extraArgs` after hold and port), with a publishing pool to it. */
export async function startPeerServer(script: URL, options: TargetOptions, extraArgs: readonly string[] = []): Promise<PeerServer> {
  const args = ['--hold', String(options.holdSeconds), '--port', String(options.port ?? 0), ...extraArgs];
  const { child, port } = await startNodePeer(script, args, options.cpu);
  const url = `http://127.0.0.1:${port}`;
  const poster = new JsonPoster(url);
  return {
    url,
    pids: [child.pid ?? 0],
    poster,
    async stop() {
      poster.close();
      await stopProcess(child, 'SIGTERM', 10_000);
    },
  };
}

/** The publishing pool of a server `startPeerServer` started. */
export function posterOf(server: StartedServer): JsonPoster {
  if (!('poster' in server)) throw new Error('not a server started by startPeerServer');
  return (server as PeerServer).poster;
}
