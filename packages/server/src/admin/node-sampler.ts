import { type EventLoopUtilization, performance } from 'node:perf_hooks';
import type { HeldByTransport, NodeStats } from '@pns/protocol';
import { deliveryLatencyBuckets, type PnsMetrics } from '../ops/metrics.js';
import { latencyWindowSeconds, percentiles } from './node-stats.js';

interface CounterReading {
  at: number;
  published: number;
  delivered: number;
  /** Cumulative deliveries at or below each bucket bound, then in all. */
  latencyCumulative: number[];
}

async function sumOf(metric: { get(): Promise<{ values: { value: number }[] }> }): Promise<number> {
  return (await metric.get()).values.reduce((sum, { value }) => sum + value, 0);
}

/**
 * Reads this node's counters (the very ones /metrics renders) once a second and turns them into rates and
 * windowed latency percentiles: a counter's total is what Prometheus wants, its change is what an operator
 * watching a chart wants.
 */
export class NodeSampler {
  /** Readings of the last window, oldest first. */
  private readonly readings: CounterReading[] = [];
  /** Event-loop utilization at the previous sample: the next one's busy share is the change since. */
  private loopUsage: EventLoopUtilization = performance.eventLoopUtilization();

  constructor(
    private readonly metrics: PnsMetrics,
    readonly node: string,
    private readonly startedAt: number,
  ) {}

  async sample(now = Date.now()): Promise<NodeStats> {
    const reading = await this.read(now);
    const previous = this.readings[this.readings.length - 1];
    this.readings.push(reading);
    while (this.readings.length > latencyWindowSeconds + 1) this.readings.shift();
    // The window's start: the reading `latencyWindowSeconds` samples ago (this one, on the first sample).
    const oldest = this.readings[0];
    const seconds = previous ? Math.max(0.001, (now - previous.at) / 1000) : 1;
    const latencyCounts = reading.latencyCumulative.map((cumulative, index, all) => {
      const before = index === 0 ? 0 : (all[index - 1] as number);
      const oldCumulative = oldest?.latencyCumulative[index] ?? 0;
      const oldBefore = index === 0 ? 0 : (oldest?.latencyCumulative[index - 1] ?? 0);
      return cumulative - before - (oldCumulative - oldBefore);
    });
    const memory = process.memoryUsage();
    return {
      node: this.node,
      at: now,
      startedAt: this.startedAt,
      held: await this.held(),
      openConnections: await sumOf(this.metrics.openConnections),
      publishedPerSecond: round((reading.published - (previous?.published ?? reading.published)) / seconds),
      deliveredPerSecond: round((reading.delivered - (previous?.delivered ?? reading.delivered)) / seconds),
      published: reading.published,
      delivered: reading.delivered,
      latency: percentiles(latencyCounts),
      latencyCounts,
      rssBytes: memory.rss,
      heapUsedBytes: memory.heapUsed,
      eventLoopBusy: this.eventLoopBusy(),
      brokerChannels: await sumOf(this.metrics.brokerChannels),
    };
  }

  private async read(at: number): Promise<CounterReading> {
    const histogram = await this.metrics.deliveryLatency.get();
    const buckets = new Map<string, number>();
    let count = 0;
    for (const value of histogram.values) {
      if (value.metricName?.endsWith('_bucket')) buckets.set(String(value.labels.le), value.value);
      else if (value.metricName?.endsWith('_count')) count = value.value;
    }
    return {
      at,
      published: await sumOf(this.metrics.published),
      delivered: await sumOf(this.metrics.delivered),
      latencyCumulative: [...deliveryLatencyBuckets.map((bound) => buckets.get(String(bound)) ?? 0), count],
    };
  }

  private async held(): Promise<HeldByTransport> {
    const held: HeldByTransport = { longpoll: 0, sse: 0, websocket: 0 };
    for (const { labels, value } of (await this.metrics.heldConnections.get()).values) {
      const transport = labels.transport;
      if (transport === 'longpoll' || transport === 'sse' || transport === 'websocket') held[transport] += value;
    }
    return held;
  }

  /** The share of time since the last sample the event loop spent running code rather than waiting (0–1). */
  private eventLoopBusy(): number {
    const now = performance.eventLoopUtilization();
    const busy = performance.eventLoopUtilization(now, this.loopUsage).utilization;
    this.loopUsage = now;
    return Math.round(busy * 1000) / 1000;
  }
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
