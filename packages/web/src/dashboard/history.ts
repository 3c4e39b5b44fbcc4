import type { DashboardSnapshot, NodeStats } from '@pns/protocol';
import type uPlot from 'uplot';

export function heldTotal(stats: NodeStats): number {
  return stats.held.longpoll + stats.held.sse + stats.held.websocket;
}

/** How much the charts show, kept in the page only. */
export const windowMs = 5 * 60 * 1000;

/**
 * Adds a sample, keeping the time axis increasing (a sample that is not newer replaces the ones it is not
 * newer than: another node's clock, or a restarted server) and dropping what left the window.
 */
export function addSample(history: readonly DashboardSnapshot[], sample: DashboardSnapshot): DashboardSnapshot[] {
  const since = sample.at - windowMs;
  return [...history.filter((old) => old.at < sample.at && old.at >= since), sample];
}

const seconds = (history: readonly DashboardSnapshot[]) => history.map((sample) => sample.at / 1000);
const ms = (value: number | null) => (value === null ? null : value * 1000);

export function heldData(history: readonly DashboardSnapshot[]): uPlot.AlignedData {
  return [
    seconds(history),
    history.map((s) => s.total.held.longpoll),
    history.map((s) => s.total.held.sse),
    history.map((s) => s.total.held.websocket),
    history.map((s) => heldTotal(s.total)),
  ];
}

export function ratesData(history: readonly DashboardSnapshot[]): uPlot.AlignedData {
  return [seconds(history), history.map((s) => s.total.publishedPerSecond), history.map((s) => s.total.deliveredPerSecond)];
}

export function latencyData(history: readonly DashboardSnapshot[]): uPlot.AlignedData {
  return [
    seconds(history),
    history.map((s) => ms(s.total.latency.p50)),
    history.map((s) => ms(s.total.latency.p90)),
    history.map((s) => ms(s.total.latency.p99)),
  ];
}

/** Held connections per node: one series per node seen in the window, empty where a node was not there. */
export function nodesData(history: readonly DashboardSnapshot[]): { names: string[]; data: uPlot.AlignedData } {
  const names = [...new Set(history.flatMap((s) => s.nodes.map((node) => node.node)))].sort();
  const series = names.map((name) =>
    history.map((s) => {
      const node = s.nodes.find((candidate) => candidate.node === name);
      return node ? heldTotal(node) : null;
    }),
  );
  return { names, data: [seconds(history), ...series] };
}
