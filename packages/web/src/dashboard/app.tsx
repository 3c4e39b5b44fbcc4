import { Icon } from '../shared/icon.js';
import { NodesChart, TotalCharts } from './charts.js';
import { formatClock } from './format.js';
import { KeyForm } from './key-form.js';
import { NodeTable } from './node-table.js';
import { StatCards } from './stat-cards.js';
import { StateBadge } from './state-badge.js';
import { useStats } from './use-stats.js';

export function App() {
  const stats = useStats();
  const { latest } = stats;
  return (
    <div class="dashboard" data-testid="dashboard" data-samples={stats.samples}>
      <header class="top-bar">
        <span class="brand">
          <span class="brand-mark">
            <Icon size={18} strokeWidth={2.2}>
              <path d="M3 12h4l3-7 4 14 3-7h4" />
            </Icon>
          </span>
          pns <span class="brand-sub">operations</span>
        </span>
        <span class="header-fact">
          <strong data-stat="node-count">{latest ? latest.nodes.length : 0}</strong> {latest?.nodes.length === 1 ? 'node' : 'nodes'}
        </span>
        <span class="header-fact">server time {latest ? <strong>{formatClock(latest.at)}</strong> : '–'}</span>
        <StateBadge state={stats.state} reason={stats.reason} />
      </header>
      <main class="content">
        {stats.state === 'key required' && <KeyForm refused={stats.keyRefused} onSubmit={stats.submitKey} />}
        {latest ? (
          <>
            <StatCards total={latest.total} />
            <TotalCharts history={stats.history} />
            <h2 class="section-title">Nodes</h2>
            <NodeTable stats={latest} />
            {latest.nodes.length > 1 && <NodesChart history={stats.history} />}
          </>
        ) : (
          stats.state !== 'key required' && <p class="card placeholder">Waiting for the first sample…</p>
        )}
      </main>
    </div>
  );
}
