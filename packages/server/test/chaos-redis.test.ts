// Chaos on the Redis Cluster under three pns nodes, while clients of every transport listen on every node and
// messages are published: a master killed and restarted with its data (appendonly), a master restarted without
// persistence (its data lost), and a master frozen with SIGSTOP for longer than the hold. Meanwhile pns answers
// 503 BACKEND_UNAVAILABLE and clients retry; afterwards every acknowledged message reaches every subscriber of
// its channel exactly once, and a gap is reported only to the clients whose channel really lost data.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createToken } from '@pns/publisher';
import { type RedisInstance, redisSkipReason } from '@pns/test-support';
import {
  assertExactlyOnce,
  broadcast,
  type ChaosCluster,
  type ChaosSubscriber,
  chaosSecret,
  openSubscribers,
  PublishRun,
  shardOf,
  startChaosCluster,
  tally,
  waitForDeliveries,
} from './support/chaos.js';
import { delay } from './support/harness.js';

const noRedis = redisSkipReason();
/** What clients may see while Redis is away: refusals and streams ended by the broker, never a cut connection. */
const outageIncidents = ['503 BACKEND_UNAVAILABLE', 'end error BACKEND_UNAVAILABLE', 'close 4002 BACKEND_UNAVAILABLE'];
const usersOf = (subscribers: readonly ChaosSubscriber[]): string[] => subscribers.map((subscriber) => subscriber.user);

/** Subscribers on every node and a run publishing to every node, then `fault` while messages keep coming. */
async function underFault(
  chaos: ChaosCluster,
  holdSeconds: number,
  fault: (subscribers: ChaosSubscriber[], run: PublishRun) => Promise<number>,
): Promise<{ subscribers: ChaosSubscriber[]; run: PublishRun; faultEnd: number }> {
  const urls = chaos.nodes.map((node) => node.url);
  const subscribers = await openSubscribers(urls, 3, holdSeconds);
  const run = new PublishRun(urls, usersOf(subscribers));
  try {
    await run.publish(15);
    const faultEnd = await fault(subscribers, run);
    await run.publish(15);
    await waitForDeliveries(subscribers, run, 30_000);
    return { subscribers, run, faultEnd };
  } finally {
    await Promise.all(subscribers.map((subscriber) => subscriber.stop()));
  }
}

describe('chaos: a Redis Cluster master killed and restarted with its data', { skip: noRedis, timeout: 90_000 }, () => {
  let chaos: ChaosCluster;
  before(async () => {
    chaos = await startChaosCluster({ nodes: 3, appendOnly: true });
  });
  after(() => chaos?.stop());

  it('answers 503 while the cluster is down, then delivers every message once, with no gap', async () => {
    const master = chaos.redis.nodes[await shardOf(chaos.redis, broadcast)] as RedisInstance;
    const { subscribers, run, faultEnd } = await underFault(chaos, 5, async (_subscribers, run) => {
      const background = run.inBackground(50);
      await delay(300);
      await master.kill(); // SIGKILL: with appendfsync always, whatever it acknowledged is on disk
      await delay(3000); // past cluster-node-timeout (2 s): the other masters mark it failed and stop serving too
      await master.restart();
      const back = Date.now();
      await delay(2000);
      await background.stop();
      return back;
    });
    const result = tally('Redis master SIGKILL 3 s, restarted with appendonly', subscribers, run, faultEnd);
    assertExactlyOnce(result, outageIncidents);
    assert.deepEqual(result.gaps, {}, 'nothing was lost, so no client is told of a gap');
    assert.ok(result.longestPublishMs >= 2000, 'publishes waited for the cluster (refused, then retried)');
  });
});

describe('chaos: a Redis Cluster master restarted without persistence', { skip: noRedis, timeout: 90_000 }, () => {
  let chaos: ChaosCluster;
  before(async () => {
    chaos = await startChaosCluster({ nodes: 3 });
  });
  after(() => chaos?.stop());

  it('tells exactly the clients whose channel lived on it of a gap, and loses nothing acknowledged after', async () => {
    const broadcastShard = await shardOf(chaos.redis, broadcast);
    let lost: ChaosSubscriber[] = [];
    let early: { user: string; sid: string; cursor: string } | undefined;
    const { subscribers, run, faultEnd } = await underFault(chaos, 5, async (subscribers, run) => {
      // The victim holds some clients' own channels but not the broadcast topic, so the gaps tell them apart.
      const shards = await Promise.all(subscribers.map((subscriber) => shardOf(chaos.redis, subscriber.channels[0] as string)));
      const victim = [0, 1, 2].find((index) => index !== broadcastShard && shards.includes(index));
      assert.notEqual(victim, undefined, 'a master holds user channels and not the topic');
      lost = subscribers.filter((_, index) => shards[index] === victim);
      const node = chaos.redis.nodes[victim as number] as RedisInstance;
      await waitForDeliveries(subscribers, run);
      // A cursor taken now, for one of those users: it proves below that the gap is a real loss.
      const user = (lost[0] as ChaosSubscriber).user;
      const sid = await createToken({ secret: chaosSecret, user, topics: ['chaos'] });
      const poll = await fetch(
        `${(chaos.nodes[0] as { url: string }).url}/pns/poll?${new URLSearchParams({ sid, ch: broadcast, hold: '0', comeFrom: 'early' })}`,
      );
      early = { user, sid, cursor: ((await poll.json()) as { cursor: string }).cursor };
      await run.publish(10);
      await waitForDeliveries(subscribers, run);
      const background = run.inBackground(50);
      await node.restart(); // SIGTERM, then start: no appendonly, no RDB, so it comes back empty
      const back = Date.now();
      await delay(2000);
      await background.stop();
      return back;
    });
    const result = tally('Redis master restarted without persistence (data lost)', subscribers, run, faultEnd);
    assertExactlyOnce(result, outageIncidents);
    const expected = Object.fromEntries(lost.map((subscriber) => [subscriber.label, 1]));
    assert.deepEqual(result.gaps, expected, 'one gap for each client whose channel lost its data, none for the others');
    // The loss is real: from the cursor taken before, the lost user's channel no longer has what was sent to it.
    const { user, sid, cursor } = early as { user: string; sid: string; cursor: string };
    const answer = (await (
      await fetch(`${(chaos.nodes[1] as { url: string }).url}/pns/poll?${new URLSearchParams({ sid, ch: broadcast, hold: '0', cursor })}`)
    ).json()) as { gap?: boolean; msg: { id: string }[] };
    assert.equal(answer.gap, true);
    const gone = run.sent.filter((message) => message.startedAt < faultEnd && message.to.length === 1 && message.to[0] === `user:${user}`);
    assert.ok(gone.length > 0);
    assert.deepEqual(
      answer.msg.filter(({ id }) => gone.some((message) => message.id === id)),
      [],
      'what was sent to the lost channel before the restart is gone from Redis',
    );
  });
});

describe('chaos: a Redis Cluster master paused (SIGSTOP) longer than the hold', { skip: noRedis, timeout: 90_000 }, () => {
  let chaos: ChaosCluster;
  before(async () => {
    chaos = await startChaosCluster({ nodes: 3, holdSeconds: 2 });
  });
  after(() => chaos?.stop());

  it('refuses or holds meanwhile, and after SIGCONT delivers every message once', async () => {
    const master = chaos.redis.nodes[await shardOf(chaos.redis, broadcast)] as RedisInstance;
    const { subscribers, run, faultEnd } = await underFault(chaos, 2, async (_subscribers, run) => {
      const background = run.inBackground(50);
      await delay(300);
      master.pause();
      await delay(6000); // past the hold (2 s), the cluster-node-timeout (2 s) and the command timeout (5 s)
      master.resume();
      const back = Date.now();
      await delay(2000);
      await background.stop();
      return back;
    });
    const result = tally('Redis master SIGSTOP 6 s (hold 2 s), then SIGCONT', subscribers, run, faultEnd);
    assertExactlyOnce(result, outageIncidents);
    assert.deepEqual(result.gaps, {}, 'nothing was lost, so no client is told of a gap');
  });
});
