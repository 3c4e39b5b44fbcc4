// Chaos: a pns node is killed with SIGKILL while clients of every transport are on it and messages are being
// published through it. Its clients come back through the balancer on the other nodes and resume by cursor;
// the publisher retries what was in flight on another node with the same id. Every acknowledged message
// reaches every subscriber of its channel exactly once, with no gap.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { heldConnections, redisSkipReason, startTcpBalancer, type TcpBalancer } from '@pns/test-support';
import {
  assertExactlyOnce,
  type ChaosCluster,
  type ChaosSubscriber,
  cutIncidents,
  openSubscribers,
  PublishRun,
  startChaosCluster,
  tally,
  waitForDeliveries,
} from './support/chaos.js';
import { delay } from './support/harness.js';

const noRedis = redisSkipReason();

describe('chaos: a node killed with SIGKILL', { skip: noRedis, timeout: 90_000 }, () => {
  let chaos: ChaosCluster;
  let balancer: TcpBalancer;
  let subscribers: ChaosSubscriber[] = [];

  before(async () => {
    chaos = await startChaosCluster({ nodes: 3 });
    balancer = await startTcpBalancer(chaos.nodes.map((node) => node.port));
  });
  after(async () => {
    await Promise.all(subscribers.map((subscriber) => subscriber.stop()));
    await balancer?.close();
    await chaos?.stop();
  });

  it('moves its clients to the other nodes, which resume them by cursor: each message once, none lost', async () => {
    // Clients and publishes go through the balancer, round robin over the three nodes.
    subscribers = await openSubscribers([balancer.url], 4);
    await delay(200); // the long polls are held again after their first answer
    // The victim: a node that holds clients of every transport.
    const holdings = await Promise.all(chaos.nodes.map((node) => heldConnections(node.url)));
    const fewest = holdings.map((counts) => Math.min(counts.longpoll ?? 0, counts.sse ?? 0, counts.websocket ?? 0));
    const victim = chaos.nodes[fewest.indexOf(Math.max(...fewest))] as (typeof chaos.nodes)[number];
    assert.ok(Math.max(...fewest) >= 1, `a node holds clients of every transport: ${JSON.stringify(holdings)}`);
    const run = new PublishRun([balancer.url], [...new Set(subscribers.map((subscriber) => subscriber.user))]);
    await run.publish(20);
    const background = run.inBackground(20);
    await delay(300);
    victim.signal('SIGKILL');
    const killedAt = Date.now();
    await delay(1500);
    await background.stop();
    await run.publish(20);
    await waitForDeliveries(subscribers, run);

    const result = tally('node SIGKILL', subscribers, run, killedAt);
    // Its clients see their connections cut, or refused while the balancer still tries it, and nothing else.
    assertExactlyOnce(result, cutIncidents);
    assert.deepEqual(result.gaps, {}, 'nothing was lost, so no client is told of a gap');
    assert.equal(result.acknowledged, result.published, 'the publisher got every message through');
    // The killed node's streams were cut (SSE and WebSocket), and they came back on another node.
    assert.ok((result.incidents['stream cut'] ?? 0) >= 1, 'an SSE stream was cut');
    assert.ok((result.incidents['close 1006'] ?? 0) >= 1, 'a WebSocket was cut');
  });
});
