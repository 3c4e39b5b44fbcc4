import type { DashboardSnapshot, NodeStats } from '@pns/protocol';
import { formatMb, formatMs, formatNumber, formatPercent, formatUptime } from './format.js';

function Row({ node }: { node: NodeStats }) {
  return (
    <tr data-node={node.node}>
      <th scope="row">{node.node}</th>
      <td>{formatNumber(node.held.longpoll)}</td>
      <td>{formatNumber(node.held.sse)}</td>
      <td>{formatNumber(node.held.websocket)}</td>
      <td>{formatNumber(node.openConnections)}</td>
      <td>{formatNumber(node.publishedPerSecond)}</td>
      <td>{formatNumber(node.deliveredPerSecond)}</td>
      <td>{formatMs(node.latency.p99)}</td>
      <td>{formatMb(node.rssBytes)}</td>
      <td>{formatPercent(node.eventLoopBusy)}</td>
      <td>{formatNumber(node.brokerChannels)}</td>
      <td>{formatUptime(node.at - node.startedAt)}</td>
    </tr>
  );
}

export function NodeTable({ stats }: { stats: DashboardSnapshot }) {
  return (
    <div class="card table-card">
      <table class="node-table">
        <thead>
          <tr>
            <th scope="col">Node</th>
            <th scope="col">Long poll</th>
            <th scope="col">SSE</th>
            <th scope="col">WebSocket</th>
            <th scope="col">Open</th>
            <th scope="col">Pub/s</th>
            <th scope="col">Deliv/s</th>
            <th scope="col">p99 ms</th>
            <th scope="col">RSS MB</th>
            <th scope="col" title="Share of the last second the event loop was busy">
              Loop busy %
            </th>
            <th scope="col">Channels</th>
            <th scope="col">Uptime</th>
          </tr>
        </thead>
        <tbody>
          {stats.nodes.map((node) => (
            <Row key={node.node} node={node} />
          ))}
        </tbody>
      </table>
    </div>
  );
}
