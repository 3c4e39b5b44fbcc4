/** One pns process's numbers, as `GET /pns/admin/stats` reports them. */
export interface NodeStats {
  /** `host:pid`, or `all` for the total. */
  node: string;
  /** When this node's sample was taken, epoch ms. */
  at: number;
  startedAt: number;
  held: { longpoll: number; sse: number; websocket: number };
  openConnections: number;
  publishedPerSecond: number;
  deliveredPerSecond: number;
  published: number;
  delivered: number;
  /** Publish-to-delivery seconds over the last 10 s; null when nothing was delivered. */
  latency: { p50: number | null; p90: number | null; p99: number | null; count: number };
  rssBytes: number;
  heapUsedBytes: number;
  /** Share of the last second the event loop was busy, 0–1. */
  eventLoopBusy: number;
  brokerChannels: number;
}

export interface StatsAnswer {
  /** Server time, epoch ms. */
  at: number;
  /** Sorted by node. */
  nodes: NodeStats[];
  total: NodeStats;
}

export const transports = ['longpoll', 'sse', 'websocket'] as const;
export type Transport = (typeof transports)[number];

export function heldTotal(stats: NodeStats): number {
  return stats.held.longpoll + stats.held.sse + stats.held.websocket;
}
