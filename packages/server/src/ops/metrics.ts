import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { HubStats } from '../hub/hub.js';

/**
 * How often the event-loop lag is sampled. prom-client's 10 ms default wakes an idle server 100 times a
 * second (1 % of a core here); 100 ms still catches any stall that matters to a held poll.
 */
const eventLoopSampleMs = 100;

/** Buckets of `pns_publish_to_delivery_seconds`, in seconds (the dashboard's percentiles come from them too). */
export const deliveryLatencyBuckets: readonly number[] = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300,
];

/** The server's Prometheus metrics, in a registry of its own (no process-wide state). */
export class PnsMetrics {
  readonly registry = new Registry();
  readonly heldConnections = new Gauge({
    name: 'pns_held_connections',
    help: 'Subscriptions held open, by transport.',
    labelNames: ['transport'],
    registers: [this.registry],
  });
  readonly openConnections = new Gauge({
    name: 'pns_open_connections',
    help: 'Open TCP connections to the HTTP server.',
    registers: [this.registry],
  });
  readonly polls = new Counter({
    name: 'pns_polls_total',
    help: 'Long polls answered, by outcome (message, timeout, gap, superseded, shutdown, revoked, aborted, error).',
    labelNames: ['outcome'],
    registers: [this.registry],
  });
  readonly published = new Counter({
    name: 'pns_messages_published_total',
    help: 'Messages stored by publish (idempotent repeats not counted).',
    registers: [this.registry],
  });
  readonly delivered = new Counter({
    name: 'pns_messages_delivered_total',
    help: 'Messages written to subscribers (one per subscriber reached).',
    labelNames: ['transport'],
    registers: [this.registry],
  });
  readonly deliveryLatency = new Histogram({
    name: 'pns_publish_to_delivery_seconds',
    help: 'Time from publish to delivery to a subscriber.',
    buckets: [...deliveryLatencyBuckets],
    registers: [this.registry],
  });

  readonly redisConnected = new Gauge({
    name: 'pns_redis_connected',
    help: "Whether this process's Redis connection of each role (commands, subscriber, sessions) is ready: 1 or 0.",
    labelNames: ['role'],
    registers: [this.registry],
  });
  private brokerChannelCount: () => number = () => 0;
  readonly brokerChannels: Gauge = new Gauge({
    name: 'pns_broker_channels',
    help: 'Channels this process listens to in its broker (in memory: channels with a listener; with Redis: its pub/sub subscriptions, lingering ones included).',
    registers: [this.registry],
    collect: (): void => {
      this.brokerChannels.set(this.brokerChannelCount());
    },
  });

  private hubStats: () => HubStats | undefined = () => undefined;
  /**
   * What the hub tracks, read at each scrape. Each kind must come back to zero when every client has gone,
   * so an operator (and the soak test, bench/src/soak) sees a leak here before it shows as memory.
   */
  readonly hubEntries: Gauge<'kind'> = new Gauge({
    name: 'pns_hub_entries',
    help: 'What the hub tracks on this process: subscriptions, and the channels, sessions, users and client addresses that have one.',
    labelNames: ['kind'],
    registers: [this.registry],
    collect: (): void => {
      const stats = this.hubStats();
      if (!stats) return;
      for (const [kind, count] of Object.entries(stats)) this.hubEntries.set({ kind }, count);
    },
  });

  constructor() {
    // Includes nodejs_eventloop_lag_seconds and process memory and CPU.
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: eventLoopSampleMs });
  }

  /** Where `pns_broker_channels` comes from, read at each scrape. */
  countBrokerChannels(count: () => number): void {
    this.brokerChannelCount = count;
  }

  /** Where `pns_hub_entries` comes from, read at each scrape. */
  countHubEntries(stats: () => HubStats): void {
    this.hubStats = stats;
  }

  async render(): Promise<string> {
    return this.registry.metrics();
  }
}
