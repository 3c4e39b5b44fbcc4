// Two pns nodes on a three-master Redis Cluster started by the test: each channel's keys and notifications
// live on its own shard (sharded pub/sub), and a message sent to channels on different shards still
// reaches each client once, over every transport and across nodes.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { PnsMessage } from '@pns/protocol';
import { createPublisher, createToken } from '@pns/publisher';
import {
  type HttpPoller,
  type RedisClusterInstance,
  redisSkipReason,
  type SpawnedServer,
  spawnServer,
  startHttpPoller,
  startRedisCluster,
} from '@pns/test-support';
import { shardOf } from './support/chaos.js';
import { delay, waitFor } from './support/harness.js';
import { openSubscriber, type TransportSubscriber } from './support/transport-subscriber.js';

const noRedis = redisSkipReason();
const secret = 'redis-cluster-test-secret-0123456789';
const publishKey = 'redis-cluster-test-publish-key-0123456789';

const ids = (messages: readonly PnsMessage[]): string[] => messages.map((message) => message.id);

describe('nodes on a Redis Cluster', { skip: noRedis, timeout: 120_000 }, () => {
  let cluster: RedisClusterInstance;
  let nodes: SpawnedServer[] = [];
  const cleanups: (() => Promise<unknown>)[] = [];

  before(async () => {
    cluster = await startRedisCluster(3);
    const env = {
      PNS_SECRET: secret,
      PNS_PUBLISH_KEY: publishKey,
      PNS_REDIS_URL: cluster.urls.join(','),
      PNS_REDIS_CLUSTER: 'true',
      PNS_WORKERS: '1',
    };
    nodes = await Promise.all([0, 1].map(() => spawnServer({ env, args: ['--drain-seconds', '0'] })));
  });
  after(async () => {
    await Promise.all(cleanups.map((cleanup) => cleanup()));
    await Promise.all(nodes.map((node) => node.stop()));
    await cluster?.stop();
  });

  it('delivers every message once to clients on both nodes, copies on other shards included', async () => {
    const [a, b] = nodes as [SpawnedServer, SpawnedServer];
    const users = ['c1', 'c2', 'c3', 'c4'];
    const sid = (user: string): Promise<string> => createToken({ secret, user, topics: ['news', 'ops'] });
    const channels = ['topic:news', 'topic:ops'];
    const streams: { user: string; client: TransportSubscriber }[] = [
      { user: 'c1', client: openSubscriber('sse', a.url, { sid: await sid('c1'), channels }) },
      { user: 'c2', client: openSubscriber('websocket', b.url, { sid: await sid('c2'), channels }) },
      { user: 'c3', client: openSubscriber('longpoll', a.url, { sid: await sid('c3'), channels }) },
    ];
    for (const { client } of streams) cleanups.push(() => client.close());
    await Promise.all(streams.map(({ client }) => client.ready()));
    // The seed's client: no cursor, so its recent ids are kept with its position.
    const seed: HttpPoller = startHttpPoller({ url: b.url, sid: await sid('c4'), hold: 5, pollIntervalMs: 50 });
    cleanups.push(() => seed.stop());
    await delay(300);
    const sent: { id: string; to: string[] }[] = [];
    for (let i = 0; i < 30; i++) {
      const user = users[i % users.length] as string;
      const to = i % 3 === 0 ? [`user:${user}`, 'topic:news', 'topic:ops'] : i % 3 === 1 ? ['topic:ops'] : [`user:${user}`];
      const publisher = createPublisher({ url: (i % 2 === 0 ? a : b).url, publishKey });
      sent.push({ id: await publisher.publish(to, 1, { i }), to });
    }
    // The seed's client asks for no topic: only its user channel.
    const listensTo = (user: string): string[] => (user === 'c4' ? ['user:c4'] : [`user:${user}`, ...channels]);
    const owed = (user: string): string[] => sent.filter(({ to }) => to.some((ch) => listensTo(user).includes(ch))).map(({ id }) => id);
    await Promise.all(streams.map(({ user, client }) => client.waitForMessages(owed(user).length, 15_000)));
    await waitFor(() => seed.received.length >= owed('c4').length, 15_000, 'the seed client');
    await delay(500); // a repeat, if any, would arrive by now
    const check = (label: string, got: readonly PnsMessage[], user: string): void => {
      assert.deepEqual(ids(got).sort(), owed(user).sort(), `${label}: each message once`);
      // Order holds within a channel. A message with copies on other shards may come first from any of them,
      // so the order is checked over the messages sent to one channel only.
      for (const channel of listensTo(user)) {
        const inChannel = sent.filter(({ to }) => to.length === 1 && to[0] === channel);
        const order = ids(got).filter((id) => inChannel.some((message) => message.id === id));
        assert.deepEqual(
          order,
          inChannel.map(({ id }) => id),
          `${label}: order in ${channel}`,
        );
      }
    };
    for (const { user, client } of streams) check(client.transport, client.messages, user);
    check('seed client', seed.received, 'c4');
    assert.deepEqual(seed.serverErrors, []);
  });

  it('resumes a cursor from one node on the other', async () => {
    const [a, b] = nodes as [SpawnedServer, SpawnedServer];
    const sid = await createToken({ secret, user: 'cr', topics: ['news'] });
    const first = openSubscriber('longpoll', a.url, { sid, channels: ['topic:news'] });
    cleanups.push(() => first.close());
    await first.ready();
    const publisher = createPublisher({ url: b.url, publishKey });
    const one = await publisher.publish('user:cr', 1, 'one');
    await first.waitForId(one);
    const cursor = first.cursor;
    await first.close();
    const later = [await publisher.publish(['user:cr', 'topic:news'], 1, 'two'), await publisher.publish('topic:news', 1, 'three')];
    const second = openSubscriber('sse', b.url, { sid, channels: ['topic:news'], cursor });
    cleanups.push(() => second.close());
    await second.waitForMessages(2, 10_000);
    await delay(300);
    assert.deepEqual(ids(second.messages).sort(), [...later].sort());
    assert.deepEqual(second.gaps, []);
  });

  it('resumes SSE and WebSocket from a cursor taken between the copies of a message on two shards, without repeating it', async () => {
    const [a, b] = nodes as [SpawnedServer, SpawnedServer];
    for (const transport of ['sse', 'websocket'] as const) {
      const user = `split-${transport}`;
      // A topic on another shard than the user's channel: a message to both is stored, and told, by each shard.
      const userShard = await shardOf(cluster, `user:${user}`);
      let topic = '';
      for (let n = 0; topic === ''; n++) if ((await shardOf(cluster, `topic:t${n}`)) !== userShard) topic = `t${n}`;
      const sid = await createToken({ secret, user, topics: [topic] });
      const channels = [`topic:${topic}`];
      const first = openSubscriber(transport, a.url, { sid, channels });
      cleanups.push(() => first.close());
      await first.ready();
      const publisher = createPublisher({ url: b.url, publishKey });
      const both = await publisher.publish([`user:${user}`, `topic:${topic}`], 1, 'both');
      await first.waitForId(both);
      // Sent when the first copy came: the other copy's channel still stands before it in this cursor.
      const cursor = first.cursor;
      await first.close();
      const second = openSubscriber(transport, b.url, { sid, channels, cursor });
      cleanups.push(() => second.close());
      await second.ready();
      const next = await publisher.publish(`user:${user}`, 1, 'next');
      await second.waitForId(next);
      await delay(200);
      assert.deepEqual(ids(second.messages), [next], `${transport}: the message is not given again from its other copy`);
    }
  });
});
