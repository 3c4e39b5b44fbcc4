/**
 * The open connections of one streaming transport, and the one timer that
 * visits them all (an SSE heartbeat, a WebSocket ping): one timer per
 * transport, never one per connection.
 */
export class ConnectionSweep<T> {
  private readonly members = new Set<T>();
  private timer: NodeJS.Timeout | undefined;

  add(member: T): void {
    this.members.add(member);
  }

  delete(member: T): void {
    this.members.delete(member);
  }

  [Symbol.iterator](): IterableIterator<T> {
    return this.members.values();
  }

  /** Visits every connection every `everyMs` (0: never). Started once; it does not keep the process alive. */
  start(everyMs: number, visit: (member: T) => void): void {
    if (everyMs <= 0 || this.timer) return;
    this.timer = setInterval(() => {
      for (const member of this.members) visit(member);
    }, everyMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
