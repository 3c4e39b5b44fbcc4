import { isValidChannelName } from '@pns/protocol';
import { SignJWT } from 'jose';

export interface TokenOptions {
  /** The server's token secret (`PNS_SECRET`). */
  secret: string;
  /** The user id: the token's `sub`; the session listens to `user:<user>`. */
  user: string;
  /** Topic names the session may listen to (`topic:<name>`). */
  topics?: readonly string[];
  /** Lifetime: seconds, or a duration such as `90s`, `15m`, `1h`, `7d`. Default 1 hour. */
  ttl?: number | string;
  /** The token's `iss`: needed when the server sets `PNS_JWT_ISSUER`. */
  issuer?: string;
  /** The token's `aud`: needed when the server sets `PNS_JWT_AUDIENCE`. */
  audience?: string;
}

const unitSeconds: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** Seconds in a ttl given as a number of seconds or as `<n><s|m|h|d>`; undefined when invalid. */
export function parseDuration(ttl: number | string): number | undefined {
  let seconds: number;
  if (typeof ttl === 'number') seconds = Math.floor(ttl);
  else {
    const match = /^([0-9]+)([smhd]?)$/.exec(ttl.trim());
    if (!match) return undefined;
    seconds = Number(match[1]) * (unitSeconds[match[2] || 's'] as number);
  }
  return Number.isSafeInteger(seconds) && seconds >= 1 ? seconds : undefined;
}

/** Mints a session token (HS256 JWT) that a browser passes as `sid`. */
export async function createToken(options: TokenOptions): Promise<string> {
  if (!isValidChannelName(options.user)) throw new TypeError(`Invalid user id ${JSON.stringify(options.user)}`);
  for (const topic of options.topics ?? []) {
    if (!isValidChannelName(topic)) throw new TypeError(`Invalid topic name ${JSON.stringify(topic)}`);
  }
  const seconds = parseDuration(options.ttl ?? 3600);
  if (seconds === undefined) throw new TypeError(`Invalid ttl ${JSON.stringify(options.ttl)}: use seconds or e.g. 15m, 1h, 7d`);
  const claims = options.topics && options.topics.length > 0 ? { topics: [...options.topics] } : {};
  const now = Math.floor(Date.now() / 1000);
  const token = new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(options.user)
    .setIssuedAt(now)
    .setExpirationTime(now + seconds);
  if (options.issuer !== undefined) token.setIssuer(options.issuer);
  if (options.audience !== undefined) token.setAudience(options.audience);
  return token.sign(new TextEncoder().encode(options.secret));
}
