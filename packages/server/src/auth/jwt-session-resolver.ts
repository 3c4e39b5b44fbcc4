import { isValidChannelName, PnsError } from '@pns/protocol';
import { errors as joseErrors, jwtVerify } from 'jose';
import type { Session, SessionResolver } from './session-resolver.js';

export interface JwtSessionResolverOptions {
  secret: string;
  /** Seconds of clock difference tolerated on `exp` and `nbf`. */
  clockToleranceSeconds?: number;
}

const maxTokenLength = 8192;
const maxTopics = 256;

/** Verifies HS256 session tokens: `sub` is the user, `exp` is required, `topics` optional. */
export class JwtSessionResolver implements SessionResolver {
  private readonly key: Uint8Array;
  private readonly clockTolerance: number;

  constructor(options: JwtSessionResolverOptions) {
    this.key = new TextEncoder().encode(options.secret);
    this.clockTolerance = options.clockToleranceSeconds ?? 30;
  }

  async resolve(sid: string): Promise<Session> {
    if (sid.length > maxTokenLength) throw new PnsError('SESSION_INVALID', 'The session token is too long.');
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(sid, this.key, {
        algorithms: ['HS256'],
        clockTolerance: this.clockTolerance,
        requiredClaims: ['exp', 'sub'],
      }));
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) throw new PnsError('SESSION_EXPIRED');
      throw new PnsError('SESSION_INVALID');
    }
    const { sub, topics, exp, iat } = payload;
    if (typeof sub !== 'string' || !isValidChannelName(sub)) {
      throw new PnsError('SESSION_INVALID', 'The session token has no valid `sub` (user id).');
    }
    if (
      topics !== undefined &&
      !(Array.isArray(topics) && topics.length <= maxTopics && topics.every((t) => typeof t === 'string' && isValidChannelName(t)))
    ) {
      throw new PnsError('SESSION_INVALID', 'The session token has an invalid `topics` claim.');
    }
    return {
      userId: sub,
      topics: new Set((topics as string[] | undefined) ?? []),
      // Held polls end when the token stops being accepted, not at `exp`: ending them at `exp`
      // would answer every poll at once during the tolerance, and clients would spin.
      expiresAt: typeof exp === 'number' ? (exp + this.clockTolerance) * 1000 : undefined,
      issuedAt: typeof iat === 'number' ? iat * 1000 : undefined,
    };
  }
}
