/**
 * Where each cursorless client (the seed's `sid` + `comeFrom`, which never
 * sends a cursor) last stood, so its next poll resumes there. Stored as the
 * encoded cursor. The Redis implementation (redis-client-positions.ts) lets
 * such a client resume on another node.
 */
export interface ClientPositionStore {
  /**
   * Positions outlive this process (Redis): a client unknown to the store never polled, so it starts at
   * "now". An in-process store cannot tell that from a client whose position was lost with a restart.
   */
  readonly survivesRestart: boolean;
  /** The stored cursor; `expired` when the client was known but its entry aged out. */
  get(key: string): Promise<string | 'expired' | undefined>;
  set(key: string, cursor: string): Promise<void>;
}

export interface MemoryClientPositionOptions {
  /** Most clients remembered; the least recently used go first. */
  maxEntries: number;
  /** How long an entry lives after its last use (at least the retention time). */
  ttlMs: number;
  now?: () => number;
}

interface Entry {
  cursor: string;
  expiresAt: number;
}

/**
 * In-process store. Maps keep insertion order, so re-inserting on use makes
 * the first entry the least recently used. Aged-out keys are remembered (in
 * a second bounded map) so such a client is told it has a gap rather than
 * silently starting at "now".
 */
export class MemoryClientPositionStore implements ClientPositionStore {
  readonly survivesRestart = false;
  private readonly entries = new Map<string, Entry>();
  private readonly forgotten = new Map<string, number>();
  private readonly options: Required<MemoryClientPositionOptions>;

  constructor(options: MemoryClientPositionOptions) {
    this.options = { now: Date.now, ...options };
  }

  async get(key: string): Promise<string | 'expired' | undefined> {
    const now = this.options.now();
    const entry = this.entries.get(key);
    if (entry && entry.expiresAt > now) return entry.cursor;
    if (entry) this.forget(key);
    const forgottenUntil = this.forgotten.get(key);
    if (forgottenUntil !== undefined && forgottenUntil > now) return 'expired';
    return undefined;
  }

  async set(key: string, cursor: string): Promise<void> {
    const now = this.options.now();
    this.entries.delete(key);
    this.forgotten.delete(key);
    this.entries.set(key, { cursor, expiresAt: now + this.options.ttlMs });
    while (this.entries.size > this.options.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.forget(oldest);
    }
    this.dropExpired(now);
  }

  size(): number {
    return this.entries.size;
  }

  private forget(key: string): void {
    this.entries.delete(key);
    // Remembered for as long again: long enough for a returning client to be told.
    this.forgotten.set(key, this.options.now() + this.options.ttlMs);
    while (this.forgotten.size > this.options.maxEntries) {
      this.forgotten.delete(this.forgotten.keys().next().value as string);
    }
  }

  /** Least recently used first, so expired entries are at the front. */
  private dropExpired(now: number): void {
    for (const [key, entry] of this.entries) {
      if (entry.expiresAt > now) break;
      this.forget(key);
    }
    for (const [key, until] of this.forgotten) {
      if (until > now) break;
      this.forgotten.delete(key);
    }
  }
}
