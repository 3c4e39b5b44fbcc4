import { webcrypto } from 'node:crypto';
import { PnsError } from '@pns/protocol';
import { type CompactJWSHeaderParameters, decodeProtectedHeader, type JWTPayload, errors as joseErrors, jwtVerify } from 'jose';
import { jwksAlgorithms, type KeyCandidates } from './jwks-keys.js';
import { checkedSession, type Session, type SessionResolver } from './session-resolver.js';

export interface JwtSessionResolverOptions {
  /** Every secret a token may be signed with (several while one replaces another). */
  secrets: readonly string[];
  /** The public keys of RS256 and ES256 tokens (`jwksKeys`); without it, only HS256 tokens are accepted. */
  jwks?: KeyCandidates;
  /** When set, a token's `iss` must be this. */
  issuer?: string;
  /** When set, a token's `aud` must be or contain this. */
  audience?: string;
  /** Seconds of clock difference tolerated on `exp` and `nbf`. */
  clockToleranceSeconds?: number;
  /** Verified tokens remembered, so a client's next poll skips the signature check. Default 10 000. */
  cacheSize?: number;
  now?: () => number;
}

const maxTokenLength = 8192;
const compactJwt = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/**
 * Verifies session tokens: `sub` is the user, `exp` is required, `topics` optional. The algorithm is
 * pinned to the kind of key: HS256 against the secrets only, RS256 and ES256 against the JWKS only, so a
 * public key can never be used as an HMAC secret, and `none` or any other algorithm has no key at all.
 */
export class JwtSessionResolver implements SessionResolver {
  /**
   * Imported once: given raw bytes, jose imports the key again on every
   * verification, which doubled its cost (about 110 µs instead of 60 µs), and
   * a reconnect storm verifies every client's token at once.
   */
  private readonly keys: Promise<webcrypto.CryptoKey[]>;
  private readonly jwks: KeyCandidates | undefined;
  private readonly issuer: string | undefined;
  private readonly audience: string | undefined;
  private readonly clockTolerance: number;
  private readonly cacheSize: number;
  private readonly now: () => number;
  /**
   * Sessions of verified tokens, least recently used first. A token is signed
   * and self-contained, so its verification stays true until it expires.
   */
  private readonly verified = new Map<string, Session>();

  constructor(options: JwtSessionResolverOptions) {
    this.keys = Promise.all(
      options.secrets.map((secret) =>
        webcrypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']),
      ),
    );
    this.jwks = options.jwks;
    this.issuer = options.issuer;
    this.audience = options.audience;
    this.clockTolerance = options.clockToleranceSeconds ?? 30;
    this.cacheSize = options.cacheSize ?? 10_000;
    this.now = options.now ?? Date.now;
  }

  async resolve(sid: string): Promise<Session> {
    const cached = this.verified.get(sid);
    if (cached) {
      this.verified.delete(sid);
      if (cached.expiresAt === undefined || cached.expiresAt > this.now()) {
        this.verified.set(sid, cached);
        return cached;
      }
      throw new PnsError('SESSION_EXPIRED');
    }
    const session = await this.verify(sid);
    // A flat copy: `sid` is a slice of its request's URL, which the cache would otherwise keep alive.
    this.verified.set(Buffer.from(sid, 'latin1').toString('latin1'), session);
    if (this.verified.size > this.cacheSize) this.verified.delete(this.verified.keys().next().value as string);
    return session;
  }

  private async verify(sid: string): Promise<Session> {
    if (sid.length > maxTokenLength) throw new PnsError('SESSION_INVALID', 'The session token is too long.');
    // One spelling per token: jose also accepts padding and spaces, which would give a revoked token
    // another spelling that revocations and the cache do not know.
    if (!compactJwt.test(sid)) throw new PnsError('SESSION_INVALID');
    const header = protectedHeader(sid);
    let payload: JWTPayload | undefined;
    // Newest key first; a token signed with an older one costs one more check (then it is cached).
    for await (const key of await this.candidates(sid, header)) {
      try {
        ({ payload } = await jwtVerify(sid, key, {
          algorithms: [header.alg],
          issuer: this.issuer,
          audience: this.audience,
          clockTolerance: this.clockTolerance,
          currentDate: new Date(this.now()),
          requiredClaims: ['exp', 'sub'],
        }));
        break;
      } catch (error) {
        if (error instanceof joseErrors.JWSSignatureVerificationFailed) continue;
        if (error instanceof joseErrors.JWTExpired) throw new PnsError('SESSION_EXPIRED');
        throw new PnsError('SESSION_INVALID');
      }
    }
    if (!payload) throw new PnsError('SESSION_INVALID');
    const { sub, topics, exp, iat } = payload;
    return checkedSession(
      {
        user: sub,
        topics,
        // Held polls end when the token stops being accepted, not at `exp`: ending them at `exp`
        // would answer every poll at once during the tolerance, and clients would spin.
        expiresAt: typeof exp === 'number' ? (exp + this.clockTolerance) * 1000 : undefined,
        issuedAt: typeof iat === 'number' ? iat * 1000 : undefined,
      },
      'The session token',
    );
  }

  /** The keys the token's algorithm may be checked against: the secrets for HS256, the JWKS for RS256 and ES256, else none. */
  private async candidates(
    sid: string,
    header: CompactJWSHeaderParameters,
  ): Promise<Iterable<webcrypto.CryptoKey> | AsyncIterable<webcrypto.CryptoKey>> {
    if (header.alg === 'HS256') return this.keys;
    if (!this.jwks || !jwksAlgorithms.includes(header.alg)) return [];
    const [encodedHeader = '', payload = '', signature = ''] = sid.split('.');
    return this.jwks(header, { protected: encodedHeader, payload, signature });
  }
}

/** The token's header, with the algorithm every JWS names (anything else is no token of ours). */
function protectedHeader(sid: string): CompactJWSHeaderParameters {
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(sid);
  } catch {
    throw new PnsError('SESSION_INVALID');
  }
  if (typeof header.alg !== 'string') throw new PnsError('SESSION_INVALID');
  return header as CompactJWSHeaderParameters;
}
