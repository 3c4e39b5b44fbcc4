import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PublishEvent, PublishRequest, ReadResult } from '../src/broker/broker.js';
import { MemoryBroker, type MemoryBrokerOptions } from '../src/broker/memory-broker.js';
import { brokerConformance } from './conformance/broker-conformance.js';

brokerConformance('MemoryBroker', async () => {
  const broker = new MemoryBroker({ retentionCount: 5, memoryBudgetBytes: 64 * 1024 * 1024, channelIdleMs: 60_000 });
  return { broker, cleanup: () => broker.close() };
});

/** A clock the test moves by hand. */
function manualClock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let time = start;
  return {
    now: () => time,
    advance: (ms) => {
      time += ms;
    },
  };
}

function makeBroker(options: Partial<MemoryBrokerOptions> = {}): MemoryBroker {
  // The sweep timer is unref'd and an hour away: tests call sweep() themselves.
  return new MemoryBroker({
    retentionCount: 100,
    memoryBudgetBytes: 64 * 1024 * 1024,
    channelIdleMs: 60_000,
    sweepIntervalMs: 3_600_000,
    ...options,
  });
}

let counter = 0;
function message(channels: string[], fields: Partial<PublishRequest> = {}): PublishRequest {
  const n = ++counter;
  return {
    channels,
    type: 1,
    dataJson: '"x"',
    ttlSeconds: 300,
    id: `m${String(n).padStart(4, '0')}`,
    scope: 'publisher-a',
    fingerprint: `fingerprint-${n}`,
    ...fields,
  };
}

async function publishOne(broker: MemoryBroker, channels: string[], fields: Partial<PublishRequest> = {}): Promise<string> {
  const [outcome] = await broker.publish([message(channels, fields)]);
  assert.ok(outcome);
  return outcome.id;
}

function ids(result: ReadResult): string[] {
  return result.entries.map((entry) => entry.message.id);
}

describe('MemoryBroker', { timeout: 60_000 }, () => {
  describe('#publish', () => {
    it('evicts the oldest messages across channels when over the memory budget, reporting a gap', async () => {
      // Measure one message's share of the budget rather than relying on the estimate's constants.
      const measuring = makeBroker();
      await publishOne(measuring, ['topic:measure']);
      const perMessage = measuring.stats().retainedBytes;
      await measuring.close();
      assert.ok(perMessage > 0);

      const budget = Math.floor(perMessage * 2.5);
      const broker = makeBroker({ memoryBudgetBytes: budget });
      try {
        const start = await broker.head('topic:a');
        const a1 = await publishOne(broker, ['topic:a']);
        const a1Position = await broker.head('topic:a');
        await publishOne(broker, ['topic:b']);
        const a2 = await publishOne(broker, ['topic:a']);
        const b2 = await publishOne(broker, ['topic:b']);
        assert.notEqual(a1, a2);

        const stats = broker.stats();
        assert.equal(stats.retainedMessages, 2);
        assert.ok(stats.retainedBytes <= budget);

        const a = await broker.read('topic:a', start, 100);
        assert.equal(a.gap, true);
        assert.deepEqual(ids(a), [a2]);
        const b = await broker.read('topic:b', start, 100);
        assert.equal(b.gap, true);
        assert.deepEqual(ids(b), [b2]);
        // A reader that had seen the evicted a1 missed nothing on topic:a.
        const afterA1 = await broker.read('topic:a', a1Position, 100);
        assert.equal(afterA1.gap, false);
        assert.deepEqual(ids(afterA1), [a2]);
      } finally {
        await broker.close();
      }
    });

    it('calls a listener subscribed to several of the message channels once', async () => {
      const broker = makeBroker();
      try {
        const events: PublishEvent[] = [];
        const listener = (event: PublishEvent): void => {
          events.push(event);
        };
        const offA = broker.subscribe('topic:a', listener);
        const offB = broker.subscribe('topic:b', listener);
        const id = await publishOne(broker, ['topic:a', 'topic:b']);
        assert.deepEqual(
          events.map((event) => event.message.id),
          [id],
        );
        assert.deepEqual(
          events[0]?.entries.map((entry) => entry.channel),
          ['topic:a', 'topic:b'],
        );
        offA();
        offB();
      } finally {
        await broker.close();
      }
    });

    it('forgets an idempotency record once the message ttl has passed', async () => {
      const clock = manualClock();
      const broker = makeBroker({ now: clock.now });
      try {
        const request = message(['topic:idem'], { id: 'stable-id', ttlSeconds: 10, fingerprint: 'one' });
        assert.deepEqual(await broker.publish([request]), [{ id: 'stable-id', duplicate: false }]);
        clock.advance(9_999);
        assert.deepEqual(await broker.publish([request]), [{ id: 'stable-id', duplicate: true }]);
        await assert.rejects(broker.publish([{ ...request, fingerprint: 'two' }]), (error: unknown) => {
          return (error as { code?: unknown }).code === 'ID_CONFLICT';
        });
        clock.advance(1);
        assert.equal(broker.stats().idempotencyRecords, 1);
        broker.sweep();
        assert.equal(broker.stats().idempotencyRecords, 0);
        // The id is free again, even for other content.
        const start = await broker.head('topic:idem');
        assert.deepEqual(await broker.publish([{ ...request, fingerprint: 'two' }]), [{ id: 'stable-id', duplicate: false }]);
        assert.deepEqual(ids(await broker.read('topic:idem', start, 100)), ['stable-id']);
      } finally {
        await broker.close();
      }
    });
  });

  describe('#read', () => {
    it('reports a gap for an offset this broker never handed out', async () => {
      const broker = makeBroker();
      try {
        const id = await publishOne(broker, ['topic:future']);
        const result = await broker.read('topic:future', { epoch: broker.epoch, offset: '999999' }, 100);
        assert.equal(result.gap, true);
        assert.deepEqual(ids(result), [id]);
        const malformed = await broker.read('topic:future', { epoch: broker.epoch, offset: '01' }, 100);
        assert.equal(malformed.gap, true);
      } finally {
        await broker.close();
      }
    });

    it('reports a gap once the clock passes a message ttl, before any sweep', async () => {
      const clock = manualClock();
      const broker = makeBroker({ now: clock.now });
      try {
        const start = await broker.head('topic:ttl');
        const id = await publishOne(broker, ['topic:ttl'], { ttlSeconds: 2 });
        clock.advance(1_999);
        const live = await broker.read('topic:ttl', start, 100);
        assert.deepEqual(ids(live), [id]);
        assert.equal(live.gap, false);
        clock.advance(1);
        const expired = await broker.read('topic:ttl', start, 100);
        assert.deepEqual(expired.entries, []);
        assert.equal(expired.gap, true);
      } finally {
        await broker.close();
      }
    });
  });

  describe('#memory budget', () => {
    it('lets go of entries trimmed behind a long-lived one', async () => {
      const broker = makeBroker({ retentionCount: 10 });
      await publishOne(broker, ['user:quiet'], { ttlSeconds: 3600, id: undefined });
      for (let i = 0; i < 5000; i++) await publishOne(broker, ['user:hot'], { id: undefined });
      const stats = broker.stats();
      assert.equal(stats.retainedMessages, 11);
      assert.ok(stats.budgetQueueEntries <= 2 * stats.retainedMessages + 1100, `${stats.budgetQueueEntries} entries still referenced`);
      await broker.close();
    });
  });

  describe('#sweep', () => {
    it('removes expired messages and keeps a channel used within channelIdleMs', async () => {
      const clock = manualClock();
      const broker = makeBroker({ now: clock.now, channelIdleMs: 60_000 });
      try {
        await publishOne(broker, ['topic:short'], { ttlSeconds: 10 });
        await publishOne(broker, ['topic:short'], { ttlSeconds: 10 });
        const kept = await publishOne(broker, ['topic:long'], { ttlSeconds: 300 });
        const before = broker.stats();
        assert.equal(before.retainedMessages, 3);
        assert.equal(before.channels, 2);
        clock.advance(10_000);
        broker.sweep();
        const after = broker.stats();
        assert.equal(after.retainedMessages, 1);
        assert.ok(after.retainedBytes < before.retainedBytes);
        assert.equal(after.channels, 2);
        assert.deepEqual(ids(await broker.read('topic:long', { epoch: broker.epoch, offset: '0' }, 100)), [kept]);
      } finally {
        await broker.close();
      }
    });

    it('drops idle empty channels, still telling an old reader of one it has a gap', async () => {
      const clock = manualClock();
      const broker = makeBroker({ now: clock.now, channelIdleMs: 60_000 });
      try {
        const start = await broker.head('topic:idle');
        await publishOne(broker, ['topic:idle'], { ttlSeconds: 10 });
        const seen = await broker.head('topic:idle');
        await publishOne(broker, ['topic:busy'], { ttlSeconds: 300 });
        assert.equal(broker.stats().channels, 2);
        clock.advance(60_000);
        broker.sweep();
        assert.equal(broker.stats().channels, 1);

        const old = await broker.read('topic:idle', start, 100);
        assert.equal(old.gap, true);
        assert.deepEqual(old.entries, []);
        const fresh = await broker.read('topic:idle', await broker.head('topic:idle'), 100);
        assert.equal(fresh.gap, false);
        const caughtUp = await broker.read('topic:idle', seen, 100);
        assert.equal(caughtUp.gap, false);

        // Recreated by a new publish, the channel still cannot serve the old reader.
        const next = await publishOne(broker, ['topic:idle'], { ttlSeconds: 300 });
        const oldAgain = await broker.read('topic:idle', start, 100);
        assert.equal(oldAgain.gap, true);
        assert.deepEqual(ids(oldAgain), [next]);
        const caughtUpAgain = await broker.read('topic:idle', seen, 100);
        assert.equal(caughtUpAgain.gap, false);
        assert.deepEqual(ids(caughtUpAgain), [next]);
      } finally {
        await broker.close();
      }
    });

    it('keeps an idle empty channel that has a listener', async () => {
      const clock = manualClock();
      const broker = makeBroker({ now: clock.now, channelIdleMs: 1_000 });
      try {
        await publishOne(broker, ['topic:watched'], { ttlSeconds: 1 });
        const unsubscribe = broker.subscribe('topic:watched', () => {});
        clock.advance(5_000);
        broker.sweep();
        assert.equal(broker.stats().channels, 1);
        unsubscribe();
        broker.sweep();
        assert.equal(broker.stats().channels, 0);
      } finally {
        await broker.close();
      }
    });
  });

  describe('#subscribe', () => {
    it('counts listeners back to zero after every unsubscribe', async () => {
      const broker = makeBroker();
      try {
        const offs = [broker.subscribe('topic:a', () => {}), broker.subscribe('topic:a', () => {}), broker.subscribe('topic:b', () => {})];
        assert.equal(broker.stats().listeners, 3);
        for (const off of offs) off();
        assert.equal(broker.stats().listeners, 0);
        // Unsubscribing twice does no harm.
        for (const off of offs) off();
        assert.equal(broker.stats().listeners, 0);
      } finally {
        await broker.close();
      }
    });
  });
});
