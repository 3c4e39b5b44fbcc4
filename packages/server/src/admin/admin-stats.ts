import type { DashboardSnapshot, NodeStats } from '@pns/protocol';
import type { Logger } from 'pino';
import type { NodeBoard } from './node-board.js';
import type { NodeSampler } from './node-sampler.js';
import { totalOf } from './node-stats.js';

export const sampleIntervalMs = 1000;

/** Samples this node every second, posts the sample to the board, and answers with every node's latest. */
export class AdminStats {
  private latest: NodeStats | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** The tick under way, if any: the first snapshot waits for it, and stop() lets it finish. */
  private ticking: Promise<void> | undefined;
  private postFailing = false;

  constructor(
    private readonly sampler: NodeSampler,
    private readonly board: NodeBoard,
    private readonly logger: Logger,
    /** The clock the nodes share (Redis's): samples from several nodes are compared by it. */
    private readonly now: () => number = Date.now,
  ) {}

  start(): void {
    if (this.timer) return;
    this.tick();
    this.timer = setInterval(() => this.tick(), sampleIntervalMs);
    // Sampling must never keep a stopping process alive.
    this.timer.unref();
  }

  /** Stops sampling and takes this node off the board, so the dashboard drops it at once. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.ticking;
    await this.board.remove(this.sampler.node).catch(() => undefined);
  }

  async snapshot(): Promise<DashboardSnapshot> {
    if (!this.latest) await this.ticking;
    const own = this.latest;
    // Without the board (Redis away), this node still shows itself.
    let nodes = await this.board.list().catch(() => [] as NodeStats[]);
    if (own && !nodes.some((node) => node.node === own.node)) nodes = [...nodes, own].sort((a, b) => a.node.localeCompare(b.node));
    const at = this.now();
    return { at, nodes, total: totalOf(nodes, at) };
  }

  private tick(): void {
    // A tick still under way (a slow Redis) is not doubled: its sample would skew the next rate.
    if (this.ticking) return;
    this.ticking = this.sampleAndPost().finally(() => {
      this.ticking = undefined;
    });
  }

  private async sampleAndPost(): Promise<void> {
    try {
      this.latest = await this.sampler.sample(this.now());
      await this.board.post(this.latest);
      if (this.postFailing) this.logger.info('node stats posted again');
      this.postFailing = false;
    } catch (error) {
      if (!this.postFailing) this.logger.warn({ err: error }, 'node stats not posted; the dashboard shows this node alone until they are');
      this.postFailing = true;
    }
  }
}
