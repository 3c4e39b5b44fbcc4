import { createHash, timingSafeEqual } from 'node:crypto';

/** The token of an `Authorization: Bearer <token>` header, or undefined for any other header. */
export function bearerToken(authorization: string | undefined): string | undefined {
  return /^Bearer ([^\s]+)$/i.exec(authorization ?? '')?.[1];
}

/** Checks `Authorization: Bearer <key>` against known keys (the publish key, the admin key) in constant time. */
export class BearerKeyVerifier {
  private readonly digests: { digest: Buffer; scope: string }[];

  constructor(keys: readonly string[]) {
    this.digests = keys.map((key) => {
      const digest = createHash('sha256').update(key).digest();
      return { digest, scope: digest.subarray(0, 9).toString('base64url') };
    });
  }

  /** Every known key's scope, in the order the keys were given. */
  get scopes(): string[] {
    return this.digests.map((known) => known.scope);
  }

  /**
   * The key's scope (a short digest, safe to store and log) when the header
   * carries a known key; undefined otherwise.
   */
  verify(authorization: string | undefined): string | undefined {
    const token = bearerToken(authorization);
    if (token === undefined) return undefined;
    const presented = createHash('sha256').update(token).digest();
    let scope: string | undefined;
    for (const known of this.digests) {
      if (timingSafeEqual(presented, known.digest)) scope = known.scope;
    }
    return scope;
  }
}
