import type { DashboardSnapshot } from '@pns/protocol';
import { useMemo } from 'preact/hooks';
import { heldData, latencyData, nodesData, ratesData } from './history.js';
import { type SeriesSpec, TimeChart } from './time-chart.js';

// The colours match the transport dots of the stat cards (--longpoll, --sse, --websocket in static/dashboard/base.css).
const heldSeries: SeriesSpec[] = [
  { label: 'Long poll', color: '#f59e0b' },
  { label: 'SSE', color: '#10b981' },
  { label: 'WebSocket', color: '#3b82f6' },
  { label: 'Total', color: '#1f2937', dashed: true },
];
const ratesSeries: SeriesSpec[] = [
  { label: 'Publishes/s', color: '#6366f1', filled: true },
  { label: 'Deliveries/s', color: '#10b981', filled: true },
];
const latencySeries: SeriesSpec[] = [
  { label: 'p50', color: '#10b981' },
  { label: 'p90', color: '#f59e0b' },
  { label: 'p99', color: '#ef4444' },
];
const nodePalette = ['#3b82f6', '#10b981', '#f59e0b', '#ef4444', '#8b5cf6', '#06b6d4', '#ec4899', '#84cc16'];

/** The cluster's totals over the last five minutes. */
export function TotalCharts({ history }: { history: DashboardSnapshot[] }) {
  const held = useMemo(() => heldData(history), [history]);
  const rates = useMemo(() => ratesData(history), [history]);
  const latency = useMemo(() => latencyData(history), [history]);
  return (
    <div class="charts">
      <TimeChart name="held" title="Held connections" series={heldSeries} data={held} />
      <TimeChart name="rates" title="Publishes and deliveries per second" series={ratesSeries} data={rates} unit="/s" />
      <TimeChart name="latency" title="Publish-to-delivery latency (ms)" series={latencySeries} data={latency} unit=" ms" />
    </div>
  );
}

/** Held connections per node; nodes that came or went in the window show as broken lines. */
export function NodesChart({ history }: { history: DashboardSnapshot[] }) {
  const { names, data } = useMemo(() => nodesData(history), [history]);
  // Not memoized: `names` is a new array with every sample, and TimeChart rebuilds only when the set changes.
  const series = names.map((name, index) => ({ label: name, color: nodePalette[index % nodePalette.length] ?? '#3b82f6' }));
  return <TimeChart name="nodes" title="Held connections per node" series={series} data={data} />;
}
