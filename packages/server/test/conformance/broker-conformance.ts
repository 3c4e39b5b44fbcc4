import { after, before, describe } from 'node:test';
import type { Broker } from '../../src/broker/broker.js';
import { createConformance } from './context.js';
import { idempotencyCases } from './idempotency.js';
import { standingCases, subscribeCases } from './notification.js';
import { headCases, readingCases, storingCases } from './storage.js';

/**
 * The contract of `Broker` (src/broker/broker.ts), shared by every
 * implementation: each broker's test file calls this once with a factory.
 *
 * Requirements on `factory`:
 * - the broker it gives MUST be configured with `retentionCount` 5 (messages
 *   kept per channel) and a memory budget large enough that nothing is
 *   evicted by size while the suite runs (a few hundred small messages);
 * - it runs on the real clock: one test waits about 1.1 s for a 1 s ttl;
 * - `cleanup` closes the broker and releases whatever the factory opened.
 *
 * The suite uses one broker for all its tests, with channel names and
 * message ids unique to each test and each run, so it can run against a
 * store that outlives the process (Redis) without resetting it.
 */
export function brokerConformance(name: string, factory: () => Promise<{ broker: Broker; cleanup: () => Promise<void> }>): void {
  describe(`${name} (Broker contract)`, { timeout: 60_000 }, () => {
    let broker: Broker;
    let cleanup: (() => Promise<void>) | undefined;
    const c = createConformance(() => broker);

    before(async () => {
      const made = await factory();
      broker = made.broker;
      cleanup = made.cleanup;
    });

    after(async () => {
      await cleanup?.();
    });

    describe('#publish', () => {
      storingCases(c);
      idempotencyCases(c);
    });
    describe('#read', () => readingCases(c));
    describe('#head', () => headCases(c));
    describe('#subscribe', () => subscribeCases(c));
    describe('#standing', () => standingCases(c));
  });
}
