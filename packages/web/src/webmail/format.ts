import type { DemoUser } from '@pns/protocol';

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayFormat = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

/** The list's short date: the time for today's mail, the day otherwise, as mail clients do. */
export function shortDate(epochMs: number, now = Date.now()): string {
  const date = new Date(epochMs);
  return date.toDateString() === new Date(now).toDateString() ? timeFormat.format(date) : dayFormat.format(date);
}

export function fullDate(epochMs: number): string {
  return fullFormat.format(new Date(epochMs));
}

export function initials(user: DemoUser): string {
  const letters = user.name
    .split(/\s+/)
    .filter(Boolean)
    .map((word) => word.charAt(0));
  return (letters.length > 1 ? `${letters[0]}${letters.at(-1)}` : (letters[0] ?? '?')).toUpperCase();
}

const avatarColours = ['#2563eb', '#059669', '#d97706', '#dc2626', '#7c3aed', '#0891b2', '#db2777', '#4d7c0f'];

/** A stable colour per user, so the same sender always looks the same. */
export function avatarColour(user: DemoUser): string {
  let hash = 0;
  for (const char of user.id) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return avatarColours[hash % avatarColours.length] ?? '#2563eb';
}

export function pageTitle(userName: string, unread: number): string {
  const base = `Inbox — ${userName} — pns mail`;
  return unread > 0 ? `(${unread}) ${base}` : base;
}
