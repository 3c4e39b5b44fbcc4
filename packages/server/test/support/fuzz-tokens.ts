// Session tokens for the fuzz suites, signed here synchronously with node:crypto (fast-check arbitraries are
// synchronous), so any header, claim or signature can be forged: HS256 with the server's secret, RS256 and ES256
// with the keys of the server's JWKS file, and every way of getting that wrong, each with the verdict it must get.
import { createHmac, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import fc from 'fast-check';
import { emoji } from './bad-input-table.js';
import { channelName, part } from './fuzz-arbitraries.js';

export interface TokenKeys {
  secret: string;
  rsa: { kid: string; privateKey: KeyObject; publicPem: string };
  ec: { kid: string; privateKey: KeyObject };
  /** An RSA key the server does not know (a token signed with it, and naming it in `jwk`, must be refused). */
  stranger: { privateKey: KeyObject; jwk: Record<string, unknown> };
  /** The server's PNS_JWKS file: the public halves of `rsa` and `ec`. */
  jwks: { keys: Record<string, unknown>[] };
}

export function tokenKeys(secret: string): TokenKeys {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = (key: KeyObject, kid: string, alg: string): Record<string, unknown> => ({
    ...key.export({ format: 'jwk' }),
    kid,
    alg,
    use: 'sig',
  });
  return {
    secret,
    rsa: { kid: 'fuzz-rsa', privateKey: rsa.privateKey, publicPem: rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString() },
    ec: { kid: 'fuzz-ec', privateKey: ec.privateKey },
    stranger: { privateKey: stranger.privateKey, jwk: jwk(stranger.publicKey, 'fuzz-rsa', 'RS256') },
    jwks: { keys: [jwk(rsa.publicKey, 'fuzz-rsa', 'RS256'), jwk(ec.publicKey, 'fuzz-ec', 'ES256')] },
  };
}

/** How a signature is made: `hmac` keys are strings, `rsa` and `ec` keys are private keys. */
export type Signer =
  | { kind: 'hmac'; hash: 'sha256' | 'sha384' | 'sha512'; key: string }
  | { kind: 'rsa'; key: KeyObject }
  | { kind: 'ec'; key: KeyObject }
  | { kind: 'empty' };

export function signature(signer: Signer, input: string): string {
  if (signer.kind === 'hmac') return createHmac(signer.hash, signer.key).update(input).digest('base64url');
  if (signer.kind === 'rsa') return sign('sha256', Buffer.from(input), signer.key).toString('base64url');
  if (signer.kind === 'ec') return sign('sha256', Buffer.from(input), { key: signer.key, dsaEncoding: 'ieee-p1363' }).toString('base64url');
  return '';
}

function jws(header: unknown, claims: unknown, signer: Signer): string {
  const input = `${part(header)}.${part(claims)}`;
  return `${input}.${signature(signer, input)}`;
}

/** The right way to sign each accepted algorithm. */
function goodSigner(keys: TokenKeys, alg: 'HS256' | 'RS256' | 'ES256'): Signer {
  if (alg === 'HS256') return { kind: 'hmac', hash: 'sha256', key: keys.secret };
  return alg === 'RS256' ? { kind: 'rsa', key: keys.rsa.privateKey } : { kind: 'ec', key: keys.ec.privateKey };
}

function goodHeader(keys: TokenKeys, alg: 'HS256' | 'RS256' | 'ES256'): Record<string, unknown> {
  if (alg === 'HS256') return { alg, typ: 'JWT' };
  return { alg, typ: 'JWT', kid: alg === 'RS256' ? keys.rsa.kid : keys.ec.kid };
}

/** A valid HS256 token for `user`, good for an hour. */
export function validToken(keys: TokenKeys, user: string, extra: Record<string, unknown> = {}): string {
  const now = Math.floor(Date.now() / 1000);
  return jws(goodHeader(keys, 'HS256'), { sub: user, iat: now, exp: now + 3600, ...extra }, goodSigner(keys, 'HS256'));
}

// ---------------------------------------------------------------------------
// Session tokens.

export type TokenVerdict = 'ok' | 'SESSION_INVALID' | 'SESSION_EXPIRED';

export interface HostileToken {
  kind: string;
  token: string;
  /** What the session resolver makes of it (a revoke of this sid gets this). */
  resolves: TokenVerdict;
  /** What a poll or stream with it gets: also SESSION_INVALID beyond PNS_MAX_TOPICS_PER_TOKEN (256). */
  subscribes: TokenVerdict;
}

const maxTokenLength = 8192;
const nowSeconds = (): number => Math.floor(Date.now() / 1000);
const nested = (depth: number): unknown => {
  let value: unknown = [];
  for (let i = 0; i < depth; i++) value = i % 2 ? [value] : { a: value };
  return value;
};

/** Claims of a good token; `ttl` goes far beyond what timers can hold, and a little into the 30 s tolerance. */
const goodClaims = fc
  .record(
    {
      sub: channelName,
      ttl: fc.oneof(fc.integer({ min: -10, max: 86_400 }), fc.constantFrom(60 * 86_400, 400 * 86_400, 1e12, 1e308)),
      age: fc.integer({ min: 0, max: 30 * 86_400 }),
      nbfAgo: fc.integer({ min: -10, max: 86_400 }),
      topics: fc.oneof(fc.array(channelName, { maxLength: 8 }), fc.constant(Array.from({ length: 256 }, (_, i) => `t${i}`))),
      extra: fc.oneof(
        fc.integer({ min: 1, max: 1500 }).map(nested),
        fc.integer({ min: 1, max: 5000 }).map((n) => 'x'.repeat(n)),
        fc.jsonValue({ maxDepth: 3 }),
      ),
      iss: fc.string({ maxLength: 20 }),
      aud: fc.oneof(fc.string({ maxLength: 20 }), fc.array(fc.string({ maxLength: 8 }), { maxLength: 3 })),
    },
    { requiredKeys: ['sub', 'ttl'] },
  )
  .map(({ sub, ttl, age, nbfAgo, topics, extra, iss, aud }) => {
    const now = nowSeconds();
    const claims: Record<string, unknown> = { sub, exp: ttl >= 1e12 ? ttl : now + ttl };
    if (age !== undefined) claims.iat = now - age;
    if (nbfAgo !== undefined) claims.nbf = now - nbfAgo;
    if (topics !== undefined) claims.topics = topics;
    if (extra !== undefined) claims.extra = extra;
    if (iss !== undefined) claims.iss = iss;
    if (aud !== undefined) claims.aud = aud;
    return claims;
  });

const algorithm = fc.constantFrom<'HS256' | 'RS256' | 'ES256'>('HS256', 'RS256', 'ES256');
const junkSegment = fc.oneof(
  fc.base64String({ maxLength: 40 }),
  fc.stringMatching(/^[A-Za-z0-9_-]{0,60}$/),
  fc.string({ unit: 'grapheme-ascii', maxLength: 30 }),
  fc.constantFrom('', '=', '==', 'e30', 'bnVsbA', 'W10', 'Im5vbmUi', 'eyJhbGciOiJIUzI1NiJ9'),
);

type Flaw = {
  kind: string;
  make: (keys: TokenKeys, claims: Record<string, unknown>) => string;
  verdict: TokenVerdict;
  /** When a subscription says otherwise: topics past PNS_MAX_TOPICS_PER_TOKEN are the subscription's check, not the resolver's. */
  subscribes?: TokenVerdict;
};

const hmac = (keys: TokenKeys, hash: 'sha256' | 'sha384' | 'sha512' = 'sha256') => ({ kind: 'hmac' as const, hash, key: keys.secret });
const hs = (keys: TokenKeys, claims: unknown, header: unknown = goodHeader(keys, 'HS256')) => jws(header, claims, hmac(keys));
const past = (): number => nowSeconds() - 120 - Math.floor(Math.random() * 1e6);
const future = (): number => nowSeconds() + 120 + Math.floor(Math.random() * 1e6);

/** One flaw each: the verdict is the one flaw's. */
const flaws: Flaw[] = [
  { kind: 'HS512', make: (k, c) => jws({ alg: 'HS512', typ: 'JWT' }, c, hmac(k, 'sha512')), verdict: 'SESSION_INVALID' },
  { kind: 'HS384', make: (k, c) => jws({ alg: 'HS384' }, c, hmac(k, 'sha384')), verdict: 'SESSION_INVALID' },
  { kind: 'RS256 header, HMAC signature', make: (k, c) => jws({ alg: 'RS256', kid: k.rsa.kid }, c, hmac(k)), verdict: 'SESSION_INVALID' },
  {
    kind: 'HS256 keyed with the public key',
    make: (k, c) => jws({ alg: 'HS256' }, c, { kind: 'hmac', hash: 'sha256', key: k.rsa.publicPem }),
    verdict: 'SESSION_INVALID',
  },
  { kind: 'alg none', make: (_k, c) => jws({ alg: 'none', typ: 'JWT' }, c, { kind: 'empty' }), verdict: 'SESSION_INVALID' },
  { kind: 'alg None', make: (_k, c) => `${part({ alg: 'None' })}.${part(c)}.sig`, verdict: 'SESSION_INVALID' },
  { kind: 'alg missing', make: (k, c) => hs(k, c, { typ: 'JWT' }), verdict: 'SESSION_INVALID' },
  { kind: 'alg not a string', make: (k, c) => hs(k, c, { alg: 256 }), verdict: 'SESSION_INVALID' },
  {
    kind: 'PS256',
    make: (k, c) => jws({ alg: 'PS256', kid: k.rsa.kid }, c, { kind: 'rsa', key: k.rsa.privateKey }),
    verdict: 'SESSION_INVALID',
  },
  { kind: 'EdDSA', make: (k, c) => jws({ alg: 'EdDSA' }, c, hmac(k)), verdict: 'SESSION_INVALID' },
  {
    kind: 'ES256 header, RSA signature',
    make: (k, c) => jws({ alg: 'ES256', kid: k.ec.kid }, c, { kind: 'rsa', key: k.rsa.privateKey }),
    verdict: 'SESSION_INVALID',
  },
  {
    kind: 'RS256 unknown kid',
    make: (k, c) => jws({ alg: 'RS256', kid: 'nobody' }, c, { kind: 'rsa', key: k.rsa.privateKey }),
    verdict: 'SESSION_INVALID',
  },
  {
    kind: 'RS256 by a stranger',
    make: (k, c) => jws({ alg: 'RS256', kid: k.rsa.kid }, c, { kind: 'rsa', key: k.stranger.privateKey }),
    verdict: 'SESSION_INVALID',
  },
  {
    kind: 'RS256 by a stranger, its key embedded',
    make: (k, c) => jws({ alg: 'RS256', jwk: k.stranger.jwk }, c, { kind: 'rsa', key: k.stranger.privateKey }),
    verdict: 'SESSION_INVALID',
  },
  { kind: 'crit', make: (k, c) => hs(k, c, { alg: 'HS256', crit: ['exp'], exp: 1 }), verdict: 'SESSION_INVALID' },
  {
    kind: 'other secret',
    make: (_k, c) => jws({ alg: 'HS256' }, c, { kind: 'hmac', hash: 'sha256', key: 'another-secret-0123456789' }),
    verdict: 'SESSION_INVALID',
  },
  { kind: 'signature cut short', make: (k, c) => hs(k, c).slice(0, -6), verdict: 'SESSION_INVALID' },
  { kind: 'signature dropped', make: (k, c) => hs(k, c).replace(/[^.]*$/, ''), verdict: 'SESSION_INVALID' },
  {
    kind: 'claims swapped after signing',
    make: (k, c) => hs(k, c).replace(/\.[^.]*\./, `.${part({ ...c, sub: 'someone-else' })}.`),
    verdict: 'SESSION_INVALID',
  },
  { kind: 'expired', make: (k, c) => hs(k, { ...c, exp: past() }), verdict: 'SESSION_EXPIRED' },
  { kind: 'nbf in the future', make: (k, c) => hs(k, { ...c, nbf: future() }), verdict: 'SESSION_INVALID' },
  { kind: 'nbf not a number', make: (k, c) => hs(k, { ...c, nbf: 'soon' }), verdict: 'SESSION_INVALID' },
  { kind: 'sub missing', make: (k, c) => hs(k, { ...c, sub: undefined }), verdict: 'SESSION_INVALID' },
  { kind: 'sub an object', make: (k, c) => hs(k, { ...c, sub: { id: 42 } }), verdict: 'SESSION_INVALID' },
  { kind: 'sub a number', make: (k, c) => hs(k, { ...c, sub: 42 }), verdict: 'SESSION_INVALID' },
  { kind: 'sub not a channel name', make: (k, c) => hs(k, { ...c, sub: `a b/${emoji}` }), verdict: 'SESSION_INVALID' },
  {
    kind: 'sub too long',
    make: (k, c) => hs(k, { ...c, sub: 'u'.repeat(129 + Math.floor(Math.random() * 3000)) }),
    verdict: 'SESSION_INVALID',
  },
  { kind: 'exp missing', make: (k, c) => hs(k, { ...c, exp: undefined }), verdict: 'SESSION_INVALID' },
  { kind: 'exp a string', make: (k, c) => hs(k, { ...c, exp: String(future()) }), verdict: 'SESSION_INVALID' },
  { kind: 'topics not a list', make: (k, c) => hs(k, { ...c, topics: 'news' }), verdict: 'SESSION_INVALID' },
  { kind: 'topics not names', make: (k, c) => hs(k, { ...c, topics: ['news', 42, 'a b'] }), verdict: 'SESSION_INVALID' },
  {
    kind: 'thousands of topics',
    make: (k, c) => hs(k, { ...c, topics: Array.from({ length: 1000 + Math.floor(Math.random() * 500) }, (_, i) => i.toString(36)) }),
    verdict: 'ok',
    subscribes: 'SESSION_INVALID',
  },
  {
    kind: 'topics over the cap',
    make: (k, c) => hs(k, { ...c, topics: Array.from({ length: 257 + Math.floor(Math.random() * 100) }, (_, i) => `t${i}`) }),
    verdict: 'ok',
    subscribes: 'SESSION_INVALID',
  },
  { kind: 'claims not an object', make: (k) => jws(goodHeader(k, 'HS256'), [1, 2], hmac(k)), verdict: 'SESSION_INVALID' },
];

function verdicts(kind: string, token: string, verdict: TokenVerdict, subscribes: TokenVerdict = verdict): HostileToken {
  // Too long is refused before anything else is looked at.
  if (token.length > maxTokenLength) return { kind, token, resolves: 'SESSION_INVALID', subscribes: 'SESSION_INVALID' };
  return { kind, token, resolves: verdict, subscribes };
}

/** Good tokens of every accepted algorithm, and tokens with one flaw each, and garbage. */
export function hostileToken(keys: TokenKeys): fc.Arbitrary<HostileToken> {
  const good = fc.tuple(algorithm, goodClaims, fc.boolean()).map(([alg, claims, withKid]) => {
    const header = goodHeader(keys, alg);
    if (!withKid) delete header.kid;
    return verdicts(`good ${alg}`, jws(header, claims, goodSigner(keys, alg)), 'ok');
  });
  const flawed = fc.tuple(fc.constantFrom(...flaws), goodClaims).map(([flaw, claims]) => {
    const topics = Array.isArray(claims.topics) ? claims.topics : [];
    // One flaw at a time: the good claims' huge extras are the good tokens' business.
    const token = flaw.make(keys, { ...claims, topics: topics.slice(0, 8), extra: undefined });
    return verdicts(flaw.kind, token, flaw.verdict, flaw.subscribes);
  });
  const garbage = fc
    .array(junkSegment, { minLength: 1, maxLength: 5 })
    .map((segments) => segments.join('.'))
    .filter((token) => token.length > 0)
    .map((token) => verdicts('garbage', token, 'SESSION_INVALID'));
  return fc.oneof({ arbitrary: good, weight: 3 }, { arbitrary: flawed, weight: 4 }, { arbitrary: garbage, weight: 2 });
}
