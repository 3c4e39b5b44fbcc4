// What the parts of the Broker conformance suite share: its limits, small helpers, and the per-suite context
// (the broker under test, and names and messages unique to each test and each run).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { StreamPosition } from '@pns/protocol';
import type { Broker, BrokerEntry, PublishEvent, PublishedEntry, PublishRequest, ReadResult } from '../../src/broker/broker.js';

/** The retention every factory must configure: the suite publishes past it to see trimming. */
export const retentionCount = 5;

/** Most entries the suite ever reads at once (more than it ever publishes to one channel). */
export const readAllLimit = 100;

/** Resolves after `ms`. */
export const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns true; throws after `timeoutMs`. Listeners may be told asynchronously (Redis pub/sub). */
export async function waitUntil(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(2);
  }
}

export function ids(result: ReadResult): string[] {
  return result.entries.map((entry) => entry.message.id);
}

export function entryFor(event: PublishEvent, channel: string): PublishedEntry {
  const entry = event.entries.find((published) => published.channel === channel);
  assert.ok(entry, `event has no entry for ${channel}`);
  return entry;
}

/** One run of the suite against one broker. */
export interface Conformance {
  /** The broker under test (the suite's `before` makes it; read it inside a test, not while declaring one). */
  readonly broker: Broker;
  /** A channel name no other test (or earlier run) uses. */
  channel(label: string): string;
  /** A message id no other test (or earlier run) uses. */
  messageId(label: string): string;
  /** A valid publish request for `channels` with fresh content, `fields` overriding. */
  message(channels: string[], fields?: Partial<PublishRequest>): PublishRequest;
  /** Publishes one new message and answers its id. */
  publishOne(channels: string[], fields?: Partial<PublishRequest>): Promise<string>;
  /** The one entry after `from` in `ch` (`from` being the head just before one publish). */
  onlyEntry(ch: string, from: StreamPosition): Promise<BrokerEntry>;
  listen(ch: string): { events: PublishEvent[]; unsubscribe: () => void };
  /**
   * Publishes a sentinel to `ch` and waits until `events` has it: anything the
   * broker was going to tell that listener before the sentinel has been told.
   */
  flush(ch: string, events: PublishEvent[]): Promise<string>;
}

/** The context of one suite run; `broker` answers the broker under test once the suite has made it. */
export function createConformance(broker: () => Broker): Conformance {
  const run = randomBytes(6).toString('hex');
  let counter = 0;

  function message(channels: string[], fields: Partial<PublishRequest> = {}): PublishRequest {
    const n = ++counter;
    return {
      channels,
      type: 70,
      dataJson: JSON.stringify({ n }),
      ttlSeconds: 300,
      id: undefined,
      scope: 'publisher-a',
      fingerprint: `fingerprint-${n}`,
      ...fields,
    };
  }

  async function publishOne(channels: string[], fields: Partial<PublishRequest> = {}): Promise<string> {
    const [outcome] = await broker().publish([message(channels, fields)]);
    assert.ok(outcome);
    assert.equal(outcome.duplicate, false);
    return outcome.id;
  }

  return {
    get broker() {
      return broker();
    },
    channel: (label) => `topic:conformance.${run}.${++counter}.${label}`,
    messageId: (label) => `conformance-${run}-${++counter}-${label}`,
    message,
    publishOne,
    async onlyEntry(ch, from) {
      const result = await broker().read(ch, from, readAllLimit);
      assert.equal(result.entries.length, 1);
      return result.entries[0] as BrokerEntry;
    },
    listen(ch) {
      const events: PublishEvent[] = [];
      const unsubscribe = broker().subscribe(ch, (event) => events.push(event));
      return { events, unsubscribe };
    },
    async flush(ch, events) {
      const sentinel = await publishOne([ch]);
      await waitUntil(() => events.some((event) => event.message.id === sentinel), 'the sentinel publish');
      return sentinel;
    },
  };
}
