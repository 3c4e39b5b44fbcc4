/**
 * The redis-server of a Redis target (pns on its Redis broker, Nchan on its Redis store): started with the
 * target and stopped with it, pinned to the server core from its first instruction (taskset, like every
 * server process), no persistence (`--save ''`, no append-only file: neither target needs Redis to survive
 * a restart here), its own port and temporary dir. Its pid joins the target's measured pids, so its RSS
 * and CPU count as server cost, as nginx's workers do for Nchan.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { redisBinary, redisCommand } from '@pns/test-support';
import { sleep } from '../clock.js';
import { allowedCpus } from '../measure.js';
import { freePort, stopProcess } from '../peers-servers/peer-process.js';
import { pinnedCommand } from '../pinned.js';

export interface RedisProcess {
  /** `redis://127.0.0.1:<port>` */
  url: string;
  port: number;
  pid: number;
  /** `redis_version` as the server reports it. */
  version: string;
  stop(): Promise<void>;
}

const readyTimeoutMs = 10_000;

/** Until this very process answers PING (another could have taken the port); its INFO server section. */
async function waitReady(port: number, child: ChildProcess, output: () => string): Promise<string> {
  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`redis-server exited at start: ${output()}`);
    const info = await redisCommand(port, ['INFO', 'server'], 1000).catch(() => '');
    if (typeof info === 'string' && info.includes(`process_id:${child.pid}\r\n`)) return info;
    if (Date.now() > deadline) throw new Error(`redis-server on port ${port} not ready within ${readyTimeoutMs} ms: ${output()}`);
    await sleep(20);
  }
}

/** Starts redis-server on 127.0.0.1 pinned to `cpu`; resolves once it answers. */
export async function startRedisProcess(cpu: number): Promise<RedisProcess> {
  const binary = redisBinary();
  if (binary === undefined) throw new Error('redis-server not found on PATH (Debian package redis-server)');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'pns-bench-redis-'));
  const port = await freePort();
  const argv = [binary, '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'];
  const { command, args } = pinnedCommand(cpu, argv);
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const killOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);
  let out = '';
  const keep = (chunk: string): void => {
    out = (out + chunk).slice(-4000);
  };
  child.stdout?.setEncoding('utf8').on('data', keep);
  child.stderr?.setEncoding('utf8').on('data', keep);
  const stop = async (): Promise<void> => {
    await stopProcess(child, 'SIGTERM', 5_000);
    process.removeListener('exit', killOnExit);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const info = await waitReady(port, child, () => out);
    const cpus = allowedCpus(child.pid as number);
    if (cpus !== String(cpu)) throw new Error(`redis-server runs on CPUs ${cpus}, not ${cpu}`);
    const version = /^redis_version:(\S+)/m.exec(info)?.[1] ?? 'unknown';
    return { url: `redis://127.0.0.1:${port}`, port, pid: child.pid as number, version, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
