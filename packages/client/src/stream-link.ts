import type { PollResponse } from '@pns/protocol';

/** The transports a client can use, best first. */
export type TransportName = 'websocket' | 'sse' | 'longpoll';

/**
 * How a stream ended. `closed`: the connection went away without a reason from pns (a network cut, a refused
 * upgrade, a proxy); the others are pns's documented end reasons (protocol.md sections 12 and 13).
 */
export type StreamEnd =
  | { kind: 'closed' }
  | { kind: 'shutdown' }
  | { kind: 'superseded' }
  | { kind: 'expired' }
  | { kind: 'backend' }
  /** WebSocket 4008: the client read too slowly; it resumes from its cursor at once. */
  | { kind: 'slow' };

export interface StreamHandlers {
  /** Events reach the client: everything retained after its cursor was sent. pns sends something at least every `heartbeatSeconds` (0: unknown). */
  live(heartbeatSeconds: number): void;
  /** A heartbeat from pns. */
  alive(): void;
  /** Messages, a new cursor, or a gap, in the shape of a poll answer. */
  answer(body: PollResponse): void;
  /** Called once; not called after `close()`. */
  end(end: StreamEnd): void;
}

/** One open SSE or WebSocket connection. */
export interface StreamLink {
  /** Closes it without calling `end`. */
  close(): void;
}

/** Where a stream connects, and from which position. */
export interface StreamTarget {
  /** The server's base URL, without a trailing slash. */
  base: string;
  sid: string;
  cursor: string;
  channels: readonly string[];
}

/** `GET /pns/sse` or `/pns/ws` with the poll's query (`sid`, `cursor`, `ch`), on `base` (default: the target's). */
export function streamUrl(target: StreamTarget, path: string, base = target.base): string {
  const query = new URLSearchParams({ sid: target.sid, cursor: target.cursor });
  for (const channel of target.channels) query.append('ch', channel);
  return `${base}${path}?${query}`;
}

/** A poll answer's shape, checked before anything in it is trusted. */
export function isPollAnswer(value: unknown): value is PollResponse {
  const body = value as PollResponse | null;
  return typeof body === 'object' && body !== null && typeof body.cursor === 'string' && Array.isArray(body.msg);
}
