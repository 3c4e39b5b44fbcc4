// Numbers as the dashboard shows them. Values under test hooks stay plain numbers (no separators).

/** Counts and rates: whole numbers as they are, others to one decimal. */
export function formatNumber(value: number): string {
  return String(Math.round(value * 10) / 10);
}

/** Seconds as milliseconds to one decimal, or an en dash when there is nothing to measure. */
export function formatMs(seconds: number | null): string {
  return seconds === null ? '–' : String(Math.round(seconds * 10_000) / 10);
}

/** A share (0–1) as a whole percentage. */
export function formatPercent(share: number): string {
  return String(Math.round(share * 100));
}

export function formatMb(bytes: number): string {
  return (bytes / 1024 / 1024).toFixed(1);
}

export function formatUptime(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const days = Math.floor(total / 86_400);
  const hours = Math.floor((total % 86_400) / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  if (days > 0) return `${days}d ${hours}h`;
  if (hours > 0) return `${hours}h ${String(minutes).padStart(2, '0')}m`;
  return minutes > 0 ? `${minutes}m ${String(total % 60).padStart(2, '0')}s` : `${total}s`;
}

const clock = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });

export function formatClock(epochMs: number): string {
  return clock.format(new Date(epochMs));
}
