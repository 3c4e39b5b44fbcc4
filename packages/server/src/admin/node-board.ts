import type { NodeStats } from '@pns/protocol';
import type { RedisClient } from '../broker/redis-connection.js';

/** Where each node posts its latest stats and the dashboard reads every node's. */
export interface NodeBoard {
  post(stats: NodeStats): Promise<void>;
  /** The latest stats of every live node, sorted by node. */
  list(): Promise<NodeStats[]>;
  /** Takes a stopping node off the board. */
  remove(node: string): Promise<void>;
}

/** One process: the board holds its own stats only. */
export class LocalNodeBoard implements NodeBoard {
  private latest: NodeStats | undefined;

  async post(stats: NodeStats): Promise<void> {
    this.latest = stats;
  }

  async list(): Promise<NodeStats[]> {
    return this.latest ? [this.latest] : [];
  }

  async remove(node: string): Promise<void> {
    if (this.latest?.node === node) this.latest = undefined;
  }
}

export interface RedisNodeBoardOptions {
  redis: RedisClient;
  prefix: string;
  /** A node not heard from for this long is not shown (it stopped, or cannot reach Redis). */
  staleMs: number;
  /** The clock the nodes stamp their samples with: Redis's (see redis-clock.ts). Default: this process's. */
  now?: () => number;
}

/** Entries older than this are deleted by whichever node reads them. */
const forgetAfterMs = 60_000;

/**
 * Nodes sharing a Redis post to one hash (`<prefix>:nodes`, a field per node), so any node can show all of
 * them. The hash expires when no node posts for a minute. Samples are stamped, and their staleness judged, by
 * Redis's clock as each node measures it (`now`), so a node whose own clock is off is neither hidden from the
 * others nor hides them, nor deletes their samples as a minute old.
 */
export class RedisNodeBoard implements NodeBoard {
  private readonly key: string;

  constructor(private readonly options: RedisNodeBoardOptions) {
    this.key = `${options.prefix}:nodes`;
  }

  async post(stats: NodeStats): Promise<void> {
    await this.options.redis.multi().hset(this.key, stats.node, JSON.stringify(stats)).pexpire(this.key, forgetAfterMs).exec();
  }

  async list(): Promise<NodeStats[]> {
    const entries = await this.options.redis.hgetall(this.key);
    const now = (this.options.now ?? Date.now)();
    const live: NodeStats[] = [];
    const forgotten: string[] = [];
    for (const [node, json] of Object.entries(entries)) {
      const stats = parseStats(json);
      if (!stats || now - stats.at > forgetAfterMs) forgotten.push(node);
      else if (now - stats.at <= this.options.staleMs) live.push(stats);
    }
    if (forgotten.length > 0) await this.options.redis.hdel(this.key, ...forgotten);
    return live.sort((a, b) => a.node.localeCompare(b.node));
  }

  async remove(node: string): Promise<void> {
    await this.options.redis.hdel(this.key, node);
  }
}

function parseStats(json: string): NodeStats | undefined {
  try {
    const value = JSON.parse(json) as Partial<NodeStats> | null;
    return value && typeof value.node === 'string' && typeof value.at === 'number' && Array.isArray(value.latencyCounts)
      ? (value as NodeStats)
      : undefined;
  } catch {
    return undefined;
  }
}
