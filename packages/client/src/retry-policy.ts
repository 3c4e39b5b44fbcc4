/** Every wait the client makes, in milliseconds. Each one is an option of `PnsClient`. */
export interface RetryOptions {
  /** After a good answer. 0: the cursor makes polling again at once safe (the seed waited 500 ms). */
  pollDelayMs: number;
  /** First wait after a network error or client-side timeout (the seed's rule: 500 ms). */
  retryBaseMs: number;
  /** Most a wait after consecutive network errors can grow to. */
  retryCapMs: number;
  /** After a pns error answer (5xx with an `errorCode`) that gives no Retry-After: the seed's 2 minutes. */
  serverErrorDelayMs: number;
}

export const defaultRetryOptions: RetryOptions = {
  pollDelayMs: 0,
  retryBaseMs: 500,
  retryCapMs: 30_000,
  serverErrorDelayMs: 120_000,
};

/** What one poll came to, as far as the retry policy cares. */
export type PollOutcome =
  | { kind: 'answer'; superseded: boolean; holdMs: number }
  /** No usable answer: network error, client-side timeout, or a proxy's 502/503/504 or non-JSON answer. */
  | { kind: 'network'; retryAfterMs: number | undefined }
  /** An error answer from pns: `{errorCode}` with its status. */
  | { kind: 'error'; status: number; code: string; retryAfterMs: number | undefined };

export type Decision =
  | { kind: 'poll'; delayMs: number }
  | { kind: 'stop'; reason: 'session' | 'fatal' }
  /** Ask the application for a fresh token, then poll at once. */
  | { kind: 'refresh' };

const sessionCodes = new Set(['SESSION_EXPIRED', 'SESSION_INVALID']);

/**
 * The wait after the n-th network failure in a row: about the base the first
 * time (the seed's 500 ms, spread over half a base so clients cut off
 * together do not return together), then spread evenly between the base and
 * a doubling wait capped at `retryCapMs` (jitter after the cap, so clients at
 * the cap do not synchronise either).
 */
export function networkDelay(failures: number, options: RetryOptions, random: () => number = Math.random): number {
  const base = options.retryBaseMs;
  const top = failures <= 1 ? base * 1.5 : Math.min(options.retryCapMs, base * 2 ** (failures - 1));
  return Math.round(base + random() * Math.max(0, top - base));
}

/**
 * The retry policy. `failures` counts consecutive network failures including
 * this one; `canRefresh` says whether a session error may still be cured by
 * asking for a fresh token (once).
 */
export function decide(
  outcome: PollOutcome,
  state: { failures: number; canRefresh: boolean },
  options: RetryOptions,
  random: () => number = Math.random,
): Decision {
  switch (outcome.kind) {
    case 'answer':
      // Superseded: another poll of this session is active; waiting one hold stops tabs evicting each other in a loop.
      return { kind: 'poll', delayMs: outcome.superseded ? outcome.holdMs : options.pollDelayMs };
    case 'network':
      return { kind: 'poll', delayMs: Math.max(outcome.retryAfterMs ?? 0, networkDelay(state.failures, options, random)) };
    case 'error':
      if (sessionCodes.has(outcome.code)) return state.canRefresh ? { kind: 'refresh' } : { kind: 'stop', reason: 'session' };
      if (outcome.status >= 500 || outcome.status === 429) {
        // A server that says when to come back (a draining node says 1–5 s) is believed, but never
        // sooner than the base wait; otherwise it may be recovering, and that takes time (the seed's 2 minutes).
        const delayMs =
          outcome.retryAfterMs === undefined ? options.serverErrorDelayMs : Math.max(options.retryBaseMs, outcome.retryAfterMs);
        return { kind: 'poll', delayMs };
      }
      return { kind: 'stop', reason: 'fatal' }; // 400, 403, 404, 413…: the same request would fail again
  }
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(header: string | null, now = Date.now()): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  if (/^\s*\d+\s*$/.test(header)) return Number(header) * 1000;
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
