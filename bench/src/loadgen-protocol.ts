/** Messages between the driver and a load-generator process (IPC, JSON). */

/** Subscriber `index` listens as user `u<index>`: the same name on every target. */
export function userOf(index: number): string {
  return `u${index}`;
}

/** Deliveries: subscriber, message id and receive time (clock.ts), column by column. */
export interface Deliveries {
  s: number[];
  i: string[];
  a: number[];
}

/** What a process says when it cannot go on (load-process.ts). */
export interface Fatal {
  t: 'fatal';
  message: string;
}

export type ToLoadGen =
  | { t: 'init'; module: string; serverUrl: string; holdSeconds: number; localAddress?: string }
  /** Open subscribers from..to-1 (each for its own user, and `topic` when given), `concurrency` at a time. */
  | { t: 'subscribe'; from: number; to: number; topic?: string; concurrency: number }
  | { t: 'stats'; req: number }
  | { t: 'close' };

export type FromLoadGen =
  | { t: 'ready'; cpus: string | undefined }
  | { t: 'progress'; subscribed: number; failed: number }
  | { t: 'subscribed'; subscribed: number; failed: number; failures: string[] }
  /** Deliveries; `s` is the subscriber's index. */
  | ({ t: 'd' } & Deliveries)
  | { t: 'stats'; req: number; cpuMs: number; open: number; errors: Record<string, number> }
  | Fatal
  | { t: 'closed' };
