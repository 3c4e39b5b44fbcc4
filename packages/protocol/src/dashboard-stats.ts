/** Held subscriptions by transport. */
export interface HeldByTransport {
  longpoll: number;
  sse: number;
  websocket: number;
}

export interface LatencyPercentiles {
  /** Seconds; null when nothing was delivered in the window. */
  p50: number | null;
  p90: number | null;
  p99: number | null;
  /** Deliveries in the window. */
  count: number;
}

/** One node's state as the dashboard shows it: a sample of the counters behind /metrics. */
export interface NodeStats {
  /** `host:pid-<4 hex>` (the suffix keeps apart processes of equal host name and pid), or `all` for the sum. */
  node: string;
  /** When the sample was taken, epoch ms, on the clock the nodes share (Redis's with Redis, else the node's own). */
  at: number;
  startedAt: number;
  held: HeldByTransport;
  openConnections: number;
  publishedPerSecond: number;
  deliveredPerSecond: number;
  published: number;
  delivered: number;
  /** Publish-to-delivery time over the last 10 seconds. */
  latency: LatencyPercentiles;
  /** Deliveries per latency bucket (`pns_publish_to_delivery_seconds`'s bounds, then +Inf) in that window: what lets nodes' percentiles merge. */
  latencyCounts: number[];
  rssBytes: number;
  heapUsedBytes: number;
  /** Share of the last second the event loop was busy (0–1): near 1, a node is saturated and answers late. */
  eventLoopBusy: number;
  brokerChannels: number;
}

/** The body of `GET /pns/admin/stats`. */
export interface DashboardSnapshot {
  /** When it was taken, epoch ms, on the clock the nodes share. */
  at: number;
  /** Every live node, sorted by node. */
  nodes: NodeStats[];
  /** Counts and rates summed over the nodes, latency merged from their buckets; `node` is `all`. */
  total: NodeStats;
}
