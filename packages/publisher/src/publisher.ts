import { randomUUID } from 'node:crypto';
import { type ErrorBody, isErrorCode, type MessageType, type PublishMessage, type PublishResponse } from '@pns/protocol';

export interface PublisherOptions {
  /** The server's base URL, e.g. `http://127.0.0.1:7070`. */
  url: string;
  /** The server's publish key (`PNS_PUBLISH_KEY`). */
  publishKey: string;
  /** Retries after a network error, a timeout, a 429 or a 5xx. Default 3. */
  retries?: number;
  /** First retry delay in ms, doubled each time (with jitter), capped by `maxRetryDelayMs`. Default 200. */
  retryDelayMs?: number;
  maxRetryDelayMs?: number;
  /** Per-attempt timeout in ms. Default 10 000. */
  timeoutMs?: number;
}

export interface PublishOptions {
  /** Your id for the message; one is generated when absent. Retries reuse it, so they are idempotent. */
  id?: string;
  /** Seconds to keep the message for clients not connected right now (server default otherwise). */
  ttl?: number;
}

/** A publish that failed for good. `code` is the server's `errorCode`, or NETWORK_ERROR when no answer came. */
export class PublishError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number | undefined,
  ) {
    super(message);
    this.name = 'PublishError';
  }
}

const retriableStatuses = new Set([429, 502, 503, 504]);

/**
 * Publishes to pns over HTTP. Every message carries an id before the first
 * attempt, so a retry after a lost answer never stores a message twice.
 */
export class Publisher {
  private readonly options: Required<PublisherOptions>;
  private readonly endpoint: string;

  constructor(options: PublisherOptions) {
    this.options = { retries: 3, retryDelayMs: 200, maxRetryDelayMs: 10_000, timeoutMs: 10_000, ...options };
    this.endpoint = new URL('/pns/publish', options.url).toString();
  }

  /** Publishes one message; resolves with its id once the server has stored it. */
  async publish(to: string | string[], type: MessageType, data?: unknown, options: PublishOptions = {}): Promise<string> {
    const [id] = await this.publishBatch([{ to, type, data, ...options }]);
    return id as string;
  }

  /** Publishes several messages at once: all are stored, or (on a 4xx) none is. Resolves with their ids. */
  async publishBatch(messages: PublishMessage[]): Promise<string[]> {
    const body = JSON.stringify(messages.map((message) => ({ ...message, id: message.id ?? randomUUID() })));
    let attempt = 0;
    for (;;) {
      const outcome = await this.attempt(body);
      if ('ids' in outcome) return outcome.ids;
      if (!outcome.retriable || attempt >= this.options.retries) throw outcome.error;
      const backoff = Math.min(this.options.maxRetryDelayMs, this.options.retryDelayMs * 2 ** attempt);
      const delay = outcome.retryAfterMs ?? backoff / 2 + Math.random() * (backoff / 2);
      await new Promise((resolve) => setTimeout(resolve, Math.min(delay, this.options.maxRetryDelayMs)));
      attempt++;
    }
  }

  private async attempt(
    body: string,
  ): Promise<PublishResponse | { error: PublishError; retriable: boolean; retryAfterMs: number | undefined }> {
    let response: Response;
    try {
      response = await fetch(this.endpoint, {
        method: 'POST',
        headers: { authorization: `Bearer ${this.options.publishKey}`, 'content-type': 'application/json' },
        body,
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      return { error: new PublishError('NETWORK_ERROR', `publish failed: ${reason}`, undefined), retriable: true, retryAfterMs: undefined };
    }
    const text = await response.text().catch(() => '');
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (response.ok && json && Array.isArray((json as PublishResponse).ids)) return json as PublishResponse;
    const errorBody = json as Partial<ErrorBody> | undefined;
    const code = isErrorCode(errorBody?.errorCode) ? errorBody.errorCode : `HTTP_${response.status}`;
    const retryAfter = Number(response.headers.get('retry-after'));
    return {
      error: new PublishError(code, errorBody?.message ?? `publish failed with HTTP ${response.status}`, response.status),
      retriable: response.status >= 500 || retriableStatuses.has(response.status),
      retryAfterMs: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined,
    };
  }
}

export function createPublisher(options: PublisherOptions): Publisher {
  return new Publisher(options);
}
