/** What tabs of one group tell each other. */
export type TabMessage =
  /** The leader's poll answer, with the cursor after it. */
  | { t: 'answer'; body: import('@pns/protocol').PollResponse }
  /** A tab that just joined asks for the cursor. */
  | { t: 'hello' }
  /**
   * The leader's cursor, and the `comeFrom` its cursorless first poll used: a tab that takes over
   * before any answer came resumes from the server's position for that name, not from "now".
   */
  | { t: 'cursor'; cursor: string | undefined; comeFrom: string };

export interface TabGroupHandlers {
  /** This tab holds the lock now: it polls for the group until it stops or closes. */
  lead(): void;
  receive(message: TabMessage): void;
}

/**
 * The tabs of one origin that share a connection: the Web Locks API elects
 * the one that polls (a closed or crashed tab releases its lock at once, and
 * the next waiting tab gets it), and a BroadcastChannel carries its answers
 * to the others.
 */
export class TabGroup {
  private readonly channel: BroadcastChannel;
  private readonly abort = new AbortController();
  private release: (() => void) | undefined;

  /** True where both APIs exist; elsewhere every tab polls on its own. */
  static supported(): boolean {
    return typeof BroadcastChannel === 'function' && typeof globalThis.navigator?.locks?.request === 'function';
  }

  constructor(name: string, handlers: TabGroupHandlers) {
    this.channel = new BroadcastChannel(name);
    this.channel.onmessage = (event: MessageEvent<TabMessage>) => handlers.receive(event.data);
    navigator.locks
      .request(name, { signal: this.abort.signal }, () => {
        // Granted just as leave() was called: give the lock back at once instead of holding it for ever.
        if (this.abort.signal.aborted) return undefined;
        handlers.lead();
        return new Promise<void>((resolve) => {
          this.release = resolve;
        });
      })
      .catch(() => undefined); // aborted by leave() while still waiting
    this.post({ t: 'hello' });
  }

  post(message: TabMessage): void {
    this.channel.postMessage(message);
  }

  /** Leaves the group: gives up the lock (or the wait for it) and closes the channel. */
  leave(): void {
    this.abort.abort();
    this.release?.();
    this.channel.close();
  }
}
