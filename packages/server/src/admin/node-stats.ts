import type { LatencyPercentiles, NodeStats } from '@pns/protocol';
import { deliveryLatencyBuckets } from '../ops/metrics.js';

/** Samples (seconds) the latency percentiles cover. */
export const latencyWindowSeconds = 10;

/**
 * The `q` quantile (0–1) of a histogram given as counts per bucket, interpolating within the bucket as
 * Prometheus's histogram_quantile does. Above the last finite bound, that bound is the answer.
 */
export function quantile(counts: readonly number[], q: number, bounds: readonly number[] = deliveryLatencyBuckets): number | null {
  const total = counts.reduce((sum, count) => sum + count, 0);
  if (total === 0) return null;
  const target = q * total;
  let below = 0;
  for (let index = 0; index < counts.length; index++) {
    const count = counts[index] as number;
    if (count > 0 && below + count >= target) {
      const upper = bounds[index];
      if (upper === undefined) return bounds[bounds.length - 1] ?? null;
      const lower = index === 0 ? 0 : (bounds[index - 1] as number);
      return lower + ((upper - lower) * (target - below)) / count;
    }
    below += count;
  }
  return bounds[bounds.length - 1] ?? null;
}

export function percentiles(counts: readonly number[]): LatencyPercentiles {
  return {
    p50: quantile(counts, 0.5),
    p90: quantile(counts, 0.9),
    p99: quantile(counts, 0.99),
    count: counts.reduce((sum, count) => sum + count, 0),
  };
}

/** The whole service: counts and rates summed, latency merged from every node's buckets. */
export function totalOf(nodes: readonly NodeStats[], at: number): NodeStats {
  const latencyCounts = new Array<number>(deliveryLatencyBuckets.length + 1).fill(0);
  const total: NodeStats = {
    node: 'all',
    at,
    startedAt: Math.min(...nodes.map((node) => node.startedAt), at),
    held: { longpoll: 0, sse: 0, websocket: 0 },
    openConnections: 0,
    publishedPerSecond: 0,
    deliveredPerSecond: 0,
    published: 0,
    delivered: 0,
    latency: percentiles([]),
    latencyCounts,
    rssBytes: 0,
    heapUsedBytes: 0,
    eventLoopBusy: 0,
    brokerChannels: 0,
  };
  for (const node of nodes) {
    total.held.longpoll += node.held.longpoll;
    total.held.sse += node.held.sse;
    total.held.websocket += node.held.websocket;
    total.openConnections += node.openConnections;
    total.publishedPerSecond += node.publishedPerSecond;
    total.deliveredPerSecond += node.deliveredPerSecond;
    total.published += node.published;
    total.delivered += node.delivered;
    node.latencyCounts.forEach((count, index) => {
      if (index < latencyCounts.length) latencyCounts[index] = (latencyCounts[index] as number) + count;
    });
    total.rssBytes += node.rssBytes;
    total.heapUsedBytes += node.heapUsedBytes;
    // The busiest node is the one whose users wait.
    total.eventLoopBusy = Math.max(total.eventLoopBusy, node.eventLoopBusy);
    total.brokerChannels += node.brokerChannels;
  }
  total.latency = percentiles(latencyCounts);
  return total;
}
