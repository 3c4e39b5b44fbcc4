// Chaos in the nodes' clocks: three pns nodes on one Redis Cluster, one on time, one 30 s ahead and one 30 s
// behind (Debian's faketime). Messages are ordered and expire by Redis's clock, so delivery is exactly once
// across them; session tokens are judged by each node's own clock, within the 30 s tolerance; the dashboard
// lists every node on every node, and its delivery latency is not thrown off by the skew.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DashboardSnapshot } from '@pns/protocol';
import { faketimeSkipReason, faketimeWrapper, redisSkipReason, type SpawnedServer } from '@pns/test-support';
import { SignJWT } from 'jose';
import {
  assertExactlyOnce,
  broadcast,
  type ChaosCluster,
  type ChaosSubscriber,
  chaosAdminKey,
  chaosSecret,
  openSubscribers,
  PublishRun,
  startChaosCluster,
  tally,
  waitForDeliveries,
} from './support/chaos.js';
import { delay } from './support/harness.js';

const noRedis = redisSkipReason();
const noFaketime = faketimeSkipReason();
const skews = [0, 30, -30];

/** This node's own row on its dashboard (its id names its pid, which /healthz tells). */
async function ownRow(node: SpawnedServer): Promise<DashboardSnapshot['nodes'][number]> {
  const { pid } = (await (await fetch(`${node.url}/healthz`)).json()) as { pid: number };
  const row = (await dashboard(node)).nodes.find((stats) => stats.node.includes(`:${pid}-`));
  assert.ok(row, `node ${pid} lists itself`);
  return row;
}

/** The node's clock as its `Date` header says, minus ours, in whole seconds. */
async function skewOf(node: SpawnedServer): Promise<number> {
  const answer = await fetch(`${node.url}/healthz`);
  await answer.arrayBuffer();
  return Math.round((Date.parse(answer.headers.get('date') ?? '') - Date.now()) / 1000);
}

/** A session token whose `exp` is `expiresIn` seconds from now by the test's (true) clock. */
function tokenExpiring(user: string, expiresIn: number): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ topics: ['chaos'] })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(user)
    .setIssuedAt(now - 60)
    .setExpirationTime(now + expiresIn)
    .sign(new TextEncoder().encode(chaosSecret));
}

async function pollStatus(node: SpawnedServer, sid: string): Promise<string> {
  const answer = await fetch(`${node.url}/pns/poll?${new URLSearchParams({ sid, hold: '0', comeFrom: 'clock' })}`);
  const body = (await answer.json()) as { errorCode?: string };
  return answer.status === 200 ? '200' : `${answer.status} ${body.errorCode}`;
}

async function dashboard(node: SpawnedServer): Promise<DashboardSnapshot> {
  const answer = await fetch(`${node.url}/pns/admin/stats`, { headers: { authorization: `Bearer ${chaosAdminKey}` } });
  assert.equal(answer.status, 200);
  return (await answer.json()) as DashboardSnapshot;
}

describe('chaos: node clocks 30 s apart', { skip: noRedis || noFaketime, timeout: 90_000 }, () => {
  let chaos: ChaosCluster;
  let subscribers: ChaosSubscriber[] = [];

  before(async () => {
    chaos = await startChaosCluster({
      nodes: 3,
      wrappers: skews.map((skew) => (skew === 0 ? undefined : faketimeWrapper(`${skew > 0 ? '+' : ''}${skew}s`))),
    });
  });
  after(async () => {
    await Promise.all(subscribers.map((subscriber) => subscriber.stop()));
    await chaos?.stop();
  });

  it('runs the nodes with their clocks skewed', async () => {
    const measured = await Promise.all(chaos.nodes.map(skewOf));
    for (const [index, skew] of measured.entries())
      assert.ok(Math.abs(skew - (skews[index] as number)) <= 2, `node ${index} is ${skew} s off`);
  });

  it('delivers every message once across the nodes, and measures delivery latency by Redis’s clock', async () => {
    const urls = chaos.nodes.map((node) => node.url);
    subscribers = await openSubscribers(urls, 3);
    const run = new PublishRun(
      urls,
      subscribers.map((subscriber) => subscriber.user),
    );
    const started = Date.now();
    await run.publish(60);
    await waitForDeliveries(subscribers, run);
    const result = tally('node clocks +30 s and -30 s', subscribers, run, started);
    assertExactlyOnce(result, []);
    assert.deepEqual(result.gaps, {});
    // Each node's own latency over the last seconds' deliveries: the time from publish to delivery, not the skew.
    await delay(1200);
    for (const [index, node] of chaos.nodes.entries()) {
      const { latency } = await ownRow(node);
      assert.ok(
        latency.count > 0 && (latency.p50 ?? 0) < 2,
        `node ${index} (${skews[index]} s off): median delivery latency ${latency.p50} s`,
      );
    }
  });

  it('judges session tokens by its own clock, within the 30 s tolerance for exp', async () => {
    const [onTime, ahead, behind] = chaos.nodes as [SpawnedServer, SpawnedServer, SpawnedServer];
    const statuses = async (sid: string): Promise<string[]> => Promise.all([onTime, ahead, behind].map((node) => pollStatus(node, sid)));
    // About to expire: accepted everywhere (the node ahead sees it 24 s past exp, inside the tolerance).
    assert.deepEqual(await statuses(await tokenExpiring('t1', 6)), ['200', '200', '200']);
    // Expired 12 s ago: inside the tolerance on time and behind; the node ahead, 42 s past exp, refuses it.
    assert.deepEqual(await statuses(await tokenExpiring('t2', -12)), ['200', '401 SESSION_EXPIRED', '200']);
    // Expired 45 s ago: refused, except by the node behind, which sees it 15 s past exp.
    assert.deepEqual(await statuses(await tokenExpiring('t3', -45)), ['401 SESSION_EXPIRED', '401 SESSION_EXPIRED', '200']);
    // A stream ends when its token stops being accepted: on the node ahead, at the token's exp by the true clock.
    const expiresIn = 4;
    const opened = Date.now();
    const sid = await tokenExpiring('t4', expiresIn);
    const events = await fetch(`${ahead.url}/pns/sse?${new URLSearchParams({ sid, ch: broadcast })}`);
    const text = await events.text();
    const endedAfter = (Date.now() - opened) / 1000;
    assert.match(text, /event: end\ndata: \{"reason":"expired","errorCode":"SESSION_EXPIRED"/);
    assert.ok(endedAfter > expiresIn - 1.5 && endedAfter < expiresIn + 3, `the stream ended ${endedAfter} s after it opened`);
  });

  it('lists every node on the dashboard of every node', async () => {
    // Nodes post every second: a few seconds are enough for every board to fill, if it can.
    let counts: number[] = [];
    for (let tries = 0; tries < 20; tries++) {
      counts = (await Promise.all(chaos.nodes.map(dashboard))).map((board) => board.nodes.length);
      if (counts.every((count) => count === chaos.nodes.length)) break;
      await delay(250);
    }
    assert.deepEqual(counts, [3, 3, 3], 'each node lists all three');
  });
});
