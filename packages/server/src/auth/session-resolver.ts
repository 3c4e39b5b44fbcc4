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
