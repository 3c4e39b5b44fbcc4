import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StreamPosition } from '@pns/protocol';
import fc from 'fast-check';
import { MemoryBroker } from '../src/broker/memory-broker.js';
import { forEachPositions } from '../src/hub/delivery-positions.js';
import { Hub } from '../src/hub/hub.js';
import type { Delivery } from '../src/hub/subscription.js';

const channels = ['user:a', 'topic:b', 'topic:c'];

interface Point {
  id: string;
  gap: boolean;
  positions: Map<string, StreamPosition>;
}

/**
 * Opens a streaming subscription from `positions` and resolves, once it has
 * read everything retained, with each message it got and the positions after
 * it (from `forEachPositions`).
 */
function readAll(hub: Hub, positions: Map<string, StreamPosition>): Promise<Point[]> {
  return new Promise((resolve, reject) => {
    const points: Point[] = [];
    const subscription = hub.open({
      sessionKey: `s${Math.random()}`,
      userId: 'u',
      transport: 'test',
      channels,
      positions: new Map(positions),
      gap: false,
      oneShot: false,
      positionsPerEntry: true,
      sink: {
        deliver(delivery: Delivery) {
          forEachPositions(delivery, (index, after) => {
            const entry = delivery.entries[index];
            if (entry) points.push({ id: entry.message.id, gap: delivery.gap, positions: new Map(after) });
          });
        },
        end: () => reject(new Error('ended')),
        fail: reject,
        waiting() {
          subscription.close();
          resolve(points);
        },
      },
    });
  });
}

describe('forEachPositions', { timeout: 60_000 }, () => {
  it('gives after each message of a delivery the positions to resume from with exactly the messages after it', async () => {
    const publishes = fc.array(fc.subarray(channels, { minLength: 1 }), { minLength: 1, maxLength: 25 });
    await fc.assert(
      fc.asyncProperty(publishes, fc.integer({ min: 1, max: 6 }), async (targets, pageLimit) => {
        const broker = new MemoryBroker({ retentionCount: 100, memoryBudgetBytes: 1 << 24, channelIdleMs: 60_000 });
        try {
          const start = new Map<string, StreamPosition>();
          for (const channel of channels) start.set(channel, await broker.head(channel));
          for (const [n, to] of targets.entries()) {
            await broker.publish([
              { channels: to, type: 1, dataJson: String(n), ttlSeconds: 60, id: undefined, scope: 's', fingerprint: '' },
            ]);
          }
          const hub = new Hub(broker, { pageLimit, maxPerSession: 1000 });
          const stream = await readAll(hub, start);
          assert.equal(stream.length, targets.length, 'every message once');
          for (const [k, point] of stream.entries()) {
            assert.equal(point.gap, false);
            const resumed = await readAll(hub, point.positions);
            assert.deepEqual(
              resumed.map((p) => p.id),
              stream.slice(k + 1).map((p) => p.id),
              `resuming after message ${k}`,
            );
            assert.ok(resumed.every((p) => !p.gap));
          }
        } finally {
          await broker.close();
        }
      }),
      { numRuns: 60 },
    );
  });

  it('visits a delivery of one entry once, with its positions', () => {
    const positions = new Map<string, StreamPosition>([['user:a', { epoch: 'e', offset: '3' }]]);
    const delivery = { entries: [{ channel: 'user:a' }], positions, gap: false } as unknown as Delivery;
    const visits: [number, ReadonlyMap<string, StreamPosition>][] = [];
    forEachPositions(delivery, (index, after) => visits.push([index, after]));
    assert.deepEqual(visits, [[0, positions]]);
  });
});
