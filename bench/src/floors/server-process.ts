/**
 * Starting the floors' servers pinned to the server core: the small modules under servers/, spawned with
 * node, and pns itself through the bench's pns target (the same `pns serve` the scenarios run).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { allowedCpus } from '../measure.js';
import { stopProcess } from '../peers-servers/peer-process.js';
import { pinnedCommand } from '../pinned.js';
import type { StartedServer } from '../target.js';
import { pnsTarget } from '../targets/pns.js';

const readyTimeoutMs = 20_000;

/** Server modules of the floors, by name (built next to this file, under servers/). */
export type FloorModule = 'net-held' | 'http-held' | 'fastify-held' | 'http-floor';

/** Waits for the `{"port": n}` line a module prints once it listens (servers/announce.ts). */
function announcedPort(child: ChildProcess, name: string): Promise<number> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const fail = (error: Error): void => {
      cleanup();
      reject(error);
    };
    const onData = (chunk: string): void => {
      buffered += chunk;
      const newline = buffered.indexOf('\n');
      if (newline < 0) return;
      cleanup();
      try {
        const { port } = JSON.parse(buffered.slice(0, newline)) as { port?: unknown };
        if (typeof port !== 'number' || port <= 0) throw new Error(`unexpected ready line: ${buffered.slice(0, newline)}`);
        resolve(port);
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    };
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void =>
      fail(new Error(`${name} exited before listening (${signal ?? code})`));
    const timer = setTimeout(() => fail(new Error(`${name} did not listen within ${readyTimeoutMs / 1000} s`)), readyTimeoutMs);
    const cleanup = (): void => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.off('exit', onExit);
      child.off('error', fail);
    };
    child.stdout?.setEncoding('utf8').on('data', onData);
    child.once('exit', onExit);
    child.once('error', fail);
  });
}

/** Starts servers/<name>.js pinned to `cpu`; its stdin is a pipe whose end (this process gone) makes it exit. */
export async function startModule(name: FloorModule, cpu: number): Promise<StartedServer> {
  const script = fileURLToPath(new URL(`./servers/${name}.js`, import.meta.url));
  const { command, args } = pinnedCommand(cpu, [process.execPath, '--enable-source-maps', script]);
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  const stop = async (): Promise<void> => {
    child.stdin?.destroy();
    await stopProcess(child, 'SIGTERM', 5_000);
    process.removeListener('exit', killOnExit);
  };
  try {
    const port = await announcedPort(child, name);
    // Keep draining stdout so the server never blocks on a full pipe.
    child.stdout?.resume();
    const cpus = allowedCpus(child.pid as number);
    if (cpus !== String(cpu)) throw new Error(`${name} runs on CPUs ${cpus}, not ${cpu}`);
    return { url: `http://127.0.0.1:${port}`, pids: [child.pid as number], stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** `pns serve` pinned to `cpu`, holding polls up to `holdSeconds` (the bench's pns target). */
export function startPns(cpu: number, holdSeconds: number): Promise<StartedServer> {
  return pnsTarget.start({ cpu, holdSeconds });
}
