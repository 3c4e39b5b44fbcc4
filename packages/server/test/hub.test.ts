import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StreamPosition } from '@pns/protocol';
import { MemoryBroker } from '../src/broker/memory-broker.js';
import { Hub } from '../src/hub/hub.js';
import type { Delivery, EndReason } from '../src/hub/subscription.js';

function broker(): MemoryBroker {
  return new MemoryBroker({ retentionCount: 100, memoryBudgetBytes: 1 << 24, channelIdleMs: 60_000 });
}

async function publish(target: MemoryBroker, channels: string[], data: string): Promise<void> {
  await target.publish([
    { channels, type: 1, dataJson: JSON.stringify(data), ttlSeconds: 60, id: undefined, scope: 's', fingerprint: data },
  ]);
}

/** A sink that records what the hub gives it. */
function recorder() {
  const delivered: string[][] = [];
  const ended: EndReason[] = [];
  return {
    delivered,
    ended,
    sink: {
      deliver: (delivery: Delivery) => delivered.push(delivery.entries.map((entry) => JSON.parse(entry.message.dataJson) as string)),
      end: (reason: EndReason) => ended.push(reason),
      fail: (error: unknown) => assert.fail(String(error)),
    },
  };
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('Hub', { timeout: 10_000 }, () => {
  describe('#open', () => {
    it('gives a streaming subscription every retained page before following publishes, in order', async () => {
      const store = broker();
      const start = new Map<string, StreamPosition>([
        ['user:a', await store.head('user:a')],
        ['user:b', await store.head('user:b')],
      ]);
      for (const data of ['a1', 'a2', 'a3']) await publish(store, ['user:a'], data);
      await publish(store, ['user:b'], 'b1');
      const hub = new Hub(store, { pageLimit: 2, maxPerSession: 4 });
      const { delivered, sink } = recorder();
      hub.open({
        sessionKey: 's',
        userId: 'a',
        transport: 'test',
        channels: ['user:a', 'user:b'],
        positions: start,
        gap: false,
        oneShot: false,
        sink,
      });
      for (let i = 0; i < 5; i++) await tick();
      await publish(store, ['user:a'], 'a4');
      assert.deepEqual(delivered.flat(), ['a1', 'a2', 'a3', 'b1', 'a4']);
      await store.close();
    });
  });

  describe('#revoke', () => {
    it('ends a subscription opened just after its user was revoked (its session checked before), not a newer session', async () => {
      const store = broker();
      const hub = new Hub(store, { pageLimit: 10, maxPerSession: 4 });
      const spec = (sessionKey: string, issuedAt: number | undefined, sink: ReturnType<typeof recorder>['sink']) => ({
        sessionKey,
        userId: 'leaving',
        issuedAt,
        transport: 'test',
        channels: ['user:leaving'],
        positions: new Map([['user:leaving', { epoch: '-', offset: '0' }]]),
        gap: false,
        oneShot: false,
        sink,
      });
      const revokedAt = Date.now();
      hub.revoke('leaving');
      const old = recorder();
      hub.open(spec('old', Math.floor(revokedAt / 1000) * 1000 - 5000, old.sink));
      assert.deepEqual(old.ended, ['revoked']);
      const fresh = recorder();
      hub.open(spec('fresh', Math.floor(revokedAt / 1000) * 1000 + 2000, fresh.sink));
      assert.deepEqual(fresh.ended, [], 'a token issued after the revoke is not');
      hub.revoke('leaving', (key) => key === 'fresh');
      assert.deepEqual(fresh.ended, ['revoked']);
      const again = recorder();
      hub.open(spec('fresh', Math.floor(revokedAt / 1000) * 1000 + 2000, again.sink));
      assert.deepEqual(again.ended, ['revoked'], 'the revoked session, opening again');
      await store.close();
    });
  });

  describe('#drain', () => {
    it('ends only the subscriptions still open, and releases everything', async () => {
      const store = broker();
      const hub = new Hub(store, { pageLimit: 10, maxPerSession: 4 });
      const first = recorder();
      const second = recorder();
      const open = async (sink: ReturnType<typeof recorder>['sink'], user: string) => {
        const subscription = hub.open({
          sessionKey: user,
          userId: user,
          transport: 'test',
          channels: [`user:${user}`],
          positions: new Map([[`user:${user}`, await store.head(`user:${user}`)]]),
          gap: false,
          oneShot: true,
          sink,
        });
        await tick();
        return subscription;
      };
      await open(first.sink, 'x');
      const closing = await open(second.sink, 'y');
      const draining = hub.drain(200);
      closing.close();
      await draining;
      assert.deepEqual([first.ended, second.ended], [['shutdown'], []]);
      assert.deepEqual(hub.stats(), { subscriptions: 0, channels: 0, sessions: 0, users: 0, addresses: 0 });
      assert.equal(store.stats().listeners, 0);
      await store.close();
    });
  });

  describe('#expiry', () => {
    it('keeps a stream whose session ends later than a timer can wait (found by fuzz-tokens: a 60-day token, exp 1e308)', async () => {
      const store = broker();
      const hub = new Hub(store, { pageLimit: 10, maxPerSession: 4 });
      const warnings: string[] = [];
      const onWarning = (warning: Error): void => {
        warnings.push(warning.name);
      };
      process.on('warning', onWarning);
      const recorders = [recorder(), recorder(), recorder()];
      const ends = [Date.now() + 60 * 86_400_000, (1e308 + 30) * 1000, Date.now() + 50];
      for (const [index, { sink }] of recorders.entries()) {
        hub.open({
          sessionKey: `s${index}`,
          userId: `far-${index}`,
          transport: 'test',
          channels: [`user:far-${index}`],
          positions: new Map([[`user:far-${index}`, await store.head(`user:far-${index}`)]]),
          gap: false,
          oneShot: false,
          expiresAt: ends[index],
          sink,
        });
      }
      await new Promise((resolve) => setTimeout(resolve, 150));
      process.off('warning', onWarning);
      // Only the one that was due has ended; the far ones wait, without a timer that overflows and fires at once.
      assert.deepEqual(
        recorders.map((r) => r.ended),
        [[], [], ['expired']],
      );
      assert.deepEqual(warnings, []);
      await hub.drain(0);
      await store.close();
    });
  });
});
