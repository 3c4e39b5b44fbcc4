/**
 * The soak's churn: every second some online clients leave and as many join, about half of them users
 * coming back (resuming from their cursor) and the rest new users, so the number online stays where the
 * ramp put it while the server keeps opening and closing connections and subscriptions.
 */
import { now } from '../clock.js';
import type { ClientPool } from './client-pool.js';
import type { Population, User } from './population.js';

const tickMs = 1000;
/** Share of joins that are returning users, when enough have been away long enough. */
const returnShare = 0.5;

export class Churn {
  private timer: NodeJS.Timeout | undefined;
  private carry = 0;
  private busy: Promise<void> = Promise.resolve();
  private error: Error | undefined;

  /** `perMinute`: share of `connections` that leave (and join) each minute, e.g. 0.04. */
  constructor(
    private readonly population: Population,
    private readonly pool: ClientPool,
    private readonly connections: number,
    private readonly perMinute: number,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      // One tick at a time: minting the new users' tokens is asynchronous.
      this.busy = this.busy
        .then(() => this.tick())
        .catch((error: unknown) => {
          this.error ??= error instanceof Error ? error : new Error(String(error));
        });
    }, tickMs);
  }

  /** Stops churning once the tick under way is done; throws what a tick failed with. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.busy;
    if (this.error) throw this.error;
  }

  private async tick(): Promise<void> {
    this.carry += (this.connections * this.perMinute * tickMs) / 60_000;
    const count = Math.floor(this.carry);
    this.carry -= count;
    if (count === 0) return;
    this.population.leavers(count).forEach((users, index) => {
      this.pool.leave(index, users);
    });
    let wantReturns = 0;
    for (let k = 0; k < count; k++) if (Math.random() < returnShare) wantReturns++;
    const joining: User[] = this.population.returning(wantReturns, now());
    joining.push(...(await this.population.create(count - joining.length)));
    this.population.joinOrders(joining).forEach((orders, index) => {
      this.pool.join(index, orders);
    });
  }
}
