// Several `pns serve` nodes on one real Redis behave as one service: a message published on any node reaches
// the user's connections on every node exactly once, and a cursor (or a cursorless client) resumes anywhere.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { PnsMessage } from '@pns/protocol';
import { createPublisher, createToken } from '@pns/publisher';
import {
  heldConnections,
  type RedisInstance,
  redisCommand,
  redisSkipReason,
  type SpawnedServer,
  spawnServer,
  startHttpPoller,
  startRedis,
} from '@pns/test-support';
import { delay, waitFor } from './support/harness.js';
import { openSubscriber, type TransportName, type TransportSubscriber } from './support/transport-subscriber.js';

const noRedis = redisSkipReason();
const secret = 'redis-nodes-test-secret-0123456789';
const publishKey = 'redis-nodes-test-publish-key-0123456789';

/** A node on `redis`, one worker, its keys under `prefix`. */
function redisNode(redis: { url: string }, prefix: string, env: Record<string, string> = {}): Promise<SpawnedServer> {
  return spawnServer({
    env: { PNS_SECRET: secret, PNS_PUBLISH_KEY: publishKey, PNS_REDIS_URL: redis.url, PNS_REDIS_PREFIX: prefix, PNS_WORKERS: '1', ...env },
    args: ['--drain-seconds', '0'],
  });
}

/** Waits until `node` holds `count` long polls (its own metrics). */
async function heldOn(node: SpawnedServer, count: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (((await heldConnections(node.url)).longpoll ?? 0) === count) return;
    if (Date.now() > deadline) throw new Error(`${node.url} never held ${count} polls`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const ids = (messages: readonly PnsMessage[]): string[] => messages.map((message) => message.id);

describe('three nodes on one Redis', { skip: noRedis, timeout: 120_000 }, () => {
  let redis: RedisInstance;
  let nodes: SpawnedServer[] = [];
  const prefix = `nodes-${randomBytes(4).toString('hex')}`;

  before(async () => {
    redis = await startRedis();
    nodes = await Promise.all([0, 1, 2].map(() => redisNode(redis, prefix)));
  });
  after(async () => {
    await Promise.all(nodes.map((node) => node.stop()));
    await redis?.stop();
  });

  it('gives subscribers on nodes A and B every message published on node C exactly once, in order', async () => {
    const [a, b, c] = nodes as [SpawnedServer, SpawnedServer, SpawnedServer];
    const users = ['n1', 'n2', 'n3', 'n4'];
    const subscribers: { user: string; topics: boolean; client: TransportSubscriber }[] = [];
    const kinds: TransportName[] = ['longpoll', 'sse', 'websocket'];
    for (const [index, user] of users.entries()) {
      const topics = index % 2 === 0;
      const sid = await createToken({ secret, user, topics: ['news'] });
      for (const [k, transport] of kinds.entries()) {
        const node = (index + k) % 2 === 0 ? a : b;
        const client = openSubscriber(transport, node.url, { sid, channels: topics ? ['topic:news'] : [] });
        subscribers.push({ user, topics, client });
      }
    }
    await Promise.all(subscribers.map(({ client }) => client.ready()));
    const publisher = createPublisher({ url: c.url, publishKey });
    const sent: { id: string; to: string[] }[] = [];
    for (let i = 0; i < 40; i++) {
      const user = users[i % users.length] as string;
      const to = i % 5 === 0 ? ['topic:news'] : i % 7 === 0 ? [`user:${user}`, 'topic:news'] : [`user:${user}`];
      sent.push({ id: await publisher.publish(to, 'mail', { i }), to });
    }
    const owedTo = (user: string, topics: boolean): string[] =>
      sent.filter(({ to }) => to.includes(`user:${user}`) || (topics && to.includes('topic:news'))).map(({ id }) => id);
    await Promise.all(subscribers.map(({ user, topics, client }) => client.waitForMessages(owedTo(user, topics).length, 10_000)));
    await delay(300); // a repeat, if any, would arrive by now
    for (const { user, topics, client } of subscribers) {
      assert.deepEqual(ids(client.messages), owedTo(user, topics), `${client.transport} of ${user}`);
      assert.deepEqual(client.protocolErrors, []);
    }
    await Promise.all(subscribers.map(({ client }) => client.close()));
  });

  it('resumes a cursor from node A on node B with exactly the messages after it', async () => {
    const [a, b, c] = nodes as [SpawnedServer, SpawnedServer, SpawnedServer];
    const sid = await createToken({ secret, user: 'resume' });
    const publisher = createPublisher({ url: c.url, publishKey });
    const first = openSubscriber('longpoll', a.url, { sid });
    await first.ready();
    const one = await publisher.publish('user:resume', 1, 'one');
    await first.waitForId(one);
    const cursor = first.cursor;
    await first.close();
    const later = [await publisher.publish('user:resume', 1, 'two'), await publisher.publish('user:resume', 1, 'three')];
    const second = openSubscriber('sse', b.url, { sid, cursor });
    await second.waitForMessages(2);
    assert.deepEqual(ids(second.messages), later);
    assert.deepEqual(second.gaps, []);
    await second.close();
  });

  it('resumes a cursorless client (the seed’s) on another node from where it stood', async () => {
    const [a, b, c] = nodes as [SpawnedServer, SpawnedServer, SpawnedServer];
    const sid = await createToken({ secret, user: 'seed' });
    const publisher = createPublisher({ url: c.url, publishKey });
    const onA = startHttpPoller({ url: a.url, sid, hold: 5, pollIntervalMs: 50 });
    await heldOn(a, 1);
    const probe = await publisher.publish('user:seed', 1, 'probe');
    await waitFor(() => onA.received.length === 1, 10_000, 'the probe on A');
    await onA.stop();
    const missed = [await publisher.publish('user:seed', 1, 'while away 1'), await publisher.publish('user:seed', 1, 'while away 2')];
    const onB = startHttpPoller({ url: b.url, sid, hold: 5, pollIntervalMs: 50 });
    await waitFor(() => onB.received.length >= 2, 10_000, 'the missed messages on B');
    await onB.stop();
    assert.deepEqual(ids(onA.received), [probe]);
    // Operators see each node's Redis connections and how many channels it listens to.
    const metrics = await (await fetch(`${b.url}/metrics`)).text();
    for (const role of ['commands', 'subscriber']) assert.match(metrics, new RegExp(`pns_redis_connected\\{role="${role}"\\} 1`));
    assert.ok(Number(/pns_broker_channels (\d+)/.exec(metrics)?.[1]) >= 1, 'B listens to the seed client’s channel');
    assert.deepEqual(ids(onB.received), missed);
    assert.deepEqual([...onA.serverErrors, ...onB.serverErrors], []);
  });

  it('accepts the web application’s own session ids from Redis with PNS_SESSION_REDIS_KEY', async () => {
    const node = await redisNode(redis, prefix, { PNS_SESSION_REDIS_KEY: `${prefix}-session:{sid}` });
    try {
      const sid = `webmail-${randomBytes(8).toString('hex')}`;
      await redisCommand(redis.port, ['SET', `${prefix}-session:${sid}`, JSON.stringify({ userId: 'mail-7' }), 'EX', '600']);
      const poller = startHttpPoller({ url: node.url, sid, hold: 5, pollIntervalMs: 50 });
      try {
        await heldOn(node, 1);
        const id = await createPublisher({ url: (nodes[0] as SpawnedServer).url, publishKey }).publish('user:mail-7', 70, 'new mail');
        await waitFor(() => poller.received.length === 1, 10_000, 'the message');
        assert.deepEqual(ids(poller.received), [id]);
      } finally {
        await poller.stop();
      }
      const unknown = await fetch(`${node.url}/pns/poll?sid=no-such-session&comeFrom=1003`);
      assert.equal(unknown.status, 401);
      assert.equal(((await unknown.json()) as { errorCode: string }).errorCode, 'SESSION_EXPIRED');
    } finally {
      await node.stop();
    }
  });

  it('revokes a user on one node and ends their connections on the others at once; the token is refused everywhere', async () => {
    const [a, b, c] = nodes as [SpawnedServer, SpawnedServer, SpawnedServer];
    const sid = await createToken({ secret, user: 'logged-out', ttl: '1h' });
    const onB = openSubscriber('sse', b.url, { sid });
    const onC = openSubscriber('websocket', c.url, { sid });
    await Promise.all([onB.ready(), onC.ready()]);
    const started = Date.now();
    const answer = await fetch(`${a.url}/pns/revoke`, {
      method: 'POST',
      headers: { authorization: `Bearer ${publishKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ user: 'logged-out' }),
    });
    assert.equal(answer.status, 200);
    const endings = await Promise.all([onB.ended(3000), onC.ended(3000)]);
    assert.deepEqual(
      endings.map((ending) => ending.sseEnd?.errorCode ?? ending.wsReason),
      ['SESSION_EXPIRED', 'SESSION_EXPIRED'],
    );
    process.stdout.write(`# connections on two other nodes ended ${Date.now() - started} ms after the revoke\n`);
    for (const node of nodes) {
      const poll = await fetch(`${node.url}/pns/poll?sid=${sid}&hold=0`);
      assert.equal(poll.status, 401);
      assert.equal(((await poll.json()) as { errorCode: string }).errorCode, 'SESSION_EXPIRED');
    }
  });

  it('ends a revoked user’s stream on a node that missed the notice, once its connection to Redis is back', async () => {
    const [a, b] = nodes as [SpawnedServer, SpawnedServer];
    const sid = await createToken({ secret, user: 'missed-notice', ttl: '1h' });
    const onB = openSubscriber('sse', b.url, { sid });
    await onB.ready();
    // Cut node B's revocation subscriber, and revoke while it reconnects: the notice is published to no one there.
    const clients = String(await redisCommand(redis.port, ['CLIENT', 'LIST']));
    const line = clients.split('\n').find((entry) => entry.includes(`name=pns-${b.child.pid}:revocations`));
    const id = /\bid=(\d+)/.exec(line ?? '')?.[1];
    assert.ok(id, clients);
    await redisCommand(redis.port, ['CLIENT', 'KILL', 'ID', id]);
    const answer = await fetch(`${a.url}/pns/revoke`, {
      method: 'POST',
      headers: { authorization: `Bearer ${publishKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ user: 'missed-notice' }),
    });
    assert.equal(answer.status, 200);
    const ending = await onB.ended(10_000);
    assert.equal(ending.sseEnd?.errorCode, 'SESSION_EXPIRED', JSON.stringify(ending));
  });
});
