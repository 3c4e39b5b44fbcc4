import type { PollResponse } from '@pns/protocol';
import { type PollOutcome, parseRetryAfter } from './retry-policy.js';

/** An error the client reports: the server's `errorCode`, or `NETWORK_ERROR` / `HTTP_<status>` when pns did not answer. */
export interface PnsClientError {
  code: string;
  status: number | undefined;
  message: string;
}

export interface PollRequest {
  /** The server's base URL, without a trailing slash. */
  url: string;
  sid: string;
  comeFrom: string | undefined;
  channels: readonly string[];
  cursor: string | undefined;
  holdSeconds: number;
  /** Added to the hold for the client-side timeout, so a healthy hold never counts as a failure. */
  timeoutMarginMs: number;
  /** How long to wait when the answer says another poll of the session superseded this one: a full hold. */
  supersededWaitMs: number;
  fetch: typeof fetch;
  signal: AbortSignal;
}

/** What one poll came to: the outcome for the retry policy, and the answer or the error behind it. */
export interface PollResult {
  outcome: PollOutcome;
  answer?: PollResponse;
  error?: PnsClientError;
}

/** One `GET /pns/poll`, read whole; never throws. */
export async function requestPoll(request: PollRequest): Promise<PollResult> {
  const query = new URLSearchParams({ sid: request.sid, hold: String(request.holdSeconds) });
  if (request.comeFrom !== undefined) query.set('comeFrom', request.comeFrom);
  if (request.cursor !== undefined) query.set('cursor', request.cursor);
  for (const channel of request.channels) query.append('ch', channel);
  const controller = new AbortController();
  const abort = (): void => controller.abort();
  request.signal.addEventListener('abort', abort);
  const timer = setTimeout(abort, request.holdSeconds * 1000 + request.timeoutMarginMs);
  try {
    const response = await request.fetch(`${request.url}/pns/poll?${query}`, {
      signal: controller.signal,
      cache: 'no-store',
      credentials: 'omit',
    });
    const text = await response.text();
    const retryAfterMs = parseRetryAfter(response.headers.get('retry-after'));
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    const errorCode = (body as { errorCode?: unknown } | undefined)?.errorCode;
    if (response.ok && body && typeof (body as PollResponse).cursor === 'string') {
      const answer = body as PollResponse;
      return { outcome: { kind: 'answer', superseded: answer.superseded === true, holdMs: request.supersededWaitMs }, answer };
    }
    if (typeof errorCode === 'string') {
      const error = { code: errorCode, status: response.status, message: String((body as { message?: unknown }).message ?? '') };
      if (response.status === 408) return { outcome: { kind: 'network', retryAfterMs }, error };
      return { outcome: { kind: 'error', status: response.status, code: errorCode, retryAfterMs }, error };
    }
    const error = { code: `HTTP_${response.status}`, status: response.status, message: `HTTP ${response.status} without a pns error body` };
    // A proxy or load balancer answered, not pns: 5xx (502/503/504…) and 408 are network trouble.
    if (response.status >= 500 || response.status === 408 || response.ok) return { outcome: { kind: 'network', retryAfterMs }, error };
    return { outcome: { kind: 'error', status: response.status, code: error.code, retryAfterMs }, error };
  } catch (error) {
    return {
      outcome: { kind: 'network', retryAfterMs: undefined },
      error: { code: 'NETWORK_ERROR', status: undefined, message: String(error) },
    };
  } finally {
    clearTimeout(timer);
    request.signal.removeEventListener('abort', abort);
  }
}
