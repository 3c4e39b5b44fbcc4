/**
 * The one catalog of errors pns answers with. Every error response is
 * `{"errorCode": CODE, "message": text}` with the status listed here.
 * Clients branch on `errorCode` (and status), never on `message`.
 * Documented in docs/errors.md; keep both in step.
 */
export const errorCatalog = {
  BAD_REQUEST: { status: 400, message: 'The request is malformed.' },
  SESSION_INVALID: { status: 401, message: 'The session token is not valid.' },
  SESSION_EXPIRED: { status: 401, message: 'The session token has expired.' },
  PUBLISH_UNAUTHORIZED: { status: 401, message: 'A valid publish key is required.' },
  ADMIN_UNAUTHORIZED: { status: 401, message: 'A valid admin key is required.' },
  CHANNEL_FORBIDDEN: { status: 403, message: 'The session may not listen to this channel.' },
  NOT_FOUND: { status: 404, message: 'No such resource.' },
  METHOD_NOT_ALLOWED: { status: 405, message: 'This method is not allowed on this resource.' },
  REQUEST_TIMEOUT: { status: 408, message: 'The request was not received in time.' },
  ID_CONFLICT: { status: 409, message: 'This message id was already used for a different message.' },
  PAYLOAD_TOO_LARGE: { status: 413, message: 'The request body is too large.' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'The request body must be application/json.' },
  RATE_LIMITED: { status: 429, message: 'Too many requests; retry after the Retry-After delay.' },
  TOO_MANY_CONNECTIONS: { status: 429, message: 'Too many connections for this user or address; retry later.' },
  HEADERS_TOO_LARGE: { status: 431, message: 'The request line or headers are too large.' },
  INTERNAL_ERROR: { status: 500, message: 'An unexpected error occurred.' },
  BACKEND_UNAVAILABLE: { status: 503, message: 'The message store is unavailable; retry later.' },
  OVERLOADED: { status: 503, message: 'The server is at its connection limit; retry later.' },
  SHUTTING_DOWN: { status: 503, message: 'The server is shutting down; retry on another node.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof errorCatalog;

/** The JSON body of every error response. */
export interface ErrorBody {
  errorCode: ErrorCode;
  message: string;
}

export const errorCodes = Object.keys(errorCatalog) as ErrorCode[];

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(errorCatalog, value);
}

/** An error that maps to one catalog entry. `retryAfter` is in seconds. */
export class PnsError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly retryAfter: number | undefined;

  constructor(code: ErrorCode, message?: string, options?: { retryAfter?: number; cause?: unknown }) {
    super(message ?? errorCatalog[code].message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PnsError';
    this.code = code;
    this.status = errorCatalog[code].status;
    this.retryAfter = options?.retryAfter;
  }

  toBody(): ErrorBody {
    return { errorCode: this.code, message: this.message };
  }
}
