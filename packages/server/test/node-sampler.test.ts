import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NodeSampler } from '../src/admin/node-sampler.js';
import { latencyWindowSeconds } from '../src/admin/node-stats.js';
import { PnsMetrics } from '../src/ops/metrics.js';

describe('NodeSampler', () => {
  describe('#sample', () => {
    it('reads held connections by transport and the totals from the metrics', async () => {
      const metrics = new PnsMetrics();
      metrics.heldConnections.inc({ transport: 'longpoll' }, 3);
      metrics.heldConnections.inc({ transport: 'websocket' }, 2);
      metrics.openConnections.set(6);
      metrics.published.inc(4);
      metrics.delivered.inc({ transport: 'sse' }, 5);
      metrics.delivered.inc({ transport: 'longpoll' }, 1);
      const stats = await new NodeSampler(metrics, 'host:1', 100).sample(1000);
      assert.equal(stats.node, 'host:1');
      assert.equal(stats.startedAt, 100);
      assert.deepEqual(stats.held, { longpoll: 3, sse: 0, websocket: 2 });
      assert.equal(stats.openConnections, 6);
      assert.equal(stats.published, 4);
      assert.equal(stats.delivered, 6);
      assert.equal(stats.publishedPerSecond, 0, 'a first sample has no rate yet');
      assert.ok(stats.rssBytes > 0 && stats.heapUsedBytes > 0);
    });

    it('turns counter changes into per-second rates', async () => {
      const metrics = new PnsMetrics();
      const sampler = new NodeSampler(metrics, 'host:1', 0);
      await sampler.sample(1000);
      metrics.published.inc(10);
      metrics.delivered.inc({ transport: 'longpoll' }, 30);
      const stats = await sampler.sample(3000);
      assert.equal(stats.publishedPerSecond, 5);
      assert.equal(stats.deliveredPerSecond, 15);
    });

    it('tells how busy the event loop was since the last sample', async () => {
      const sampler = new NodeSampler(new PnsMetrics(), 'host:1', 0);
      await sampler.sample();
      const busyUntil = Date.now() + 300;
      while (Date.now() < busyUntil) {
        // Keeps the event loop busy, as a saturated node's would be.
      }
      const busy = (await sampler.sample()).eventLoopBusy;
      assert.ok(busy > 0.5 && busy <= 1, `busy ${busy}`);
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.ok((await sampler.sample()).eventLoopBusy < 0.5, 'idle again');
    });

    it('gives latency percentiles over the last window only', async () => {
      const metrics = new PnsMetrics();
      const sampler = new NodeSampler(metrics, 'host:1', 0);
      await sampler.sample(0);
      for (let i = 0; i < 10; i++) metrics.deliveryLatency.observe(2);
      let stats = await sampler.sample(1000);
      assert.equal(stats.latency.count, 10);
      assert.ok((stats.latency.p50 as number) > 1 && (stats.latency.p50 as number) <= 2.5);
      // Later deliveries are fast; once the slow ones leave the window, they no longer count.
      for (let second = 2; second <= latencyWindowSeconds + 2; second++) {
        metrics.deliveryLatency.observe(0.0005);
        stats = await sampler.sample(second * 1000);
      }
      assert.equal(stats.latency.count, latencyWindowSeconds);
      assert.ok((stats.latency.p99 as number) <= 0.001, `p99 ${stats.latency.p99}`);
    });
  });
});
