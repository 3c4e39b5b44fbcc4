// Runs the built `pns` CLI as a child process: any command to its end, or `pns serve` until it logs where it listens.
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The built CLI: this file runs as packages/server/dist/test/support/spawn-server.js. */
const cliPath = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** How long a CLI run may take to start, answer or exit. */
export const cliTimeoutMs = 20_000;

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface Running {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first value `find` returns for the output so far; rejects on exit or timeout. */
  waitForOutput<T>(find: (stdout: string) => T | undefined, what: string, timeoutMs?: number): Promise<T>;
  exited: Promise<Exit>;
}

/** Every process started here that is still running (see `killStarted`). */
const children = new Set<ChildProcess>();

/** The environment without any PNS_* setting of the machine running the tests. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!name.startsWith('PNS_')) env[name] = value;
  return { ...env, ...extra };
}

/** `pns <args>` as a child process, its output collected as it comes. */
export function startCli(args: string[], env: NodeJS.ProcessEnv = cleanEnv()): Running {
  const child = spawn(process.execPath, [cliPath, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let stdout = '';
  let stderr = '';
  const listeners = new Set<() => void>();
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    for (const listener of listeners) listener();
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<Exit>((resolve) => {
    child.once('close', (code, signal) => {
      children.delete(child);
      resolve({ code, signal, stdout, stderr });
      for (const listener of listeners) listener();
    });
  });
  let done = false;
  void exited.then(() => {
    done = true;
  });
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    waitForOutput<T>(find: (stdout: string) => T | undefined, what: string, timeoutMs = cliTimeoutMs): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        const check = (): void => {
          const found = find(stdout);
          if (found !== undefined) {
            cleanup();
            resolve(found);
          } else if (done) {
            cleanup();
            reject(new Error(`process exited before ${what}; stdout: ${stdout} stderr: ${stderr}`));
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`no ${what} within ${timeoutMs} ms; stdout: ${stdout} stderr: ${stderr}`));
        }, timeoutMs);
        const cleanup = (): void => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      });
    },
  };
}

/** The `url` of the JSON log line `pns listening`. */
export function listeningUrl(stdout: string): string | undefined {
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const entry = JSON.parse(line) as { msg?: string; url?: string };
      if (entry.msg === 'pns listening' && typeof entry.url === 'string') return entry.url;
    } catch {
      // not a log line
    }
  }
  return undefined;
}

/** Sends SIGTERM and waits for the exit (sending SIGKILL after `cliTimeoutMs`). */
export async function stopCli(running: Running): Promise<Exit> {
  running.child.kill('SIGTERM');
  const timer = setTimeout(() => running.child.kill('SIGKILL'), cliTimeoutMs);
  const exit = await running.exited;
  clearTimeout(timer);
  return exit;
}

/** Kills (SIGKILL) every process started here that is still running: for a suite's `after`. */
export function killStarted(): void {
  for (const child of children) child.kill('SIGKILL');
}

export interface ServeOptions {
  /** Flags after `serve --port 0`. */
  args?: string[];
  /** The whole environment of the server (by default this one without any PNS_* setting). */
  env?: NodeJS.ProcessEnv;
  /** How long it may take to log `pns listening`. */
  timeoutMs?: number;
}

/** `pns serve` on a free port; resolves once its `pns listening` log line names the URL. */
export async function spawnServer(options: ServeOptions = {}): Promise<Running & { url: string }> {
  const running = startCli(['serve', '--port', '0', ...(options.args ?? [])], options.env ?? cleanEnv());
  const url = await running.waitForOutput(listeningUrl, '`pns listening` log line', options.timeoutMs);
  return { ...running, url };
}
