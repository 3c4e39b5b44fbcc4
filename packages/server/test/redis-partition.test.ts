// A network partition between one node and Redis: node A loses Redis while node B keeps it and goes on
// taking publishes. A refuses publishes with 503 meanwhile; once the link heals, A reconnects by itself,
// re-reads, and its clients get what B stored during the partition, exactly once, with no gap.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { PnsMessage } from '@pns/protocol';
import { createPublisher, createToken } from '@pns/publisher';
import {
  type HttpPoller,
  type RedisInstance,
  redisSkipReason,
  type SpawnedServer,
  spawnServer,
  startHttpPoller,
  startRedis,
  startTcpBalancer,
  type TcpBalancer,
} from '@pns/test-support';
import { delay, waitFor } from './support/harness.js';
import { openSubscriber, type TransportSubscriber } from './support/transport-subscriber.js';

const noRedis = redisSkipReason();
const secret = 'redis-partition-test-secret-0123456789';
const publishKey = 'redis-partition-test-publish-key-0123456789';

describe('a node cut off from Redis', { skip: noRedis, timeout: 120_000 }, () => {
  let redis: RedisInstance;
  let link: TcpBalancer;
  let nodeA: SpawnedServer;
  let nodeB: SpawnedServer;
  const cleanups: (() => Promise<unknown>)[] = [];

  before(async () => {
    redis = await startRedis();
    link = await startTcpBalancer([redis.port]);
    const env = {
      PNS_SECRET: secret,
      PNS_PUBLISH_KEY: publishKey,
      PNS_REDIS_PREFIX: `partition-${randomBytes(4).toString('hex')}`,
      PNS_WORKERS: '1',
    };
    const args = ['--drain-seconds', '0'];
    [nodeA, nodeB] = await Promise.all([
      spawnServer({ env: { ...env, PNS_REDIS_URL: `redis://127.0.0.1:${link.port}` }, args }),
      spawnServer({ env: { ...env, PNS_REDIS_URL: redis.url }, args }),
    ]);
  });
  after(async () => {
    await Promise.all(cleanups.map((cleanup) => cleanup()));
    await Promise.all([nodeA?.stop(), nodeB?.stop()]);
    await link?.close();
    await redis?.stop();
  });

  it('delivers to its clients, once it is back, what another node stored meanwhile', async () => {
    const sid = (user: string): Promise<string> => createToken({ secret, user });
    const stream: TransportSubscriber = openSubscriber('sse', nodeA.url, { sid: await sid('q1') });
    cleanups.push(() => stream.close());
    await stream.ready();
    const pollers: { user: string; poller: HttpPoller }[] = [
      { user: 'q2', poller: startHttpPoller({ url: nodeA.url, sid: await sid('q2'), hold: 5, serverErrorIntervalMs: 300 }) },
      {
        user: 'q3',
        poller: startHttpPoller({ url: nodeA.url, sid: await sid('q3'), useCursor: true, hold: 5, serverErrorIntervalMs: 300 }),
      },
    ];
    for (const { poller } of pollers) cleanups.push(() => poller.stop());
    await delay(300);
    const publisher = createPublisher({ url: nodeB.url, publishKey });
    const users = ['q1', 'q2', 'q3'];
    const sent: { id: string; user: string }[] = [];
    const publishRound = async (count: number): Promise<void> => {
      for (let i = 0; i < count; i++) {
        const user = users[sent.length % users.length] as string;
        sent.push({ id: await publisher.publish(`user:${user}`, 70, { n: sent.length }), user });
      }
    };
    await publishRound(6);

    link.cut();
    await delay(200);
    await publishRound(9); // B still reaches Redis
    const refused = await fetch(`${nodeA.url}/pns/publish`, {
      method: 'POST',
      headers: { authorization: `Bearer ${publishKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ to: 'user:q1', type: 70, data: 'from the cut-off node' }),
    });
    assert.equal(refused.status, 503);
    assert.equal(((await refused.json()) as { errorCode: string }).errorCode, 'BACKEND_UNAVAILABLE');
    await delay(1000);
    link.heal();
    await publishRound(6);

    const owed = (user: string): string[] => sent.filter((message) => message.user === user).map(({ id }) => id);
    const ids = (messages: readonly PnsMessage[]): string[] => messages.map((message) => message.id);
    await stream.waitForMessages(owed('q1').length, 20_000);
    for (const { user, poller } of pollers) await waitFor(() => poller.received.length >= owed(user).length, 20_000, `poller of ${user}`);
    await delay(300); // a repeat, if any, would arrive by now
    assert.deepEqual(ids(stream.messages), owed('q1'));
    assert.deepEqual(stream.gaps, []);
    assert.equal(stream.ending, undefined, 'the stream stayed open through the partition');
    for (const { user, poller } of pollers) {
      assert.deepEqual(ids(poller.received), owed(user), `poller of ${user}`);
      assert.deepEqual(poller.gaps, []);
      for (const error of poller.serverErrors) assert.equal(error, '503 BACKEND_UNAVAILABLE');
    }
  });
});
