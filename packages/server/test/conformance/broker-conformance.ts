import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { StreamPosition } from '@pns/protocol';
import type { Broker, BrokerEntry, PublishEvent, PublishedEntry, PublishRequest, ReadResult } from '../../src/broker/broker.js';

/** The retention every factory must configure: the suite publishes past it to see trimming. */
const retentionCount = 5;

/** Most entries the suite ever reads at once (more than it ever publishes to one channel). */
const readAllLimit = 100;

/** Resolves after `ms`. */
const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns true; throws after `timeoutMs`. Listeners may be told asynchronously (Redis pub/sub). */
async function waitUntil(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(2);
  }
}

function ids(result: ReadResult): string[] {
  return result.entries.map((entry) => entry.message.id);
}

function entryFor(event: PublishEvent, channel: string): PublishedEntry {
  const entry = event.entries.find((published) => published.channel === channel);
  assert.ok(entry, `event has no entry for ${channel}`);
  return entry;
}

/**
 * The contract of `Broker` (src/broker/broker.ts), shared by every
 * implementation: each broker's test file calls this once with a factory.
 *
 * Requirements on `factory`:
 * - the broker it gives MUST be configured with `retentionCount` 5 (messages
 *   kept per channel) and a memory budget large enough that nothing is
 *   evicted by size while the suite runs (a few hundred small messages);
 * - it runs on the real clock: one test waits about 1.1 s for a 1 s ttl;
 * - `cleanup` closes the broker and releases whatever the factory opened.
 *
 * The suite uses one broker for all its tests, with channel names and
 * message ids unique to each test and each run, so it can run against a
 * store that outlives the process (Redis) without resetting it.
 */
export function brokerConformance(name: string, factory: () => Promise<{ broker: Broker; cleanup: () => Promise<void> }>): void {
  describe(`${name} (Broker contract)`, { timeout: 60_000 }, () => {
    const run = randomBytes(6).toString('hex');
    let counter = 0;
    let broker: Broker;
    let cleanup: (() => Promise<void>) | undefined;

    /** A channel name no other test (or earlier run) uses. */
    const channel = (label: string): string => `topic:conformance.${run}.${++counter}.${label}`;
    /** A message id no other test (or earlier run) uses. */
    const messageId = (label: string): string => `conformance-${run}-${++counter}-${label}`;

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
      const [outcome] = await broker.publish([message(channels, fields)]);
      assert.ok(outcome);
      assert.equal(outcome.duplicate, false);
      return outcome.id;
    }

    /** The one entry after `from` in `ch` (`from` being the head just before one publish). */
    async function onlyEntry(ch: string, from: StreamPosition): Promise<BrokerEntry> {
      const result = await broker.read(ch, from, readAllLimit);
      assert.equal(result.entries.length, 1);
      return result.entries[0] as BrokerEntry;
    }

    function listen(ch: string): { events: PublishEvent[]; unsubscribe: () => void } {
      const events: PublishEvent[] = [];
      const unsubscribe = broker.subscribe(ch, (event) => events.push(event));
      return { events, unsubscribe };
    }

    /**
     * Publishes a sentinel to `ch` and waits until `events` has it: anything the
     * broker was going to tell that listener before the sentinel has been told.
     */
    async function flush(ch: string, events: PublishEvent[]): Promise<string> {
      const sentinel = await publishOne([ch]);
      await waitUntil(() => events.some((event) => event.message.id === sentinel), 'the sentinel publish');
      return sentinel;
    }

    const isConflict = (error: unknown): boolean => (error as { code?: unknown }).code === 'ID_CONFLICT';

    before(async () => {
      const made = await factory();
      broker = made.broker;
      cleanup = made.cleanup;
    });

    after(async () => {
      await cleanup?.();
    });

    describe('#publish', () => {
      it('stores a message that a read from the earlier head returns', async () => {
        const ch = channel('publish');
        const start = await broker.head(ch);
        const [outcome] = await broker.publish([message([ch], { type: 'mail', dataJson: '{"subject":"hi"}' })]);
        assert.ok(outcome);
        assert.equal(outcome.duplicate, false);
        const result = await broker.read(ch, start, readAllLimit);
        assert.equal(result.gap, false);
        assert.equal(result.more, false);
        assert.deepEqual(result.from, start);
        assert.equal(result.entries.length, 1);
        const entry = result.entries[0] as BrokerEntry;
        assert.equal(entry.channel, ch);
        assert.equal(entry.message.id, outcome.id);
        assert.equal(entry.message.type, 'mail');
        assert.equal(entry.message.dataJson, '{"subject":"hi"}');
        assert.ok(Number.isFinite(entry.message.ts) && entry.message.ts > 0);
        assert.deepEqual(result.to, entry.position);
        assert.deepEqual(result.to, await broker.head(ch));
      });

      it('makes up a distinct id for each message published without one', async () => {
        const ch = channel('generated-ids');
        const outcomes = await broker.publish([message([ch]), message([ch])]);
        assert.equal(outcomes.length, 2);
        const [first, second] = outcomes.map((outcome) => outcome.id);
        assert.ok(first && first.length > 0);
        assert.ok(second && second.length > 0);
        assert.notEqual(first, second);
      });

      it('keeps the publisher-chosen id', async () => {
        const ch = channel('chosen-id');
        const start = await broker.head(ch);
        const id = messageId('chosen');
        assert.deepEqual(await broker.publish([message([ch], { id })]), [{ id, duplicate: false }]);
        assert.equal((await onlyEntry(ch, start)).message.id, id);
      });

      it('stores a message sent to several channels once in each, with equal order and id', async () => {
        const channels = [channel('multi-a'), channel('multi-b'), channel('multi-c')];
        const starts = await Promise.all(channels.map((ch) => broker.head(ch)));
        const id = await publishOne(channels, { dataJson: '[1,2,3]' });
        const entries = await Promise.all(channels.map((ch, index) => onlyEntry(ch, starts[index] as StreamPosition)));
        const [first] = entries as [BrokerEntry];
        entries.forEach((entry, index) => {
          assert.equal(entry.channel, channels[index]);
          assert.equal(entry.message.id, id);
          assert.equal(entry.order, first.order);
          assert.deepEqual(entry.message, first.message);
        });
      });

      it('stores every message of a batch, answering one outcome per message in order', async () => {
        const channels = [channel('batch-a'), channel('batch-b'), channel('batch-c')];
        const starts = await Promise.all(channels.map((ch) => broker.head(ch)));
        const chosen = messageId('batch');
        const outcomes = await broker.publish(channels.map((ch, index) => message([ch], index === 1 ? { id: chosen } : {})));
        assert.equal(outcomes.length, 3);
        assert.equal(outcomes[1]?.id, chosen);
        assert.ok(outcomes.every((outcome) => !outcome.duplicate));
        const entries = await Promise.all(channels.map((ch, index) => onlyEntry(ch, starts[index] as StreamPosition)));
        assert.deepEqual(
          entries.map((entry) => entry.message.id),
          outcomes.map((outcome) => outcome.id),
        );
        // Readers merge channels by order: a batch keeps its own order.
        assert.ok((entries[0] as BrokerEntry).order < (entries[1] as BrokerEntry).order);
        assert.ok((entries[1] as BrokerEntry).order < (entries[2] as BrokerEntry).order);
      });

      it('answers a retry with the same id, scope and fingerprint as a duplicate without storing it again', async () => {
        const ch = channel('idempotent');
        const id = messageId('retry');
        const start = await broker.head(ch);
        const { events, unsubscribe } = listen(ch);
        try {
          const request = message([ch], { id, fingerprint: 'same-content' });
          assert.deepEqual(await broker.publish([request]), [{ id, duplicate: false }]);
          const headAfterFirst = await broker.head(ch);
          assert.deepEqual(await broker.publish([{ ...request }]), [{ id, duplicate: true }]);
          assert.deepEqual(await broker.head(ch), headAfterFirst);
          assert.deepEqual(ids(await broker.read(ch, start, readAllLimit)), [id]);
          await flush(ch, events);
          assert.equal(events.filter((event) => event.message.id === id).length, 1);
        } finally {
          unsubscribe();
        }
      });

      it('stores the new messages of a batch that also retries an earlier one', async () => {
        const ch = channel('mixed-batch');
        const id = messageId('earlier');
        const earlier = message([ch], { id });
        await broker.publish([earlier]);
        const start = await broker.head(ch);
        const outcomes = await broker.publish([earlier, message([ch])]);
        assert.equal(outcomes.length, 2);
        assert.deepEqual(outcomes[0], { id, duplicate: true });
        assert.equal(outcomes[1]?.duplicate, false);
        assert.deepEqual(ids(await broker.read(ch, start, readAllLimit)), [outcomes[1]?.id]);
      });

      it('still answers a retry as a duplicate after the message was trimmed by the retention count', async () => {
        const ch = channel('idempotent-trimmed');
        const id = messageId('trimmed');
        const request = message([ch], { id });
        await broker.publish([request]);
        for (let i = 0; i < retentionCount + 5; i++) await publishOne([ch]);
        const head = await broker.head(ch);
        assert.deepEqual(await broker.publish([request]), [{ id, duplicate: true }]);
        assert.deepEqual(await broker.head(ch), head);
        const result = await broker.read(ch, head, readAllLimit);
        assert.deepEqual(result.entries, []);
      });

      it('rejects the whole batch with ID_CONFLICT when an id comes back with another fingerprint', async () => {
        const ch = channel('conflict-fingerprint');
        const id = messageId('taken');
        await broker.publish([message([ch], { id, fingerprint: 'original' })]);
        const start = await broker.head(ch);
        const { events, unsubscribe } = listen(ch);
        try {
          const innocent = messageId('innocent');
          const batch = [message([ch], { id: innocent }), message([ch], { id, fingerprint: 'changed' }), message([ch])];
          await assert.rejects(broker.publish(batch), isConflict);
          assert.deepEqual((await broker.read(ch, start, readAllLimit)).entries, []);
          await flush(ch, events);
          assert.equal(events.length, 1, 'only the sentinel was told');
          // Nothing of the batch was remembered either: its other id is still free.
          assert.deepEqual(await broker.publish([message([ch], { id: innocent, fingerprint: 'other' })]), [
            { id: innocent, duplicate: false },
          ]);
        } finally {
          unsubscribe();
        }
      });

      it('rejects the whole batch with ID_CONFLICT when an id comes back from another scope', async () => {
        const ch = channel('conflict-scope');
        const id = messageId('scoped');
        await broker.publish([message([ch], { id, scope: 'publisher-a', fingerprint: 'same' })]);
        const start = await broker.head(ch);
        const other = channel('conflict-scope-other');
        const otherStart = await broker.head(other);
        await assert.rejects(
          broker.publish([message([ch], { id, scope: 'publisher-b', fingerprint: 'same' }), message([other])]),
          isConflict,
        );
        assert.deepEqual((await broker.read(ch, start, readAllLimit)).entries, []);
        assert.deepEqual((await broker.read(other, otherStart, readAllLimit)).entries, []);
      });

      it('rejects a batch that uses one new id for two different messages, storing neither', async () => {
        const ch = channel('conflict-in-batch');
        const id = messageId('twice');
        const start = await broker.head(ch);
        await assert.rejects(
          broker.publish([message([ch], { id, fingerprint: 'first' }), message([ch], { id, fingerprint: 'second' })]),
          isConflict,
        );
        assert.deepEqual((await broker.read(ch, start, readAllLimit)).entries, []);
        assert.deepEqual(await broker.publish([message([ch], { id, fingerprint: 'third' })]), [{ id, duplicate: false }]);
      });
    });

    describe('#read', () => {
      it('returns nothing and no gap from the head', async () => {
        const ch = channel('empty');
        await publishOne([ch]);
        const head = await broker.head(ch);
        const result = await broker.read(ch, head, readAllLimit);
        assert.deepEqual(result.entries, []);
        assert.equal(result.gap, false);
        assert.equal(result.more, false);
        assert.deepEqual(result.to, head);
      });

      it('returns nothing and no gap from the head of a channel never published to', async () => {
        const ch = channel('never');
        const head = await broker.head(ch);
        const result = await broker.read(ch, head, readAllLimit);
        assert.deepEqual(result.entries, []);
        assert.equal(result.gap, false);
        assert.equal(result.more, false);
      });

      it('returns entries in publish order, resuming exactly after any entry position', async () => {
        const ch = channel('order');
        const start = await broker.head(ch);
        const published: string[] = [];
        for (let i = 0; i < retentionCount; i++) published.push(await publishOne([ch]));
        const all = await broker.read(ch, start, readAllLimit);
        assert.deepEqual(ids(all), published);
        assert.equal(all.gap, false);
        for (let k = 1; k < all.entries.length; k++) {
          assert.ok((all.entries[k] as BrokerEntry).order > (all.entries[k - 1] as BrokerEntry).order, 'order increases');
        }
        for (let k = 0; k < all.entries.length; k++) {
          const position = (all.entries[k] as BrokerEntry).position;
          const rest = await broker.read(ch, position, readAllLimit);
          assert.deepEqual(ids(rest), published.slice(k + 1), `after entry ${k}`);
          assert.equal(rest.gap, false);
          assert.deepEqual(rest.from, position);
        }
      });

      it('returns at most `limit` entries, with `more` and `to` at the last one when more remain', async () => {
        const ch = channel('limit');
        const start = await broker.head(ch);
        const published: string[] = [];
        for (let i = 0; i < 4; i++) published.push(await publishOne([ch]));
        const first = await broker.read(ch, start, 2);
        assert.deepEqual(ids(first), published.slice(0, 2));
        assert.equal(first.more, true);
        assert.deepEqual(first.to, (first.entries[1] as BrokerEntry).position);
        const second = await broker.read(ch, first.to, 2);
        assert.deepEqual(ids(second), published.slice(2));
        assert.equal(second.more, false);
        assert.deepEqual(second.to, await broker.head(ch));
        const exact = await broker.read(ch, start, 4);
        assert.equal(exact.entries.length, 4);
        assert.equal(exact.more, false);
      });

      it('reports a gap to a reader behind the retention count and returns what is retained', async () => {
        const ch = channel('retention');
        const start = await broker.head(ch);
        const published: string[] = [];
        const positions: StreamPosition[] = [];
        for (let i = 0; i < retentionCount + 3; i++) {
          const previousHead = await broker.head(ch);
          published.push(await publishOne([ch]));
          positions.push((await onlyEntry(ch, previousHead)).position);
        }
        const retained = published.slice(-retentionCount);
        const fromStart = await broker.read(ch, start, readAllLimit);
        assert.equal(fromStart.gap, true);
        assert.deepEqual(ids(fromStart), retained);
        const fromTrimmed = await broker.read(ch, positions[1] as StreamPosition, readAllLimit);
        assert.equal(fromTrimmed.gap, true);
        assert.deepEqual(ids(fromTrimmed), retained);
        // A reader that saw the last trimmed entry missed nothing.
        const fromLastTrimmed = await broker.read(ch, positions[2] as StreamPosition, readAllLimit);
        assert.equal(fromLastTrimmed.gap, false);
        assert.deepEqual(ids(fromLastTrimmed), retained);
      });

      it('reports a gap to a reader before a message whose ttl ran out', async () => {
        const ch = channel('ttl');
        const start = await broker.head(ch);
        const shortLived = await publishOne([ch], { ttlSeconds: 1 });
        const longLived = await publishOne([ch], { ttlSeconds: 300 });
        const shortPosition = (await broker.read(ch, start, 1)).entries[0]?.position;
        assert.ok(shortPosition);
        assert.deepEqual(ids(await broker.read(ch, start, readAllLimit)), [shortLived, longLived]);
        await delay(1100);
        const result = await broker.read(ch, start, readAllLimit);
        assert.equal(result.gap, true);
        assert.deepEqual(ids(result), [longLived]);
        const fromShort = await broker.read(ch, shortPosition, readAllLimit);
        assert.equal(fromShort.gap, false);
        assert.deepEqual(ids(fromShort), [longLived]);
      });

      it('reports a gap for a position from another epoch and returns what is retained', async () => {
        const ch = channel('epoch');
        const published = [await publishOne([ch]), await publishOne([ch])];
        const foreign = { epoch: 'other', offset: '0' };
        const result = await broker.read(ch, foreign, readAllLimit);
        assert.equal(result.gap, true);
        assert.deepEqual(ids(result), published);
        assert.notDeepEqual(result.from, foreign);
        const resumed = await broker.read(ch, result.to, readAllLimit);
        assert.equal(resumed.gap, false);
        assert.deepEqual(resumed.entries, []);
      });
    });

    describe('#head', () => {
      it('moves past each message published to the channel', async () => {
        const ch = channel('head');
        const previousHead = await broker.head(ch);
        await publishOne([ch]);
        const newHead = await broker.head(ch);
        assert.notDeepEqual(newHead, previousHead);
        assert.deepEqual((await onlyEntry(ch, previousHead)).position, newHead);
      });
    });

    describe('#subscribe', () => {
      it('calls the listener once per publish with the entries for its channel', async () => {
        const ch = channel('listen');
        const otherCh = channel('listen-other');
        const start = await broker.head(ch);
        const { events, unsubscribe } = listen(ch);
        try {
          const first = await publishOne([ch]);
          await publishOne([otherCh]);
          const second = await publishOne([otherCh, ch]);
          const sentinel = await flush(ch, events);
          assert.deepEqual(
            events.map((event) => event.message.id),
            [first, second, sentinel],
          );
          const stored = await broker.read(ch, start, 2);
          events.slice(0, 2).forEach((event, index) => {
            const entry = stored.entries[index] as BrokerEntry;
            assert.equal(event.order, entry.order);
            assert.deepEqual(event.message, entry.message);
            assert.deepEqual(entryFor(event, ch).position, entry.position);
          });
        } finally {
          unsubscribe();
        }
      });

      it('calls listeners only after the message is stored', async () => {
        const ch = channel('stored-first');
        const reads: Promise<ReadResult>[] = [];
        const unsubscribe = broker.subscribe(ch, (event) => {
          reads.push(broker.read(ch, entryFor(event, ch).previous, readAllLimit));
        });
        try {
          const id = await publishOne([ch]);
          await waitUntil(() => reads.length === 1, 'the event');
          assert.deepEqual(ids(await (reads[0] as Promise<ReadResult>)), [id]);
        } finally {
          unsubscribe();
        }
      });

      it('stops calling the listener once unsubscribed', async () => {
        const ch = channel('unsubscribe');
        const first = listen(ch);
        const second = listen(ch);
        try {
          await publishOne([ch]);
          await waitUntil(() => first.events.length === 1, 'the first event');
          first.unsubscribe();
          await publishOne([ch]);
          await flush(ch, second.events);
          assert.equal(second.events.length, 3);
          assert.equal(first.events.length, 1);
        } finally {
          first.unsubscribe();
          second.unsubscribe();
        }
      });
    });

    describe('#standing', () => {
      it("tells 'next', 'seen' and 'behind' apart", async () => {
        const ch = channel('standing');
        const beforeFirst = await broker.head(ch);
        await publishOne([ch]);
        const headBefore = await broker.head(ch);
        const { events, unsubscribe } = listen(ch);
        let event: PublishEvent;
        try {
          const id = await publishOne([ch]);
          await waitUntil(() => events.length === 1, 'the event');
          event = events[0] as PublishEvent;
          assert.equal(event.message.id, id);
        } finally {
          unsubscribe();
        }
        const published = entryFor(event, ch);
        assert.deepEqual(published.previous, headBefore);
        assert.equal(broker.standing(headBefore, published), 'next');
        assert.equal(broker.standing(published.previous, published), 'next');
        assert.equal(broker.standing(published.position, published), 'seen');
        assert.equal(broker.standing(await broker.head(ch), published), 'seen');
        await publishOne([ch]);
        assert.equal(broker.standing(await broker.head(ch), published), 'seen');
        assert.equal(broker.standing(beforeFirst, published), 'behind');
        assert.equal(broker.standing({ epoch: 'other', offset: '0' }, published), 'behind');
      });
    });
  });
}
