import type { StatsAnswer } from './types.js';

export type StatsResult = { kind: 'ok'; stats: StatsAnswer } | { kind: 'unauthorized' } | { kind: 'down'; reason: string };

/** A poll that hangs this long counts as down, so the page says so instead of freezing. */
const timeoutMs = 5000;

function isStats(value: unknown): value is StatsAnswer {
  if (typeof value !== 'object' || value === null) return false;
  const stats = value as Partial<StatsAnswer>;
  return typeof stats.at === 'number' && Array.isArray(stats.nodes) && typeof stats.total === 'object' && stats.total !== null;
}

/** One sample of `GET /pns/admin/stats`; never throws, so the poll loop only has outcomes to handle. */
export async function fetchStats(key: string | null): Promise<StatsResult> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    const response = await fetch('/pns/admin/stats', {
      headers: key ? { Accept: 'application/json', Authorization: `Bearer ${key}` } : { Accept: 'application/json' },
      cache: 'no-store',
      signal: controller.signal,
    });
    if (response.status === 401) return { kind: 'unauthorized' };
    if (!response.ok) return { kind: 'down', reason: `the server answered ${response.status}` };
    const body: unknown = await response.json();
    return isStats(body) ? { kind: 'ok', stats: body } : { kind: 'down', reason: 'the answer is not a stats sample' };
  } catch {
    return { kind: 'down', reason: controller.signal.aborted ? 'no answer within 5 s' : 'the server cannot be reached' };
  } finally {
    clearTimeout(timer);
  }
}
