import type { Logger } from 'pino';
import type { NodeBoard } from './node-board.js';
import type { NodeSampler } from './node-sampler.js';
import { type NodeStats, totalOf } from './node-stats.js';

/** The body of `GET /pns/admin/stats`. */
export interface AdminSnapshot {
  at: number;
  nodes: NodeStats[];
  total: NodeStats;
}

export const sampleIntervalMs = 1000;

/** Samples this node every second, posts the sample to the board, and answers with every node's latest. */
export class AdminStats {
  private latest: NodeStats | undefined;
  private timer: NodeJS.Timeout | undefined;
  private postFailing = false;

  constructor(
    private readonly sampler: NodeSampler,
    private readonly board: NodeBoard,
    private readonly logger: Logger,
  ) {}

  start(): void {
    if (this.timer) return;
    void this.tick();
    this.timer = setInterval(() => void this.tick(), sampleIntervalMs);
    // Sampling must never keep a stopping process alive.
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  async snapshot(): Promise<AdminSnapshot> {
    const own = this.latest ?? (await this.sampler.sample());
    // Without the board (Redis away), this node still shows itself.
    let nodes = await this.board.list().catch(() => [] as NodeStats[]);
    if (!nodes.some((node) => node.node === own.node)) nodes = [...nodes, own].sort((a, b) => a.node.localeCompare(b.node));
    const at = Date.now();
    return { at, nodes, total: totalOf(nodes, at) };
  }

  private async tick(): Promise<void> {
    try {
      this.latest = await this.sampler.sample();
      await this.board.post(this.latest);
      if (this.postFailing) this.logger.info('node stats posted again');
      this.postFailing = false;
    } catch (error) {
      if (!this.postFailing) this.logger.warn({ err: error }, 'node stats not posted; the dashboard shows this node alone until they are');
      this.postFailing = true;
    }
  }
}
