import type { Ledger } from './ledger.js';
import type { BenchPayload } from './target.js';

/** One publish the pump should make: the payloads it carries and how to send them. */
export interface PublishJob {
  payloads: BenchPayload[];
  send(): Promise<void>;
}

export interface PumpOutcome {
  requests: number;
  failures: number;
  /** The first few failure messages. */
  firstFailures: string[];
}

/**
 * Runs `concurrency` lanes that each publish the next job until `next`
 * returns undefined. A failed publish is cancelled in the ledger (nobody is
 * owed its messages) and counted.
 */
export async function pump(ledger: Ledger, concurrency: number, next: () => PublishJob | undefined): Promise<PumpOutcome> {
  const outcome: PumpOutcome = { requests: 0, failures: 0, firstFailures: [] };
  const lane = async (): Promise<void> => {
    for (let job = next(); job; job = next()) {
      outcome.requests++;
      try {
        await job.send();
      } catch (error) {
        outcome.failures++;
        if (outcome.firstFailures.length < 3) outcome.firstFailures.push((error as Error).message);
        for (const payload of job.payloads) ledger.cancel(payload);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return outcome;
}
