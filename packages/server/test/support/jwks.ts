// Key pairs, JWK Sets and signed tokens for the tests of RS256 and ES256 session tokens (PNS_JWKS).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type CryptoKey, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';

export interface SigningKey {
  alg: string;
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  /** The public key as a JWKS lists it, with `kid`, `alg` and `use`. */
  jwk: JWK;
}

/** A fresh key pair for `alg` (RS256, ES256, or any other jose generates). */
export async function signingKey(alg: string, kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { alg, kid, privateKey, publicKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

/** A JWK Set of the keys' public halves. */
export function keySet(...keys: SigningKey[]): { keys: JWK[] } {
  return { keys: keys.map((key) => key.jwk) };
}

/**
 * A token signed with `key`: `sub` 42, `exp` in ten minutes, and `kid` in the header, unless
 * `claims` or `header` say otherwise; a claim or header given as `undefined` is left out.
 */
export function signToken(key: SigningKey, claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const all = Object.fromEntries(Object.entries({ sub: '42', exp: now + 600, ...claims }).filter(([, value]) => value !== undefined));
  return new SignJWT(all).setProtectedHeader({ alg: key.alg, kid: key.kid, ...header }).sign(key.privateKey);
}

/** An unsecured token (`alg: none`, empty signature), which must never be accepted. */
export function unsecuredToken(claims: Record<string, unknown>): string {
  const part = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.`;
}

/** A temporary folder for JWKS files; `remove()` deletes it with everything in it. */
export function jwksFolder(): { write(name: string, content: unknown): string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'pns-jwks-'));
  return {
    write(name, content) {
      const path = join(dir, name);
      writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
      return path;
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
