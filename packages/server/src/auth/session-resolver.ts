import { isValidChannelName, PnsError } from '@pns/protocol';

/** Who is polling, as a token proves it. */
export interface Session {
  userId: string;
  /** Topic names the session may listen to (without the `topic:` prefix). */
  topics: ReadonlySet<string>;
  /** Epoch ms from which pns refuses the session (its expiry plus any clock tolerance), if it ends. */
  expiresAt: number | undefined;
  /** Epoch ms the session's token was issued, if known. */
  issuedAt: number | undefined;
}

/**
 * Turns a `sid` into a session, or rejects with a `PnsError` of
 * `SESSION_EXPIRED` or `SESSION_INVALID`. The JWT resolver is the default; a
 * callback or shared session store can implement the same interface.
 */
export interface SessionResolver {
  resolve(sid: string): Promise<Session>;
}

/** A sanity bound whatever PNS_MAX_TOPICS_PER_TOKEN says (which is checked where sessions are used). */
const maxTopics = 4096;
/** Shared by every session without topics (most of them): one empty set, not one per session. */
const noTopics: ReadonlySet<string> = new Set<string>();

/**
 * A session from the user id and topics a token or a session store gave, checked the same way for every
 * resolver: the user id must make a valid channel name, topics (optional) a list of at most 4096 of them.
 * Otherwise `SESSION_INVALID`, naming `source` ("The session token", "The session").
 */
export function checkedSession(
  fields: { user: unknown; topics: unknown; expiresAt: number | undefined; issuedAt: number | undefined },
  source: string,
): Session {
  const { user, topics } = fields;
  if (typeof user !== 'string' || !isValidChannelName(user)) throw new PnsError('SESSION_INVALID', `${source} has no valid user id.`);
  if (
    topics !== undefined &&
    !(Array.isArray(topics) && topics.length <= maxTopics && topics.every((t) => typeof t === 'string' && isValidChannelName(t)))
  ) {
    throw new PnsError('SESSION_INVALID', `${source} has invalid \`topics\`.`);
  }
  return {
    userId: user,
    topics: topics === undefined || (topics as string[]).length === 0 ? noTopics : new Set(topics as string[]),
    expiresAt: fields.expiresAt,
    issuedAt: fields.issuedAt,
  };
}
