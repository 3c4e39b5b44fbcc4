/** A failed request: the server's `{ errorCode, message }` when it sent one, else what we could tell. */
export class ApiError extends Error {
  constructor(
    readonly status: number | undefined,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** What to tell the user about a failure: the server's message when it sent one, else `fallback`. */
export function errorText(error: unknown, fallback = 'Something went wrong.'): string {
  return error instanceof ApiError ? error.message : fallback;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/** Reads the error catalog's body if there is one; proxies and crashes answer with anything. */
async function errorFrom(response: Response): Promise<ApiError> {
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    body = undefined;
  }
  const code = isRecord(body) && typeof body.errorCode === 'string' ? body.errorCode : `HTTP_${response.status}`;
  const message = isRecord(body) && typeof body.message === 'string' ? body.message : `The server answered ${response.status}.`;
  return new ApiError(response.status, code, message);
}

export interface RequestOptions {
  method?: 'GET' | 'POST';
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string | undefined;
  /** Sent as JSON. */
  body?: unknown;
  signal?: AbortSignal;
}

/** Fetches JSON from the same origin; throws ApiError for network trouble and non-2xx answers. */
export async function requestJson<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (options.token) headers.Authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['Content-Type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(path, {
      method: options.method ?? 'GET',
      headers,
      body: options.body === undefined ? null : JSON.stringify(options.body),
      cache: 'no-store',
      signal: options.signal ?? null,
    });
  } catch (error) {
    if (error instanceof DOMException && error.name === 'AbortError') throw error;
    throw new ApiError(undefined, 'NETWORK_ERROR', 'The server could not be reached.');
  }
  if (!response.ok) throw await errorFrom(response);
  try {
    return (await response.json()) as T;
  } catch {
    throw new ApiError(response.status, 'BAD_RESPONSE', 'The server sent an answer that is not JSON.');
  }
}
