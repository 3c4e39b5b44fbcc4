// Chaos in the network between clients and pns: a proxy that cuts connections in the middle of answers (after
// some bytes of a poll answer, of an event stream, of WebSocket frames). Clients of every transport reconnect
// with their cursor (SSE with Last-Event-ID), so nothing is lost and nothing is given twice, however the cut
// falls: in the headers, between two events, or inside one.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { redisSkipReason, startTcpBalancer, type TcpBalancer } from '@pns/test-support';
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

const noRedis = redisSkipReason();

describe('chaos: connections cut in the middle of answers', { skip: noRedis, timeout: 90_000 }, () => {
  let chaos: ChaosCluster;
  let proxy: TcpBalancer;
  let subscribers: ChaosSubscriber[] = [];

  before(async () => {
    chaos = await startChaosCluster({ nodes: 3 });
    // Every connection is cut, each after a different number of bytes of what pns sends: anywhere in a poll
    // answer's head or body, in an SSE stream's events, in a WebSocket's upgrade or frames; one in four only
    // after several kilobytes, so that some connections carry many answers first.
    let connection = 0;
    proxy = await startTcpBalancer(
      chaos.nodes.map((node) => node.port),
      {
        cutAfterBytes: () => {
          connection++;
          return ((connection * 397) % 3000) + (connection % 4 === 0 ? 6000 : 0);
        },
      },
    );
  });
  after(async () => {
    await Promise.all(subscribers.map((subscriber) => subscriber.stop()));
    await proxy?.close();
    await chaos?.stop();
  });

  it('lets every client resume by cursor: nothing lost, nothing doubled', async () => {
    subscribers = await openSubscribers([proxy.url], 3);
    // Publishers reach the nodes directly: the cuts are between clients and pns.
    const run = new PublishRun(
      chaos.nodes.map((node) => node.url),
      subscribers.map((subscriber) => subscriber.user),
    );
    const started = Date.now();
    await run.publish(120, 60);
    await waitForDeliveries(subscribers, run, 30_000);
    const result = tally(`connections cut mid-answer (${proxy.cuts()} cuts)`, subscribers, run, started);
    assertExactlyOnce(result, cutIncidents);
    assert.deepEqual(result.gaps, {}, 'a cut loses nothing, so no client is told of a gap');
    assert.ok(proxy.cuts() >= 30, `the proxy cut ${proxy.cuts()} connections`);
    for (const transport of ['longpoll', 'sse', 'websocket']) {
      const cut = subscribers.filter((subscriber) => subscriber.transport === transport && subscriber.incidents.size > 0);
      assert.ok(cut.length > 0, `${transport} clients were cut`);
    }
  });
});
