import type { Duplex } from 'node:stream';
import { errorCatalog, isErrorCode, PnsError } from '@pns/protocol';
import { BrokerUnavailableError } from '../broker/broker.js';

/** Seconds a client or publisher is asked to wait when the message store is unavailable. */
export const backendRetryAfterSeconds = 5;

/** Fastify's own error codes, as the catalog names them. */
const fastifyCodes: Record<string, PnsError['code']> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'BAD_REQUEST',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'BAD_REQUEST',
  FST_ERR_CTP_INVALID_JSON_BODY: 'BAD_REQUEST',
  FST_ERR_BAD_URL: 'BAD_REQUEST',
  FST_ERR_ASYNC_CONSTRAINT: 'BAD_REQUEST',
};

/** Statuses a framework or parser may use, mapped to the catalog. */
const byStatus: Record<number, PnsError['code']> = {
  400: 'BAD_REQUEST',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  408: 'REQUEST_TIMEOUT',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  431: 'HEADERS_TOO_LARGE',
};

const clientMessages: Partial<Record<PnsError['code'], string>> = {
  PAYLOAD_TOO_LARGE: errorCatalog.PAYLOAD_TOO_LARGE.message,
  UNSUPPORTED_MEDIA_TYPE: errorCatalog.UNSUPPORTED_MEDIA_TYPE.message,
};

/**
 * Any error, as a catalog error. Parser and framework errors keep a safe
 * message; anything unexpected becomes INTERNAL_ERROR with no detail, so no
 * stack or internal text reaches a client.
 */
export function toPnsError(error: unknown): PnsError {
  if (error instanceof PnsError) return error;
  if (error instanceof BrokerUnavailableError)
    return new PnsError('BACKEND_UNAVAILABLE', undefined, { retryAfter: backendRetryAfterSeconds });
  const { code, statusCode, message } = (error ?? {}) as { code?: unknown; statusCode?: unknown; message?: unknown };
  const mapped =
    (typeof code === 'string' ? fastifyCodes[code] : undefined) ?? (typeof statusCode === 'number' ? byStatus[statusCode] : undefined);
  if (mapped) {
    const text = clientMessages[mapped] ?? (mapped === 'BAD_REQUEST' && typeof message === 'string' ? safeText(message) : undefined);
    return new PnsError(mapped, text);
  }
  if (typeof code === 'string' && isErrorCode(code)) return new PnsError(code);
  return new PnsError('INTERNAL_ERROR');
}

/** Parser messages are useful ("Unexpected token } in JSON at position 7"), but keep them short and single-line. */
function safeText(message: string): string {
  return message.replace(/[\r\n]+/g, ' ').slice(0, 200);
}

/**
 * Writes a catalog error as a whole HTTP answer straight to a socket that has
 * no response object (a request node:http could not parse, CONNECT, a refused
 * upgrade), then closes it. `headers` are added (Allow, CORS).
 */
export function writeRawError(socket: Duplex, error: PnsError, headers: Record<string, string> = {}): void {
  const body = JSON.stringify(error.toBody());
  const lines = [
    `HTTP/1.1 ${error.status} ${error.code}`,
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Cache-Control: no-store',
    ...(error.retryAfter === undefined ? [] : [`Retry-After: ${error.retryAfter}`]),
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
    'Connection: close',
  ];
  socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`);
}
