import { now, sleep, waitFor } from '../clock.js';
import { type GroupStats, Ledger } from '../ledger.js';
import { LoadGenPool, type PoolStats, type SubscribeOutcome } from '../loadgen-pool.js';
import type { RunContext } from '../results.js';
import type { StartedServer, TargetOptions } from '../target.js';

/** Start options a scenario may set beyond the pinning and hold every target gets. */
export type ExtraStartOptions = Pick<TargetOptions, 'drainSeconds'>;

/** Extra wait after the last owed delivery, so late duplicates are counted too. */
const graceMs = 500;

/**
 * One scenario run's moving parts: the target's server, the load
 * generators, and the ledger every delivery is checked against.
 */
export class Session {
  readonly ledger = new Ledger();
  private tapFn: ((sub: number, id: string, at: number) => void) | undefined;

  private constructor(
    readonly context: RunContext,
    public server: StartedServer,
    private poolRef: LoadGenPool | undefined,
    private readonly startOptions: ExtraStartOptions,
  ) {}

  /** Starts the target and load generators sized for `subscribers`. */
  static async open(context: RunContext, subscribers: number, startOptions: ExtraStartOptions = {}): Promise<Session> {
    const server = await context.target.start({ ...startOptions, cpu: context.serverCpu, holdSeconds: context.holdSeconds });
    const session = new Session(context, server, undefined, startOptions);
    try {
      session.poolRef = await LoadGenPool.start({
        target: context.target,
        serverUrl: server.subscriberUrl ?? server.url,
        holdSeconds: context.holdSeconds,
        subscribers,
        cpu: context.loadCpu,
        sink: (sub, id, at) => {
          session.ledger.record(sub, id, at);
          session.tapFn?.(sub, id, at);
        },
        onProgress: (subscribed, failed) => context.log(`  … ${subscribed} subscribed${failed ? `, ${failed} failed` : ''}`),
      });
    } catch (error) {
      await server.stop();
      throw error;
    }
    return session;
  }

  get pool(): LoadGenPool {
    if (!this.poolRef) throw new Error('no load generators');
    return this.poolRef;
  }

  /** Also hands every delivery to `fn` (after the ledger). */
  tap(fn: ((sub: number, id: string, at: number) => void) | undefined): void {
    this.tapFn = fn;
  }

  /** Opens subscribers from..to-1; logs how long it took. */
  async subscribe(from: number, to: number, topic?: string): Promise<SubscribeOutcome & { ms: number }> {
    const started = now();
    const outcome = await this.pool.subscribe(from, to, topic);
    const ms = now() - started;
    this.context.log(
      `  ${outcome.subscribed} subscribed (${from}–${to - 1}) in ${(ms / 1000).toFixed(1)} s${outcome.failed ? `, ${outcome.failed} failed: ${outcome.failures.join('; ')}` : ''}`,
    );
    return { ...outcome, ms };
  }

  /** Waits until the group is owed nothing, or `timeoutMs` passed; resolves with whether everything arrived. */
  delivered(group: number, timeoutMs: number): Promise<boolean> {
    return waitFor(() => this.ledger.pending(group) <= 0, timeoutMs, 5);
  }

  /** Lets late duplicates in, then makes sure every delivery the load generators saw has been counted. */
  async quiesce(): Promise<PoolStats> {
    await sleep(graceMs);
    return this.pool.stats();
  }

  serverCpuMs(): number {
    return this.context.meter.totalCpuMs(this.server.pids);
  }

  serverRssBytes(): number {
    return this.context.meter.totalRssBytes(this.server.pids);
  }

  /** CPU ms of the backplane (Redis), part of serverCpuMs(); null for a target without one. */
  backplaneCpuMs(): number | null {
    const pids = this.server.backplanePids;
    return pids?.length ? this.context.meter.totalCpuMs(pids) : null;
  }

  /** RSS of the backplane (Redis), part of serverRssBytes(); null for a target without one. */
  backplaneRssBytes(): number | null {
    const pids = this.server.backplanePids;
    return pids?.length ? this.context.meter.totalRssBytes(pids) : null;
  }

  /** Stops the server and starts it again on the same port. */
  async restart(): Promise<{ stopMs: number; startMs: number }> {
    const port = Number(new URL(this.server.url).port);
    const t0 = now();
    await this.server.stop();
    const t1 = now();
    this.server = await this.context.target.start({
      ...this.startOptions,
      cpu: this.context.serverCpu,
      holdSeconds: this.context.holdSeconds,
      port,
    });
    if (Number(new URL(this.server.url).port) !== port) throw new Error(`${this.context.target.name} restarted on another port`);
    return { stopMs: t1 - t0, startMs: now() - t1 };
  }

  async close(): Promise<void> {
    try {
      await this.poolRef?.close();
    } finally {
      await this.server.stop();
    }
  }
}

/** Why a group's deliveries fail the exactly-once check (empty when they pass). */
export function deliveryProblems(stats: GroupStats): string[] {
  const problems: string[] = [];
  if (stats.lost > 0) problems.push(`${stats.lost} lost`);
  if (stats.duplicated > 0) problems.push(`${stats.duplicated} duplicated`);
  if (stats.unexpected > 0) problems.push(`${stats.unexpected} delivered to the wrong subscriber`);
  return problems;
}

/** Sum of the error counts, and a short text of them. */
export function errorSummary(errors: Record<string, number>): { total: number; text: string } {
  const entries = Object.entries(errors).filter(([, n]) => n > 0);
  return { total: entries.reduce((sum, [, n]) => sum + n, 0), text: entries.map(([kind, n]) => `${kind} ×${n}`).join(', ') };
}

/** Error counts of `after` minus those of `before`. */
export function errorsSince(before: PoolStats, after: PoolStats): Record<string, number> {
  const diff: Record<string, number> = {};
  for (const [kind, n] of Object.entries(after.errors)) diff[kind] = n - (before.errors[kind] ?? 0);
  return diff;
}
