// A long-polling client in Node by the seed webmail client's (PnsModel's) rules: poll again 500 ms after an
// answer and 500 ms after a network error, wait 2 minutes after a server error. Without `useCursor` it is
// the seed's client (`?sid=…&comeFrom=1003`, never a cursor); with it, a client that sends its cursor.
// The browser tests run the seed's own code; this one runs where many clients are needed at once.
import type { PnsMessage, PollResponse } from '@pns/protocol';

export interface HttpPollerOptions {
  url: string;
  sid: string;
  comeFrom?: string;
  /** Send the last answer's cursor with each poll (the seed never does). */
  useCursor?: boolean;
  /** `hold=` seconds (the seed sends none: the server's default). */
  hold?: number;
  /** The seed's 500 ms; tests may shorten it. */
  pollIntervalMs?: number;
  /** The seed's pnsErrorInterval, 2 minutes. */
  serverErrorIntervalMs?: number;
}

export interface HttpPoller {
  /** Every message received, in order, repeats included (the seed keeps none). */
  readonly received: PnsMessage[];
  /** Polls that failed at the network level (connection refused or reset). */
  readonly networkErrors: number;
  /** Answers that were not 200, as `status errorCode`. */
  readonly serverErrors: string[];
  /** How many messages had been received before each answer that said `gap: true`. */
  readonly gaps: number[];
  /** The last answer's cursor. */
  readonly cursor: string | undefined;
  stop(): Promise<void>;
}

export function startHttpPoller(options: HttpPollerOptions): HttpPoller {
  const received: PnsMessage[] = [];
  const serverErrors: string[] = [];
  const gaps: number[] = [];
  let networkErrors = 0;
  let cursor: string | undefined;
  let stopped = false;
  const abort = new AbortController();
  const interval = options.pollIntervalMs ?? 500;
  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      abort.signal.addEventListener('abort', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  const query = new URLSearchParams({ sid: options.sid, comeFrom: options.comeFrom ?? '1003' });
  if (options.hold !== undefined) query.set('hold', String(options.hold));
  const loop = (async () => {
    while (!stopped) {
      let wait = interval;
      try {
        if (options.useCursor && cursor !== undefined) query.set('cursor', cursor);
        const response = await fetch(`${options.url}/pns/poll?${query}`, { signal: abort.signal });
        const text = await response.text();
        if (response.status === 200) {
          const answer = JSON.parse(text) as PollResponse;
          if (answer.gap) gaps.push(received.length);
          received.push(...answer.msg);
          cursor = answer.cursor;
        } else {
          serverErrors.push(`${response.status} ${(JSON.parse(text) as { errorCode?: string }).errorCode ?? ''}`);
          wait = options.serverErrorIntervalMs ?? 120_000;
        }
      } catch {
        if (stopped) break;
        networkErrors++;
      }
      await sleep(wait);
    }
  })();
  return {
    received,
    get networkErrors() {
      return networkErrors;
    },
    serverErrors,
    gaps,
    get cursor() {
      return cursor;
    },
    async stop() {
      stopped = true;
      abort.abort();
      await loop;
    },
  };
}
