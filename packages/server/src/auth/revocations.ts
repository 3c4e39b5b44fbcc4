import { createHash } from 'node:crypto';
import { PnsError } from '@pns/protocol';
import type { Session, SessionResolver } from './session-resolver.js';

/** The message of the SESSION_EXPIRED a revoked session gets. */
export const revokedMessage = 'The session was revoked.';

/** What `POST /pns/revoke` ends: every session of a user, or one session token. */
export type Revocation = { user: string } | { user: string; sid: string };

/** How a revocation is told to the nodes: a session token travels as its digest only. */
export type RevocationNotice = { user: string; sidDigest?: string };

/**
 * Revoked sessions, as every node sees them. A user's revocation refuses the tokens issued (`iat`) up to
 * that second; a session's revocation refuses that token until it expires. Each node is told of every
 * revocation, to end the connections it holds for it.
 */
export interface Revocations {
  /** Records the revocation, then tells every node (this one too). */
  revoke(revocation: Revocation, sessionExpiresAt: number | undefined): Promise<void>;
  isRevoked(session: Pick<Session, 'userId' | 'issuedAt'>, sid: string): Promise<boolean>;
  /** Called for each revocation made on any node. */
  onRevoked(listener: (notice: RevocationNotice) => void): void;
  /** Called when notices may have been missed (Redis was away): the caller checks its live sessions again. */
  onResync(listener: () => void): void;
  close(): Promise<void>;
}

/**
 * A session token as revocations keep it: a digest, so no usable token is ever stored. A JWT is digested in its
 * one canonical spelling: the last base64url character of its signature carries bits that decoding drops, so
 * several spellings verify alike, and each must find the same revocation.
 */
export function sidDigest(sid: string): string {
  const parts = sid.split('.');
  const canonical =
    parts.length === 3 && /^[A-Za-z0-9_-]+$/.test(parts[2] as string)
      ? `${parts[0]}.${parts[1]}.${Buffer.from(parts[2] as string, 'base64url').toString('base64url')}`
      : sid;
  return createHash('sha256').update(canonical).digest('base64url').slice(0, 22);
}

/** Whether a user revocation at `revokedAt` (epoch ms) refuses a session: tokens issued in or before that second. */
export function revokedByUser(session: { issuedAt?: number | undefined }, revokedAt: number | undefined): boolean {
  return revokedAt !== undefined && session.issuedAt !== undefined && session.issuedAt <= Math.floor(revokedAt / 1000) * 1000;
}

interface UserEntry {
  revokedAt?: number;
  /** When the user's revocation stops mattering (tokens issued before it have expired). */
  revokedUntil?: number;
  /** Revoked session digests, with when each token expires. */
  sids: Map<string, number>;
}

/** One process: revocations in memory, each kept as long as it can refuse a token. */
export class MemoryRevocations implements Revocations {
  private readonly users = new Map<string, UserEntry>();
  private readonly listeners: ((notice: RevocationNotice) => void)[] = [];

  constructor(private readonly options: { keepUserRevocationMs: number; now?: () => number }) {}

  async revoke(revocation: Revocation, sessionExpiresAt: number | undefined): Promise<void> {
    const now = this.now();
    this.prune(now);
    const entry = this.users.get(revocation.user) ?? { sids: new Map<string, number>() };
    this.users.set(revocation.user, entry);
    let notice: RevocationNotice;
    if ('sid' in revocation) {
      const digest = sidDigest(revocation.sid);
      entry.sids.set(digest, sessionExpiresAt ?? now + this.options.keepUserRevocationMs);
      notice = { user: revocation.user, sidDigest: digest };
    } else {
      entry.revokedAt = now;
      entry.revokedUntil = now + this.options.keepUserRevocationMs;
      notice = { user: revocation.user };
    }
    for (const listener of this.listeners) listener(notice);
  }

  async isRevoked(session: Pick<Session, 'userId' | 'issuedAt'>, sid: string): Promise<boolean> {
    const entry = this.users.get(session.userId);
    if (!entry) return false;
    const now = this.now();
    if (entry.revokedUntil !== undefined && entry.revokedUntil > now && revokedByUser(session, entry.revokedAt)) return true;
    const sidUntil = entry.sids.get(sidDigest(sid));
    return sidUntil !== undefined && sidUntil > now;
  }

  onRevoked(listener: (notice: RevocationNotice) => void): void {
    this.listeners.push(listener);
  }

  /** One process misses nothing. */
  onResync(): void {}

  async close(): Promise<void> {
    this.listeners.length = 0;
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  /** Drops what can no longer refuse anything, so memory follows the live revocations. */
  private prune(now: number): void {
    for (const [user, entry] of this.users) {
      for (const [digest, until] of entry.sids) if (until <= now) entry.sids.delete(digest);
      if (entry.revokedUntil !== undefined && entry.revokedUntil <= now) {
        entry.revokedAt = undefined;
        entry.revokedUntil = undefined;
      }
      if (entry.sids.size === 0 && entry.revokedUntil === undefined) this.users.delete(user);
    }
  }
}

/** A session resolver that also refuses revoked sessions, with SESSION_EXPIRED: for the client, a logout is an end. */
export class RevocationCheckingResolver implements SessionResolver {
  constructor(
    private readonly inner: SessionResolver,
    private readonly revocations: Revocations,
  ) {}

  async resolve(sid: string): Promise<Session> {
    const session = await this.inner.resolve(sid);
    if (await this.revocations.isRevoked(session, sid)) throw new PnsError('SESSION_EXPIRED', revokedMessage);
    return session;
  }
}
