import { PnsError } from '@pns/protocol';

/** What admission depends on: the node's state right now. */
export interface AdmissionState {
  isDraining(): boolean;
  openConnections(): number;
  maxConnections: number;
}

/** Removes the `sid` (a session token) from a URL before it is logged. */
export function redactUrl(url: string): string {
  return url.replace(/([?&]sid=)[^&]*/g, '$1[redacted]');
}

/**
 * Why a request is refused before any route runs, if it is: a missing Host,
 * a draining node, too many connections (`exempt`: the ops routes, which
 * answer even then). The same rules for every route, whichever HTTP layer
 * serves it.
 */
export function admissionRefusal(
  request: { httpVersion: string; headers: { host?: string | undefined } },
  state: AdmissionState,
  exempt: 'always' | 'from the connection cap' | undefined = undefined,
): PnsError | undefined {
  if (request.httpVersion === '1.1' && request.headers.host === undefined) {
    return new PnsError('BAD_REQUEST', 'An HTTP/1.1 request needs a Host header.');
  }
  if (exempt === 'always') return undefined;
  // Short, spread out: a draining node is not a failing one.
  if (state.isDraining()) return new PnsError('SHUTTING_DOWN', undefined, { retryAfter: 1 + Math.floor(Math.random() * 5) });
  if (exempt !== 'from the connection cap' && state.openConnections() > state.maxConnections) {
    return new PnsError('OVERLOADED', undefined, { retryAfter: 5 + Math.floor(Math.random() * 11) });
  }
  return undefined;
}

/** Refusals that end the connection too, so the client reconnects elsewhere or later. */
export function closesConnection(error: PnsError): boolean {
  return error.code === 'SHUTTING_DOWN' || error.code === 'OVERLOADED';
}

/** Server errors worth an error log line; refusals by design are not. */
export function isUnexpected(error: PnsError): boolean {
  return error.status >= 500 && !closesConnection(error);
}

/** The level of a request's log line: polls are the bulk of traffic and log at debug. */
export function requestLogLevel(status: number, isPoll: boolean): 'warn' | 'info' | 'debug' {
  return status >= 500 ? 'warn' : isPoll ? 'debug' : 'info';
}

/** Refuses a body that is not JSON (`application/json`, parameters allowed) with UNSUPPORTED_MEDIA_TYPE. */
export function requireJsonBody(contentType: string | undefined): void {
  if (!/^application\/json\s*(;|$)/i.test(contentType ?? '')) throw new PnsError('UNSUPPORTED_MEDIA_TYPE');
}
