import type { DashboardSnapshot } from '@pns/protocol';
import { ApiError, requestJson } from '../shared/http.js';

export type StatsResult = { kind: 'ok'; stats: DashboardSnapshot } | { kind: 'unauthorized' } | { kind: 'down'; reason: string };

/** A poll that hangs this long counts as down, so the page says so instead of freezing. */
const timeoutMs = 5000;

function isStats(value: unknown): value is DashboardSnapshot {
  if (typeof value !== 'object' || value === null) return false;
  const stats = value as Partial<DashboardSnapshot>;
  return typeof stats.at === 'number' && Array.isArray(stats.nodes) && typeof stats.total === 'object' && stats.total !== null;
}

function downReason(error: unknown, timedOut: boolean): string {
  if (timedOut) return `no answer within ${timeoutMs / 1000} s`;
  // A 2xx that is not JSON counts as unreachable, like network trouble.
  if (error instanceof ApiError && error.status !== undefined && error.code !== 'BAD_RESPONSE')
    return `the server answered ${error.status}`;
  return 'the server cannot be reached';
}

/** One sample of `GET /pns/admin/stats`; never throws, so the poll loop only has outcomes to handle. */
export async function fetchStats(key: string | null): Promise<StatsResult> {
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const body = await requestJson<unknown>('/pns/admin/stats', { token: key ?? undefined, signal });
    return isStats(body) ? { kind: 'ok', stats: body } : { kind: 'down', reason: 'the answer is not a stats sample' };
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return { kind: 'unauthorized' };
    return { kind: 'down', reason: downReason(error, signal.aborted) };
  }
}
