/** Who is polling, as a token proves it. */
export interface Session {
  userId: string;
  /** Topic names the session may listen to (without the `topic:` prefix). */
  topics: ReadonlySet<string>;
  /** Epoch ms after which the session is over, if it ends. */
  expiresAt: number | undefined;
}

/**
 * Turns a `sid` into a session, or rejects with a `PnsError` of
 * `SESSION_EXPIRED` or `SESSION_INVALID`. The JWT resolver is the default; a
 * callback or shared session store can implement the same interface.
 */
export interface SessionResolver {
  resolve(sid: string): Promise<Session>;
}
