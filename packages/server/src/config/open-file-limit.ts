import { readFileSync } from 'node:fs';

/** Descriptors kept back from the connection cap for logs, the broker, and sockets being refused. */
export const descriptorReserve = 256;

/** The process's soft open-file limit (Linux), or undefined where it cannot be read. */
export function readOpenFileLimit(limitsPath = '/proc/self/limits'): number | undefined {
  try {
    const line = readFileSync(limitsPath, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = line?.split(/\s{2,}/)[1];
    const value = Number(soft);
    return Number.isSafeInteger(value) && value > 0 ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Cap on open connections for an open-file limit: the limit less a reserve, so the next client gets a 503, not a reset. */
export function maxConnectionsFor(limit: number | undefined): number {
  if (limit === undefined) return 10_000;
  return Math.max(16, limit - descriptorReserve);
}

export function defaultMaxConnections(): number {
  return maxConnectionsFor(readOpenFileLimit());
}
