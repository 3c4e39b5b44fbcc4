import { parseChannel } from './channel.js';

/**
 * A position in one channel's stream. `epoch` names the stream's lifetime:
 * when it differs from the stream's current epoch (store reset, server
 * restart with the memory broker) the position cannot be served and the
 * client is told `gap: true`. `offset` is broker-specific and opaque here.
 */
export interface StreamPosition {
  epoch: string;
  offset: string;
}

/** Channel → position. A cursor carries positions only; it never grants a channel. */
export type CursorPositions = ReadonlyMap<string, StreamPosition>;

export type DecodedCursor =
  /** A cursor this version can serve. */
  | { kind: 'positions'; positions: CursorPositions }
  /** Well-formed, but from a version this server does not know: serve it as a gap. */
  | { kind: 'unknown-version' }
  /** No version could have produced it. */
  | { kind: 'malformed' };

export const maxCursorLength = 4096;
export const maxCursorChannels = 64;
const maxFieldLength = 64;
const currentPrefix = 'v1.';
const versionPrefix = /^v[0-9]{1,4}\.[A-Za-z0-9_-]*$/;
const fieldPattern = /^[\x21-\x7e]+$/;

function toBase64Url(ascii: string): string {
  return btoa(ascii).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromBase64Url(text: string): string | undefined {
  if (text.length % 4 === 1) return undefined;
  try {
    return atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  } catch {
    return undefined;
  }
}

function isField(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= maxFieldLength && fieldPattern.test(value);
}

/** Encodes positions as an opaque, URL-safe cursor (`v1.` + base64url of JSON). */
export function encodeCursor(positions: CursorPositions): string {
  const entries: [string, string, string][] = [];
  for (const [channel, position] of positions) entries.push([channel, position.epoch, position.offset]);
  // Channel names, epochs and offsets are printable ASCII, so btoa is safe here.
  return currentPrefix + toBase64Url(JSON.stringify(entries));
}

export function decodeCursor(cursor: string): DecodedCursor {
  if (cursor.length > maxCursorLength || !versionPrefix.test(cursor)) return { kind: 'malformed' };
  if (!cursor.startsWith(currentPrefix)) return { kind: 'unknown-version' };
  const json = fromBase64Url(cursor.slice(currentPrefix.length));
  if (json === undefined) return { kind: 'malformed' };
  let entries: unknown;
  try {
    entries = JSON.parse(json);
  } catch {
    return { kind: 'malformed' };
  }
  if (!Array.isArray(entries) || entries.length > maxCursorChannels) return { kind: 'malformed' };
  const positions = new Map<string, StreamPosition>();
  for (const entry of entries) {
    if (!Array.isArray(entry) || entry.length !== 3) return { kind: 'malformed' };
    const [channel, epoch, offset] = entry as unknown[];
    if (typeof channel !== 'string' || !parseChannel(channel) || !isField(epoch) || !isField(offset)) {
      return { kind: 'malformed' };
    }
    if (positions.has(channel)) return { kind: 'malformed' };
    positions.set(channel, { epoch, offset });
  }
  return { kind: 'positions', positions };
}
