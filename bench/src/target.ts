/**
 * One push server under test (pns or a peer) and how the load generator talks
 * to it. A target runs as its own process(es), pinned to the server core; its
 * subscribers run in load-generator processes pinned to the other core.
 */
import type { ScenarioId } from './results.js';

/**
 * TCP keepalive idle time of the load generators' keep-alive agents, ms: longer than any hold. With Node's
 * default (1 s) every idle held connection sends a probe each second; at 100,000 held polls that is
 * 100,000 probes and as many ACKs a second, which overflowed the server's accept queue and timed clients
 * out. An idle client causes no traffic, as a browser's does not every second.
 */
export const clientKeepAliveMsecs = 3_600_000;

/** A delivered message as the load generator records it. */
export interface Received {
  /** The benchmark's own message id (unique per run), carried in the payload. */
  id: string;
  /** When the publisher sent it (ms on the machine-wide monotonic clock of bench/src/clock.ts). */
  sentAt: number;
}

/** The payload every target carries: the bench puts its id and send time in it. */
export interface BenchPayload {
  id: string;
  /** ms on the machine-wide monotonic clock (bench/src/clock.ts); subscribers pass it through untouched. */
  sentAt: number;
}

/** What a load-generator process tells its subscriber factory once, before the first subscribe. */
export interface LoadContext {
  /** The target's longest hold, seconds (the same value the server was started with). */
  holdSeconds: number;
  /** Source address for this process's connections (127.0.0.2, 127.0.0.3, …: one per load generator). */
  localAddress?: string;
  /** Counts a failure a subscriber recovered from (a failed poll, a reconnect), by a short kind. */
  reportError(kind: string): void;
}

export interface StartedServer {
  /** Base URL the subscribers and the publisher use. */
  url: string;
  /** Server process ids whose RSS and CPU are measured (all of them, for multi-process targets). */
  pids: number[];
  /**
   * What load generators get as the server URL when it is not `url`: a multi-node target lists its
   * nodes here (space-separated) for a subscriber module that spreads its subscribers over them.
   */
  subscriberUrl?: string;
  /** Those of `pids` that are its backplane (the redis-server of a Redis target): also reported alone. */
  backplanePids?: number[];
  stop(): Promise<void>;
}

/** Runs inside a load-generator process: one subscriber for one user (and optionally one topic). */
export interface SubscriberFactory {
  /** Optional: called once per load-generator process before the first subscribe. */
  init?(context: LoadContext): void | Promise<void>;
  /**
   * Starts a subscriber that keeps a long poll (or the target's equivalent)
   * open for `user` and, when given, `topic`, and calls `onMessage` for every
   * payload it receives. Resolves once the subscription is established on the
   * server (so a message published after that must arrive).
   */
  subscribe(
    serverUrl: string,
    user: string,
    topic: string | undefined,
    onMessage: (payload: BenchPayload) => void,
  ): Promise<{ close(): void }>;
}

export interface TargetOptions {
  /** CPU to pin the server to (taskset -c). */
  cpu: number;
  /** Longest hold the target allows, seconds: subscribers use it so idle clients cause no timer traffic. */
  holdSeconds: number;
  /** Port to bind; the reconnect scenario restarts a target on the port it had. Undefined: any free port. */
  port?: number;
  /** For a target that stops gracefully over a window (`drains`): that window, seconds. Undefined: its default. */
  drainSeconds?: number;
}

/** Levels of scenario A and how long each is held. */
export interface HeldSettings {
  levels: number[];
  holdMs: number;
}

/** The driver-side part of a target: starting it and publishing to it. */
export interface Target {
  readonly name: string;
  /** The scenarios it runs (default: all); the others are skipped, and the run says so. */
  readonly scenarios?: readonly ScenarioId[];
  /** A quick run includes it only when `--only targets=…` names it (it is too big for a smoke run). */
  readonly explicitOnly?: boolean;
  /** Its own levels for scenario A, instead of the scenario's. */
  readonly held?: { quick: HeldSettings; full: HeldSettings };
  /** What a reader of the results must know about its figures (printed at the head of results.md). */
  readonly note?: string;
  /** Targets its figures are also divided by, under each table (e.g. pns on Redis by pns in memory). */
  readonly compareWith?: readonly string[];
  /**
   * Module path exporting `factory: SubscriberFactory`, loaded in load generators: relative to this
   * file's folder after build (bench/dist/src), e.g. `./targets/pns-subscriber.js`; a path not found
   * there is looked up in bench/dist/src/targets/.
   */
  readonly subscriberModule: string;
  /**
   * Its graceful stop spreads the reconnects of its clients over a window (pns's drain), which the
   * reconnect scenario also runs at 0 s, the way the peers stop.
   */
  readonly drains?: boolean;
  start(options: TargetOptions): Promise<StartedServer>;
  /** Publishes one payload to a user; resolves when the target acknowledged it. */
  publishToUser(server: StartedServer, user: string, payload: BenchPayload): Promise<void>;
  /** Publishes one payload to a topic every subscriber listens to. */
  publishToTopic(server: StartedServer, topic: string, payload: BenchPayload): Promise<void>;
  /** Publishes several user messages in one request where the target supports it (else undefined). */
  publishBatch?(server: StartedServer, messages: { user: string; payload: BenchPayload }[]): Promise<void>;
}
