import type { DashboardState } from './use-stats.js';

/** Whether the numbers on screen are current; while disconnected they are the last ones received. */
export function StateBadge({ state, reason }: { state: DashboardState; reason: string }) {
  const tone = state === 'live' ? 'live' : state === 'disconnected' ? 'down' : 'pending';
  return (
    <span class={`state state-${tone}`} title={state === 'disconnected' ? reason : undefined}>
      <span class="state-dot" aria-hidden="true" />
      <span data-testid="dashboard-state">{state}</span>
      {state === 'disconnected' && <span> — retrying</span>}
    </span>
  );
}
