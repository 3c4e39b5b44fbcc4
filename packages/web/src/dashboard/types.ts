import type { DashboardSnapshot, NodeStats } from '@pns/protocol';

export type { NodeStats };
/** The body of `GET /pns/admin/stats`. */
export type StatsAnswer = DashboardSnapshot;

export const transports = ['longpoll', 'sse', 'websocket'] as const;
export type Transport = (typeof transports)[number];

export function heldTotal(stats: NodeStats): number {
  return stats.held.longpoll + stats.held.sse + stats.held.websocket;
}
