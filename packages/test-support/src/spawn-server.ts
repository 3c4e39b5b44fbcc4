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
}

/** Runs `pns serve` on loopback and resolves once its `pns listening` log line names the URL. */
export function spawnServer(options: SpawnOptions = {}): Promise<SpawnedServer> {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('PNS_')) env[name] = value;
  Object.assign(env, { PNS_LOG_LEVEL: 'info' }, options.env);
  const startTimeoutMs = options.startTimeoutMs ?? 20_000;
  const child = spawn(
    process.execPath,
    [cliPath, 'serve', '--port', String(options.port ?? 0), '--host', '127.0.0.1', ...(options.args ?? [])],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let errors = '';
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const stop = async (killAfterMs = 20_000): Promise<number | null> => {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    const code = await exited;
    clearTimeout(timer);
    return code;
  };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
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
        resolve({ url, port: Number(new URL(url).port), child, output: () => out, errors: () => errors, stop });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`pns serve exited with ${code}: ${out} ${errors}`));
    });
  });
}
