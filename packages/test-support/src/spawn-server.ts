import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The `pns` command as shipped: the one-file bundle (`npm run build` makes it). */
export const cliPath = fileURLToPath(new URL('../../../server/dist/pns.mjs', import.meta.url));

export interface SpawnedServer {
  url: string;
  port: number;
  child: ChildProcess;
  /** Everything the process wrote to stdout so far. */
  output(): string;
  /**
   * Sends `signal` to the server: with a `wrapper`, to its whole process group, since a wrapper such as
   * `faketime` forks the server and does not pass signals on.
   */
  signal(signal: NodeJS.Signals): void;
  /** Everything the process wrote to stderr so far (Node's own warnings land here). */
  errors(): string;
  /** SIGTERM (graceful drain); resolves with the exit code. SIGKILL after `killAfterMs`. */
  stop(killAfterMs?: number): Promise<number | null>;
}

export interface SpawnOptions {
  /** PNS_* variables; the caller's own PNS_* variables are never inherited. */
  env?: Record<string, string>;
  /** Extra flags after `serve` (default: none). */
  args?: string[];
  /** Port to bind; 0 picks a free one. */
  port?: number;
  startTimeoutMs?: number;
  /** A command the server runs under, e.g. `['faketime', '-m', '-f', '+30s']`; it runs in a process group of its own. */
  wrapper?: string[];
}

/** Runs `pns serve` on loopback and resolves once its `pns listening` log line names the URL. */
export function spawnServer(options: SpawnOptions = {}): Promise<SpawnedServer> {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('PNS_')) env[name] = value;
  Object.assign(env, { PNS_LOG_LEVEL: 'info' }, options.env);
  const startTimeoutMs = options.startTimeoutMs ?? 20_000;
  const command = [process.execPath, cliPath, 'serve', '--port', String(options.port ?? 0), '--host', '127.0.0.1', ...(options.args ?? [])];
  const [program, ...args] = [...(options.wrapper ?? []), ...command] as [string, ...string[]];
  const grouped = options.wrapper !== undefined && options.wrapper.length > 0;
  const child = spawn(program, args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: grouped });
  const signal = (name: NodeJS.Signals): void => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    if (grouped && child.pid !== undefined) {
      try {
        process.kill(-child.pid, name);
      } catch {
        // the group is gone already
      }
    } else child.kill(name);
  };
  let out = '';
  let errors = '';
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const stop = async (killAfterMs = 20_000): Promise<number | null> => {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    signal('SIGTERM');
    const timer = setTimeout(() => signal('SIGKILL'), killAfterMs);
    const code = await exited;
    clearTimeout(timer);
    return code;
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal('SIGKILL');
      reject(new Error(`pns serve did not start within ${startTimeoutMs} ms: ${out} ${errors}`));
    }, startTimeoutMs);
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      errors += chunk;
    });
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      out += chunk;
      const url = /"msg":"pns listening"/.test(out) ? /"url":"(http:[^"]+)"/.exec(out)?.[1] : undefined;
      if (url) {
        clearTimeout(timer);
        resolve({ url, port: Number(new URL(url).port), child, output: () => out, errors: () => errors, signal, stop });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`pns serve exited with ${code}: ${out} ${errors}`));
    });
  });
}

/** Connections the node at `url` holds now, per transport, as its /metrics tells (a transport with none is absent). */
export async function heldConnections(url: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const counts: Record<string, number> = {};
  for (const match of text.matchAll(/^pns_held_connections\{transport="([a-z]+)"\} (\d+)$/gm))
    counts[match[1] as string] = Number(match[2]);
  return counts;
}
