/**
 * What the bench's pns subscribers share, whatever their transport (long
 * poll, SSE, WebSocket): the settings a load generator hands them, the token
 * each mints for its user, the query naming its channels, and how they back
 * off after a failure.
 */
import { createToken } from '@pns/publisher';
import type { BenchPayload, LoadContext, SubscriberFactory } from '../target.js';
import { benchTokenTtl, pnsSecret } from './pns-config.js';

/** A poll answer (docs/protocol.md §4): also every WebSocket frame. */
export interface PollAnswer {
  c: number;
  msg: { id: string; data: unknown }[];
  cursor: string;
  gap?: true;
  superseded?: true;
}

export interface PnsClientSettings {
  holdSeconds: number;
  localAddress: string | undefined;
  reportError(kind: string): void;
}

/** One subscriber: its server, its query (`sid=…[&ch=topic:…]`), and where its messages go. */
export interface PnsSubscription {
  server: URL;
  query: string;
  settings: PnsClientSettings;
  onMessage(payload: BenchPayload): void;
}

/** Opens one subscriber; resolves once the server holds its subscription. */
export type OpenSubscriber = (subscription: PnsSubscription) => Promise<{ close(): void }>;

/** 100 ms doubling up to 1 s, with jitter (50–100 %). */
export function backoffMs(failures: number): number {
  return Math.min(1000, 100 * 2 ** (Math.max(1, failures) - 1)) * (0.5 + Math.random() / 2);
}

/** A short kind for an error report: its code (ECONNREFUSED…), or the start of its message. */
export function errorKind(error: Error): string {
  return (error as NodeJS.ErrnoException).code ?? error.message.slice(0, 40);
}

/** `Retry-After` in ms with up to 500 ms of jitter, or undefined when absent. */
export function retryAfterMs(header: string | string[] | undefined): number | undefined {
  const seconds = Number(header);
  return typeof header === 'string' && Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 + Math.random() * 500 : undefined;
}

/** The messages of a poll answer (or WebSocket frame), handed on one by one. */
export function forEachPayload(answer: PollAnswer, onMessage: (payload: BenchPayload) => void): void {
  for (const message of answer.msg) onMessage(message.data as BenchPayload);
}

/**
 * A subscriber factory for one pns transport: each subscriber gets a token for its user (and its topic)
 * signed with the bench's secret, and `open` does the rest.
 */
export function pnsSubscriberFactory(open: OpenSubscriber): SubscriberFactory {
  let settings: PnsClientSettings | undefined;
  const settingsFor = (context: LoadContext): PnsClientSettings => ({
    localAddress: context.localAddress,
    holdSeconds: context.holdSeconds,
    reportError: context.reportError,
  });
  return {
    init(context) {
      settings = settingsFor(context);
    },
    async subscribe(serverUrl, user, topic, onMessage) {
      settings ??= settingsFor({ holdSeconds: 120, reportError: () => {} });
      const sid = await createToken({ secret: pnsSecret, user, topics: topic ? [topic] : [], ttl: benchTokenTtl });
      const query = `sid=${sid}${topic ? `&ch=topic:${topic}` : ''}`;
      return open({ server: new URL(serverUrl), query, settings, onMessage });
    },
  };
}
