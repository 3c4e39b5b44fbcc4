import type { NodeStats } from '@pns/protocol';
import type { ComponentChildren } from 'preact';
import { formatMb, formatMs, formatNumber } from './format.js';
import { heldTotal } from './history.js';

function Card({ title, children, footer }: { title: string; children: ComponentChildren; footer?: ComponentChildren }) {
  return (
    <section class="card stat-card">
      <h2 class="stat-title">{title}</h2>
      <div class="stat-main">{children}</div>
      {footer && <div class="stat-footer">{footer}</div>}
    </section>
  );
}

function Part({ label, stat, value, dot }: { label: string; stat: string; value: string; dot?: string }) {
  return (
    <span class="stat-part">
      {dot && <span class={`dot dot-${dot}`} aria-hidden="true" />}
      {label} <strong data-stat={stat}>{value}</strong>
    </span>
  );
}

/** The cluster at a glance: the total over all nodes. */
export function StatCards({ total }: { total: NodeStats }) {
  return (
    <div class="stat-cards">
      <Card
        title="Held connections"
        footer={
          <>
            <Part label="Long poll" stat="held-longpoll" value={formatNumber(total.held.longpoll)} dot="longpoll" />
            <Part label="SSE" stat="held-sse" value={formatNumber(total.held.sse)} dot="sse" />
            <Part label="WebSocket" stat="held-websocket" value={formatNumber(total.held.websocket)} dot="websocket" />
          </>
        }
      >
        <span class="stat-value" data-stat="held-total">
          {formatNumber(heldTotal(total))}
        </span>
      </Card>
      <Card title="Publishes / s" footer={<span>{formatNumber(total.published)} since start</span>}>
        <span class="stat-value" data-stat="published-per-second">
          {formatNumber(total.publishedPerSecond)}
        </span>
      </Card>
      <Card title="Deliveries / s" footer={<span>{formatNumber(total.delivered)} since start</span>}>
        <span class="stat-value" data-stat="delivered-per-second">
          {formatNumber(total.deliveredPerSecond)}
        </span>
      </Card>
      <Card title="Latency (ms)" footer={<span>{formatNumber(total.latency.count)} deliveries in the last 10 s</span>}>
        <span class="stat-latency">
          <Part label="p50" stat="latency-p50" value={formatMs(total.latency.p50)} />
          <Part label="p90" stat="latency-p90" value={formatMs(total.latency.p90)} />
          <Part label="p99" stat="latency-p99" value={formatMs(total.latency.p99)} />
        </span>
      </Card>
      <Card title="Open connections" footer={<span>{formatNumber(total.brokerChannels)} broker channels</span>}>
        <span class="stat-value" data-stat="open-connections">
          {formatNumber(total.openConnections)}
        </span>
      </Card>
      <Card title="Memory (RSS)" footer={<span>heap {formatMb(total.heapUsedBytes)} MB</span>}>
        <span class="stat-value">
          {formatMb(total.rssBytes)}
          <small> MB</small>
        </span>
      </Card>
    </div>
  );
}
