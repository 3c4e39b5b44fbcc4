import type { PnsStatus } from '@pns/client';

const labels: Record<PnsStatus, string> = {
  idle: 'Connecting…',
  polling: 'Live',
  following: 'Live · via another tab',
  waiting: 'Reconnecting…',
  offline: 'Offline',
  stopped: 'Not connected',
};

function tone(status: PnsStatus): 'live' | 'pending' | 'down' {
  if (status === 'polling' || status === 'following') return 'live';
  return status === 'idle' || status === 'waiting' ? 'pending' : 'down';
}

/** Where new mail comes from: the push client's status and, in the tab that polls, its transport. */
export function ConnectionIndicator({ status, transport }: { status: PnsStatus; transport: string }) {
  const label = status === 'polling' && transport ? `${labels.polling} · ${transport}` : labels[status];
  return (
    <span class={`connection connection-${tone(status)}`} data-testid="connection" data-status={status} data-transport={transport}>
      <span class="connection-dot" aria-hidden="true" />
      {label}
    </span>
  );
}
