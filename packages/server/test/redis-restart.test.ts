// Redis dies (SIGKILL) and comes back in the middle of a stream of publishes, with persistence on
// (appendonly yes, appendfsync always). While it is away publishes get 503 BACKEND_UNAVAILABLE with
// Retry-After, held connections stay open and carry nothing wrong; the nodes reconnect by themselves, and
// every acknowledged message reaches every addressee exactly once, with no gap.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { PnsMessage } from '@pns/protocol';
import { createToken } from '@pns/publisher';
import {
  type HttpPoller,
  type RedisInstance,
  redisSkipReason,
  type SpawnedServer,
  spawnServer,
  startHttpPoller,
  startRedis,
} from '@pns/test-support';
import { delay, waitFor } from './support/harness.js';
import { openSubscriber, type TransportSubscriber } from './support/transport-subscriber.js';

const noRedis = redisSkipReason();
const secret = 'redis-restart-test-secret-0123456789';
const publishKey = 'redis-restart-test-publish-key-0123456789';

interface Publishing {
  acknowledged: { id: string; user: string }[];
  refusals: { status: number; errorCode: string; retryAfter: string | null }[];
}

/** Publishes message `id` to `user` on `url` until it is acknowledged, as a publisher retrying with its id does. */
async function publishUntilStored(url: string, id: string, user: string, record: Publishing): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const response = await fetch(`${url}/pns/publish`, {
      method: 'POST',
      headers: { authorization: `Bearer ${publishKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ to: `user:${user}`, type: 70, id, data: { id } }),
    });
    const body = (await response.json()) as { errorCode?: string };
    if (response.status === 200) {
      record.acknowledged.push({ id, user });
      return;
    }
    record.refusals.push({ status: response.status, errorCode: body.errorCode ?? '', retryAfter: response.headers.get('retry-after') });
    await delay(100);
  }
  throw new Error(`message ${id} was never stored`);
}

describe('Redis restart under load', { skip: noRedis, timeout: 120_000 }, () => {
  let redis: RedisInstance;
  let nodes: SpawnedServer[] = [];
  /** Closed after the test whatever happens: a poller left running would keep the test process alive. */
  const cleanups: (() => Promise<unknown>)[] = [];

  before(async () => {
    redis = await startRedis({ appendOnly: true });
    const env = {
      PNS_SECRET: secret,
      PNS_PUBLISH_KEY: publishKey,
      PNS_REDIS_URL: redis.url,
      PNS_REDIS_PREFIX: `restart-${randomBytes(4).toString('hex')}`,
      PNS_WORKERS: '1',
    };
    nodes = await Promise.all([0, 1].map(() => spawnServer({ env, args: ['--drain-seconds', '0'] })));
  });
  after(async () => {
    await Promise.all(cleanups.map((cleanup) => cleanup()));
    await Promise.all(nodes.map((node) => node.stop()));
    await redis?.stop();
  });

  it('refuses publishes with 503 while Redis is away, keeps held connections, and loses or repeats nothing', async () => {
    const [a, b] = nodes as [SpawnedServer, SpawnedServer];
    const sid = (user: string): Promise<string> => createToken({ secret, user });
    const streams: { user: string; client: TransportSubscriber }[] = [
      { user: 's1', client: openSubscriber('sse', a.url, { sid: await sid('s1') }) },
      { user: 's2', client: openSubscriber('websocket', b.url, { sid: await sid('s2') }) },
    ];
    await Promise.all(streams.map(({ client }) => client.ready()));
    // Pollers retry a refused poll after 300 ms (the seed's client would wait 2 minutes, and then carry on the same).
    const pollers: { user: string; poller: HttpPoller }[] = [
      { user: 'p1', poller: startHttpPoller({ url: a.url, sid: await sid('p1'), useCursor: true, hold: 5, serverErrorIntervalMs: 300 }) },
      { user: 'p2', poller: startHttpPoller({ url: b.url, sid: await sid('p2'), hold: 5, serverErrorIntervalMs: 300 }) },
    ];
    for (const { client } of streams) cleanups.push(() => client.close());
    for (const { poller } of pollers) cleanups.push(() => poller.stop());
    const users = ['s1', 's2', 'p1', 'p2'];
    await delay(300); // the pollers' first polls are held

    const record: Publishing = { acknowledged: [], refusals: [] };
    let refusedWhileAway = 0;
    for (let i = 0; i < 40; i++) {
      if (i === 15) {
        await redis.kill();
        // Publishes while Redis is away: refused with a clear error, never accepted and dropped.
        const response = await fetch(`${b.url}/pns/publish`, {
          method: 'POST',
          headers: { authorization: `Bearer ${publishKey}`, 'content-type': 'application/json' },
          body: JSON.stringify({ to: 'user:s1', type: 70, data: 'while away' }),
        });
        assert.equal(response.status, 503);
        assert.equal(((await response.json()) as { errorCode: string }).errorCode, 'BACKEND_UNAVAILABLE');
        assert.ok(Number(response.headers.get('retry-after')) > 0, 'Retry-After');
        refusedWhileAway++;
        setTimeout(() => void redis.restart(), 1000);
      }
      await publishUntilStored(i % 2 === 0 ? a.url : b.url, `restart-${i}-${randomUUID()}`, users[i % users.length] as string, record);
    }
    assert.equal(refusedWhileAway, 1);
    assert.ok(record.refusals.length > 0, 'publishes were refused while Redis was away');
    for (const refusal of record.refusals) {
      assert.deepEqual([refusal.status, refusal.errorCode], [503, 'BACKEND_UNAVAILABLE']);
      assert.ok(Number(refusal.retryAfter) > 0);
    }

    const owed = (user: string): string[] => record.acknowledged.filter((message) => message.user === user).map(({ id }) => id);
    const ids = (messages: readonly PnsMessage[]): string[] => messages.map((message) => message.id);
    await Promise.all(streams.map(({ user, client }) => client.waitForMessages(owed(user).length, 20_000)));
    for (const { user, poller } of pollers) await waitFor(() => poller.received.length >= owed(user).length, 20_000, `poller of ${user}`);
    await delay(300); // a repeat, if any, would arrive by now
    for (const { user, client } of streams) {
      assert.deepEqual(ids(client.messages), owed(user), `${client.transport} of ${user}`);
      assert.deepEqual(client.gaps, [], `${client.transport} of ${user}: nothing acknowledged was lost`);
      assert.equal(client.ending, undefined, `${client.transport} of ${user} stayed open`);
      await client.close();
    }
    for (const { user, poller } of pollers) {
      await poller.stop();
      assert.deepEqual(ids(poller.received), owed(user), `poller of ${user}`);
      assert.deepEqual(poller.gaps, [], `poller of ${user}: nothing acknowledged was lost`);
      for (const error of poller.serverErrors) assert.equal(error, '503 BACKEND_UNAVAILABLE');
    }
  });
});

describe('Redis restart that lost its data', { skip: noRedis, timeout: 60_000 }, () => {
  let redis: RedisInstance;
  let node: SpawnedServer;
  const cleanups: (() => Promise<unknown>)[] = [];

  before(async () => {
    redis = await startRedis();
    node = await spawnServer({
      env: { PNS_SECRET: secret, PNS_PUBLISH_KEY: publishKey, PNS_REDIS_URL: redis.url, PNS_WORKERS: '1' },
      args: ['--drain-seconds', '0'],
    });
  });
  after(async () => {
    await Promise.all(cleanups.map((cleanup) => cleanup()));
    await node?.stop();
    await redis?.stop();
  });

  it('tells a client whose position was lost that it has a gap, then delivers what is new', async () => {
    const sid = await createToken({ secret, user: 'lost' });
    const stream = openSubscriber('sse', node.url, { sid });
    cleanups.push(() => stream.close());
    await stream.ready();
    const record: Publishing = { acknowledged: [], refusals: [] };
    await publishUntilStored(node.url, `before-${randomUUID()}`, 'lost', record);
    await stream.waitForMessages(1);
    const cursor = stream.cursor;
    await redis.kill();
    await redis.restart(); // without persistence: every stream, epoch and position is gone
    await publishUntilStored(node.url, `after-${randomUUID()}`, 'lost', record);
    const ids = record.acknowledged.map(({ id }) => id);
    await stream.waitForMessages(2, 10_000);
    assert.deepEqual(
      stream.messages.map(({ id }) => id),
      ids,
    );
    assert.deepEqual(stream.gaps, [1], 'the open stream is told it has a gap before the new message');
    const poll = await fetch(`${node.url}/pns/poll?${new URLSearchParams({ sid, cursor: cursor ?? '', hold: '0' })}`);
    const answer = (await poll.json()) as { gap?: boolean; msg: PnsMessage[] };
    assert.equal(answer.gap, true, 'a cursor from before the loss is answered with a gap, never silently');
    assert.deepEqual(
      answer.msg.map(({ id }) => id),
      [ids[1]],
    );
  });
});
