import { createHash, timingSafeEqual } from 'node:crypto';

/** Checks `Authorization: Bearer <publish key>` in constant time. */
export class PublishKeyVerifier {
  private readonly digests: { digest: Buffer; scope: string }[];

  constructor(keys: readonly string[]) {
    this.digests = keys.map((key) => {
      const digest = createHash('sha256').update(key).digest();
      return { digest, scope: digest.subarray(0, 9).toString('base64url') };
    });
  }

  /**
   * The key's scope (a short digest, safe to store and log) when the header
   * carries a known key; undefined otherwise.
   */
  verify(authorization: string | undefined): string | undefined {
    const match = /^Bearer ([^\s]+)$/i.exec(authorization ?? '');
    if (!match) return undefined;
    const presented = createHash('sha256')
      .update(match[1] as string)
      .digest();
    let scope: string | undefined;
    for (const known of this.digests) {
      if (timingSafeEqual(presented, known.digest)) scope = known.scope;
    }
    return scope;
  }
}
