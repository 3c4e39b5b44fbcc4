import { createHash } from 'node:crypto';
import { channelKey, decodeCursor, encodeCursor, PnsError, parseChannel, type StreamPosition, userChannel } from '@pns/protocol';
import type { Session } from '../auth/session-resolver.js';
import { BrokerUnavailableError } from '../broker/broker.js';
import type { SubscriptionSpec } from '../hub/subscription.js';
import type { TransportContext } from './transport.js';

/** What a client asks for, parsed from the query every transport shares. */
export interface SubscribeQuery {
  sid: string;
  comeFrom: string | undefined;
  cursor: string | undefined;
  topics: string[];
  holdMs: number;
}

const maxComeFromLength = 64;
/** An epoch no broker uses: a position that must be served as a gap, from the oldest retained. */
const unservableEpoch = '-';

function single(query: Record<string, unknown>, name: string): string | undefined {
  const value = query[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new PnsError('BAD_REQUEST', `Query parameter \`${name}\` must be given once.`);
  return value;
}

/** Parses and checks the query; channels are checked against the session later. */
export function parseSubscribeQuery(
  query: Record<string, unknown>,
  config: { holdSeconds: number; maxHoldSeconds: number; maxChannelsPerPoll: number },
): SubscribeQuery {
  const sid = single(query, 'sid');
  if (!sid) throw new PnsError('BAD_REQUEST', 'Query parameter `sid` (the session token) is required.');
  const comeFrom = single(query, 'comeFrom');
  if (comeFrom !== undefined && comeFrom.length > maxComeFromLength) {
    throw new PnsError('BAD_REQUEST', `Query parameter \`comeFrom\` must be at most ${maxComeFromLength} characters.`);
  }
  const cursor = single(query, 'cursor') || undefined;
  const holdText = single(query, 'hold');
  let holdSeconds = config.holdSeconds;
  if (holdText !== undefined) {
    const parsed = /^-?[0-9]{1,6}(\.[0-9]{1,3})?$/.test(holdText) ? Number(holdText) : Number.NaN;
    if (!Number.isFinite(parsed)) throw new PnsError('BAD_REQUEST', 'Query parameter `hold` must be a number of seconds, like 25 or 0.5.');
    holdSeconds = Math.min(Math.max(parsed, 0), config.maxHoldSeconds);
  }
  const rawChannels = query.ch === undefined ? [] : Array.isArray(query.ch) ? query.ch : [query.ch];
  const topics = new Set<string>();
  for (const item of rawChannels as unknown[]) {
    for (const channel of String(item).split(',')) {
      if (channel === '') continue;
      if (!parseChannel(channel)) {
        throw new PnsError('BAD_REQUEST', `Channel ${JSON.stringify(channel.slice(0, 140))} is not of the form user:<id> or topic:<name>.`);
      }
      topics.add(channel);
      if (topics.size > config.maxChannelsPerPoll) {
        throw new PnsError('BAD_REQUEST', `At most ${config.maxChannelsPerPoll} channels may be asked for in one request.`);
      }
    }
  }
  return { sid, comeFrom, cursor, topics: [...topics], holdMs: holdSeconds * 1000 };
}

/** The session's own channel first, then the topics it asked for, each allowed by the token. */
export function authorizeChannels(session: Session, asked: readonly string[]): string[] {
  const own = userChannel(session.userId);
  const channels = [own];
  for (const channel of asked) {
    if (channel === own) continue;
    const parsed = parseChannel(channel);
    if (parsed?.kind !== 'topic' || !session.topics.has(parsed.name)) {
      throw new PnsError('CHANNEL_FORBIDDEN', `This session may not listen to ${JSON.stringify(channel)}.`);
    }
    channels.push(channel);
  }
  return channels;
}

/** A session resolver or position store that fails (rather than refusing) is an unavailable backend. */
async function backend<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (error instanceof PnsError) throw error;
    throw new BrokerUnavailableError('session or position store failed', { cause: error });
  }
}

function digest(text: string): string {
  return createHash('sha256').update(text).digest('base64url').slice(0, 22);
}

/** What the plan decides of a subscription's spec: the same for every transport, so none can leave a part out. */
export type PlannedSpec = Pick<
  SubscriptionSpec,
  'sessionKey' | 'userId' | 'issuedAt' | 'address' | 'channels' | 'positions' | 'gap' | 'recentKeys'
>;

export interface SubscribePlan {
  session: Session;
  /** Set for a cursorless client: where its position is remembered between polls. */
  clientKey: string | undefined;
  spec: PlannedSpec;
}

/**
 * Authenticates, authorizes the channels and finds where to start: from the
 * cursor; else from where this `sid`+`comeFrom` last stood; else at "now".
 * A transport whose clients always resume by cursor (SSE's Last-Event-ID)
 * passes `rememberCursorless: false`: without a cursor it starts at "now".
 */
export async function planSubscription(
  query: SubscribeQuery,
  context: TransportContext,
  options: { rememberCursorless?: boolean; address?: string } = {},
): Promise<SubscribePlan> {
  const session = await backend(() => context.sessions.resolve(query.sid));
  if (session.topics.size > context.config.maxTopicsPerToken) {
    throw new PnsError('SESSION_INVALID', `The session lists more than ${context.config.maxTopicsPerToken} topics.`);
  }
  // Refused before any read: a client over its cap costs no more than its token check.
  context.hub.admit(query.sid, session.userId, options.address);
  const channels = authorizeChannels(session, query.topics);
  // The token itself groups its subscriptions: it stays in this process (the request holds it anyway),
  // and hashing it on every poll cost more than the lookup. Stored keys (below) are digests.
  const sessionKey = query.sid;
  const remember = query.cursor === undefined && options.rememberCursorless !== false;
  const clientKey = remember ? digest(`${query.sid}\n${query.comeFrom ?? ''}`) : undefined;
  let stored: string | 'expired' | undefined = query.cursor;
  if (clientKey !== undefined) stored = await backend(() => context.clientPositions.get(clientKey));
  let recentKeys: string[] = [];
  let known: ReadonlyMap<string, StreamPosition> | undefined;
  let gap = false;
  // A cursorless client unknown here whose token predates this server may have
  // polled the server before it: what it missed since is served as a gap.
  // (`iat` has whole seconds, so only a token issued a full second before the start counts.)
  const polledBefore =
    stored === undefined &&
    clientKey !== undefined &&
    !context.clientPositions.survivesRestart &&
    session.issuedAt !== undefined &&
    session.issuedAt + 1000 <= context.startedAt;
  if (stored === 'expired' || polledBefore) gap = true;
  else if (stored !== undefined) {
    const decoded = decodeCursor(stored);
    if (decoded.kind === 'malformed') throw new PnsError('BAD_REQUEST', 'Query parameter `cursor` is not a pns cursor.');
    if (decoded.kind === 'unknown-version') gap = true;
    else ({ positions: known, recent: recentKeys } = decoded);
  }
  const keys = channels.map(channelKey);
  // Two channels with one key (a 53-bit hash collision) cannot tell their positions apart: serve both as a gap.
  const ambiguous = (key: string): boolean => known !== undefined && keys.indexOf(key) !== keys.lastIndexOf(key);
  if (keys.some(ambiguous)) gap = true;
  const found = await Promise.all(
    channels.map(async (channel, index) => {
      const key = keys[index] as string;
      const position = ambiguous(key) ? undefined : known?.get(key);
      return position ?? (gap ? { epoch: unservableEpoch, offset: '0' } : backend(() => context.hub.broker.head(channel)));
    }),
  );
  const positions = new Map<string, StreamPosition>(channels.map((channel, index) => [channel, found[index] as StreamPosition]));
  if (clientKey !== undefined && stored === undefined) {
    // Seen from its first poll on: what is published from now is kept for it.
    await backend(() => context.clientPositions.set(clientKey, encodeCursor(positions)));
  }
  // Checked again: others of this user may have opened while this one read.
  context.hub.admit(query.sid, session.userId, options.address);
  const { userId, issuedAt } = session;
  return {
    session,
    clientKey,
    spec: { sessionKey, userId, issuedAt, address: options.address, channels, positions, gap, recentKeys },
  };
}
