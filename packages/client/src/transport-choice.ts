import type { TransportName } from './stream-link.js';

/** `auto`, or one transport only. */
export type TransportSetting = 'auto' | TransportName;

export interface TransportChoiceOptions {
  setting: TransportSetting;
  /** Whether this environment has what a transport needs (WebSocket, EventSource). */
  available(name: TransportName): boolean;
  /** Where `auto` remembers the transport that last worked (the tab's sessionStorage), under `key`. */
  storage: Pick<Storage, 'getItem' | 'setItem'> | undefined;
  key: string;
  /** Failures of one transport within `fallbackWindowMs` that make `auto` step down to the next. */
  fallbackFailures: number;
  fallbackWindowMs: number;
  /** How long `auto` stays on a lesser transport before it tries the next better one (doubling after each miss). */
  upgradeAfterMs: number;
  /** It is time to try a better transport: the connection ends its current attempt. */
  onUpgradeDue(): void;
  random?: () => number;
}

const bestFirst: readonly TransportName[] = ['websocket', 'sse', 'longpoll'];
const maxUpgradeAfterMs = 3_600_000;

/**
 * Which transport the connection uses next. With `auto`: the best one this environment has, stepping down when
 * one cannot connect or keeps dying, remembering what worked for the tab's session, and trying the next better one
 * later (one attempt, then back to what worked), one step at a time.
 */
export class TransportChoice {
  private readonly order: readonly TransportName[];
  private index = 0;
  /** During a trial of a better transport: where to go back to if it fails. */
  private trialFrom: number | undefined;
  private failures: number[] = [];
  private upgradeAfterMs: number;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** What storage holds, as far as this knows: written only when it changes. */
  private remembered: TransportName | undefined;
  private disposed = false;
  private readonly random: () => number;

  constructor(private readonly options: TransportChoiceOptions) {
    this.random = options.random ?? Math.random;
    this.upgradeAfterMs = options.upgradeAfterMs;
    const candidates = options.setting === 'auto' ? bestFirst : [options.setting];
    this.order = candidates.filter((name) => options.available(name));
    if (this.order.length === 0) throw new TypeError(`PnsClient: transport '${options.setting}' is not available here`);
    if (options.setting !== 'auto') return;
    const remembered = this.order.indexOf(readStorage(options) as TransportName);
    if (remembered > 0) this.stepTo(remembered);
  }

  current(): TransportName {
    return this.order[this.index] as TransportName;
  }

  /**
   * The transport works (a stream that lasted, a poll answered): reset its failures, remember it, and if it is a
   * lesser one, plan a try of the best one. Planning only now means a transport is judged before anything else is tried.
   */
  live(name: TransportName): void {
    if (name !== this.current() || this.disposed) return;
    this.failures = [];
    if (this.trialFrom !== undefined) {
      this.trialFrom = undefined;
      this.upgradeAfterMs = this.options.upgradeAfterMs;
    }
    if (this.remembered !== name) writeStorage(this.options, name);
    this.remembered = name;
    if (this.index > 0 && this.timer === undefined) this.planTrial();
  }

  /** The transport could not connect, or died soon after connecting, while pns itself answered. */
  failed(name: TransportName, now = Date.now()): void {
    if (name !== this.current()) return;
    if (this.trialFrom !== undefined) {
      const back = this.trialFrom;
      this.trialFrom = undefined;
      this.upgradeAfterMs = Math.min(maxUpgradeAfterMs, this.upgradeAfterMs * 2);
      this.stepTo(back);
      return;
    }
    this.failures = [...this.failures.filter((at) => now - at < this.options.fallbackWindowMs), now];
    if (this.failures.length >= this.options.fallbackFailures && this.index < this.order.length - 1) this.stepTo(this.index + 1);
  }

  dispose(): void {
    this.disposed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private stepTo(index: number): void {
    this.index = index;
    this.failures = [];
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private planTrial(): void {
    // Spread over +20 %, so tabs that fell back together do not all try again at the same moment.
    const delayMs = this.upgradeAfterMs * (1 + 0.2 * this.random());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      // One step up at a time: a network that blocks WebSocket but lets SSE through still gets SSE back.
      this.trialFrom = this.index;
      this.index -= 1;
      this.failures = [];
      this.options.onUpgradeDue();
    }, delayMs);
  }
}

function readStorage(options: TransportChoiceOptions): string | null {
  try {
    return options.storage?.getItem(options.key) ?? null;
  } catch {
    return null; // storage disabled (privacy settings): nothing is remembered
  }
}

function writeStorage(options: TransportChoiceOptions, name: TransportName): void {
  try {
    options.storage?.setItem(options.key, name);
  } catch {
    // full or disabled: the next page starts from the best transport again
  }
}

/** The tab's sessionStorage, or undefined where there is none or reading it throws (sandboxed frames, privacy settings). */
export function tabStorage(): Pick<Storage, 'getItem' | 'setItem'> | undefined {
  try {
    return globalThis.sessionStorage ?? undefined;
  } catch {
    return undefined;
  }
}
