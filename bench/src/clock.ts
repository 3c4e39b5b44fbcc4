/**
 * Milliseconds on the machine-wide monotonic clock (CLOCK_MONOTONIC, what
 * process.hrtime reads on Linux). Every process of the bench reads the same
 * clock, so a send time taken in the driver and a receive time taken in a
 * load generator can be subtracted; wall-clock adjustments do not move it.
 */
export function now(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `done` every `stepMs` until it is true or `timeoutMs` passed; resolves with whether it became true.
 * `waiting` is called after each step that did not end the wait (a progress line).
 */
export async function waitFor(done: () => boolean, timeoutMs: number, stepMs = 20, waiting?: () => void): Promise<boolean> {
  const deadline = now() + timeoutMs;
  for (let first = true; !done(); first = false) {
    if (!first) waiting?.();
    if (now() >= deadline) return false;
    await sleep(stepMs);
  }
  return true;
}

/** Rejects with "<what> timed out" when `promise` has not settled within `ms`. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${(ms / 1000).toFixed(0)} s`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
