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

/** Decoded positions, by channel key (see `channelKey`). A cursor never grants a channel. */
export type CursorPositions = ReadonlyMap<string, StreamPosition>;

export type DecodedCursor =
  /** A cursor this version can serve; `recent` holds keys (`idKey`) of ids delivered lately, if any. */
  | { kind: 'positions'; positions: CursorPositions; recent: string[] }
  /** Well-formed, but from a version this server does not know: serve it as a gap. */
  | { kind: 'unknown-version' }
  /** No version could have produced it. */
  | { kind: 'malformed' };

export const maxCursorLength = 4096;
export const maxCursorChannels = 64;
/** Most message keys a cursor remembers (see `encodeCursor`). */
export const maxCursorRecent = 32;
const maxFieldLength = 64;
const currentPrefix = 'v1.';
const versionPrefix = /^v[0-9]{1,4}\.[A-Za-z0-9_-]*$/;
const fieldPattern = /^[\x21-\x7e]+$/;
const keyPattern = /^[0-9a-z]{1,11}$/;

/**
 * A short, stable key for a channel name (cyrb53, a 53-bit string hash, in
 * base 36), so a cursor's length does not grow with channel names: a client
 * on 33 channels of 128 characters still gets a cursor that fits a URL.
 */
export function channelKey(channel: string): string {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < channel.length; i++) {
    const code = channel.charCodeAt(i);
    h1 = Math.imul(h1 ^ code, 2654435761);
    h2 = Math.imul(h2 ^ code, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(36);
}

/** A short key for a message id, as a cursor remembers it: the same hash as `channelKey`. */
export const idKey: (id: string) => string = channelKey;

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

/**
 * Encodes positions (by channel name) as an opaque, URL-safe cursor: `v1.` +
 * base64url of the JSON `[[epoch, …], [[channel key, epoch index, offset], …]]`,
 * with a third element `[id key, …]` when `recent` is not empty: the messages
 * delivered lately, where copies of one message can arrive apart (Redis Cluster).
 * Epochs are listed once, since a broker's channels usually share one.
 */
export function encodeCursor(positions: ReadonlyMap<string, StreamPosition>, recent: readonly string[] = []): string {
  const epochs: string[] = [];
  const entries: [string, number, string][] = [];
  for (const [channel, { epoch, offset }] of positions) {
    let index = epochs.indexOf(epoch);
    if (index < 0) index = epochs.push(epoch) - 1;
    entries.push([channelKey(channel), index, offset]);
  }
  // Keys, epochs and offsets are printable ASCII, so btoa is safe here.
  const payload = recent.length === 0 ? [epochs, entries] : [epochs, entries, recent.slice(-maxCursorRecent)];
  return currentPrefix + toBase64Url(JSON.stringify(payload));
}

/** Decodes a cursor into positions by channel key; look channels up with `channelKey(channel)`. */
export function decodeCursor(cursor: string): DecodedCursor {
  if (cursor.length > maxCursorLength || !versionPrefix.test(cursor)) return { kind: 'malformed' };
  if (!cursor.startsWith(currentPrefix)) return { kind: 'unknown-version' };
  const json = fromBase64Url(cursor.slice(currentPrefix.length));
  if (json === undefined) return { kind: 'malformed' };
  let payload: unknown;
  try {
    payload = JSON.parse(json);
  } catch {
    return { kind: 'malformed' };
  }
  if (!Array.isArray(payload) || payload.length < 2 || payload.length > 3) return { kind: 'malformed' };
  const [epochs, entries, recent = []] = payload as unknown[];
  // Written only when not empty: one cursor, one encoding.
  const recentValid =
    Array.isArray(recent) &&
    (payload.length === 2 || recent.length > 0) &&
    recent.length <= maxCursorRecent &&
    recent.every((key) => typeof key === 'string' && keyPattern.test(key));
  if (!recentValid) return { kind: 'malformed' };
  if (!Array.isArray(epochs) || epochs.length > maxCursorChannels || !epochs.every(isField)) return { kind: 'malformed' };
  if (!Array.isArray(entries) || entries.length > maxCursorChannels) return { kind: 'malformed' };
  const positions = new Map<string, StreamPosition>();
  for (const entry of entries) {
    if (!Array.isArray(entry) || entry.length !== 3) return { kind: 'malformed' };
    const [key, index, offset] = entry as unknown[];
    if (typeof key !== 'string' || !keyPattern.test(key) || positions.has(key)) return { kind: 'malformed' };
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= epochs.length || !isField(offset)) {
      return { kind: 'malformed' };
    }
    positions.set(key, { epoch: epochs[index] as string, offset });
  }
  return { kind: 'positions', positions, recent: recent as string[] };
}
