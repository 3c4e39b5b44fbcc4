// PNS_JWKS: the public keys of RS256 and ES256 session tokens, from a file read at start or from a URL.
import { createPublicKey, type JsonWebKeyInput, type webcrypto } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  type CompactJWSHeaderParameters,
  createLocalJWKSet,
  createRemoteJWKSet,
  type FlattenedJWSInput,
  type JSONWebKeySet,
  type JWK,
  errors as joseErrors,
} from 'jose';
import { BrokerUnavailableError } from '../broker/broker.js';

/** The algorithms a JWKS verifies, and only a JWKS: an HS256 token is never checked against a public key. */
export const jwksAlgorithms: readonly string[] = ['RS256', 'ES256'];

/** Where the keys come from: a URL, fetched when a token needs it, or a file's keys, read once. */
export type JwksSource = { url: URL } | { path: string; keys: JSONWebKeySet };

/** The keys that may have signed a token: none when no key fits, several when several fit a token without `kid`. */
export type KeyCandidates = (
  header: CompactJWSHeaderParameters,
  token: FlattenedJWSInput,
) => Promise<Iterable<webcrypto.CryptoKey> | AsyncIterable<webcrypto.CryptoKey>>;

/**
 * `PNS_JWKS` as a source: an `https://` or `http://` URL, or else a file path. A file is read and checked
 * now, so a bad one stops the start with the reason (thrown as an Error whose message names it), rather
 * than refusing every token later.
 */
export function jwksSource(value: string): JwksSource {
  if (/^https?:\/\//i.test(value)) {
    if (!URL.canParse(value)) throw new Error('is not a valid URL');
    const url = new URL(value);
    // Keys fetched in the clear could be swapped on the way: anyone on the path could sign tokens for any user.
    if (url.protocol === 'http:' && !['localhost', '127.0.0.1', '[::1]'].includes(url.hostname)) {
      throw new Error('must be https:// (http:// only on loopback)');
    }
    return { url };
  }
  let text: string;
  try {
    text = readFileSync(value, 'utf8');
  } catch (error) {
    throw new Error(`cannot read the file (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let set: unknown;
  try {
    set = JSON.parse(text);
  } catch {
    throw new Error('the file is not JSON');
  }
  return { path: value, keys: checkedKeySet(set) };
}

function checkedKeySet(set: unknown): JSONWebKeySet {
  const keys = (set as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || !keys.every((key) => typeof key === 'object' && key !== null && !Array.isArray(key))) {
    throw new Error('the file is not a JWK Set ({"keys": [...]})');
  }
  let usable = 0;
  for (const [index, jwk] of (keys as JWK[]).entries()) {
    const name = `key ${index}${typeof jwk.kid === 'string' ? ` (kid ${JSON.stringify(jwk.kid)})` : ''}`;
    // A published key set is public: a private or secret key in it is a leak waiting to happen.
    if ('d' in jwk || 'k' in jwk) throw new Error(`${name} is a private or secret key: a JWKS holds public keys only`);
    const rsa = jwk.kty === 'RSA';
    if (!rsa && !(jwk.kty === 'EC' && jwk.crv === 'P-256')) continue;
    try {
      createPublicKey({ key: jwk, format: 'jwk' } as JsonWebKeyInput);
    } catch {
      throw new Error(`${name} is not a valid ${rsa ? 'RSA' : 'P-256'} public key`);
    }
    if (jwk.alg === undefined || jwk.alg === (rsa ? 'RS256' : 'ES256')) usable++;
  }
  if (usable === 0) throw new Error('the file has no RSA key for RS256 or P-256 key for ES256');
  return { keys: keys as JWK[] };
}

/**
 * The key finder of a source, with jose's key selection (by `alg`, `kty`, `kid`) and, for a URL, its
 * caching: keys are kept 10 minutes, and a `kid` not among them fetches the set again at most every 30 s.
 * A set that cannot be fetched (down, not 200, not a key set, 5 s timeout) is a `BrokerUnavailableError`,
 * so the poll is answered 503 and retried rather than logged out.
 */
export function jwksKeys(source: JwksSource): KeyCandidates {
  const find = 'url' in source ? createRemoteJWKSet(source.url) : createLocalJWKSet(source.keys);
  return async (header, token) => {
    try {
      return [await find(header, token)];
    } catch (error) {
      if (error instanceof joseErrors.JWKSNoMatchingKey) return [];
      // Tokens without `kid` while two keys are listed (one replacing the other): each is tried.
      if (error instanceof joseErrors.JWKSMultipleMatchingKeys) return error;
      throw new BrokerUnavailableError('the JWKS could not be fetched', { cause: error });
    }
  };
}
