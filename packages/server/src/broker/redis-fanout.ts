import type { Cluster, Redis } from 'ioredis';
import type { BrokerListener, PublishEvent } from './broker.js';

/** Notification headers remembered to tell the copies of one publish apart from the next publish. */
const recentHeaderLimit = 64;

/** A channel's listeners on this node, and who to tell when notifications may have been missed. */
interface ChannelListeners {
  listeners: Map<BrokerListener, (() => void) | undefined>;
  /** Set while no local listener is left: the Redis subscription is kept a little longer, then dropped. */
  lingerTimer: NodeJS.Timeout | undefined;
}

export interface RedisFanoutOptions {
  /** A connection of its own: a subscribed Redis connection can do nothing else. */
  subscriber: Redis | Cluster;
  /** SSUBSCRIBE (Redis Cluster) instead of SUBSCRIBE. */
  sharded: boolean;
  /** The pub/sub channel a broker channel's notifications go to. */
  notifyChannel(channel: string): string;
  /** Turns a notification back into an event; undefined for one that is not pns's. */
  parse(payload: string): PublishEvent | undefined;
  /** How long a Redis subscription outlives its last local listener: a long poll answered now polls again soon. */
  lingerMs: number;
  /** Resolves once commands can run again: a re-read right after the subscriber is back must not fail. */
  commandsReady(): Promise<void>;
  onError(error: unknown): void;
}

/**
 * Pub/sub fan-out of one node: it subscribes in Redis only to the channels its own listeners use
 * (reference-counted), turns each notification into one event, and tells each local listener once even
 * when a message sent to several of its channels arrives once per channel. Whenever a subscription
 * becomes active (first time, or after Redis came back) the channel's listeners are asked to re-read,
 * since a notification sent before that moment was not received.
 */
export class RedisFanout {
  private readonly options: RedisFanoutOptions;
  private readonly channels = new Map<string, ChannelListeners>();
  private readonly byNotifyChannel = new Map<string, string>();
  /** Subscribe commands not yet confirmed by Redis, by channel. */
  private readonly pending = new Map<string, Promise<unknown>>();
  /** Headers of recent notifications: the copies of one publish, one per channel, are told once. */
  private readonly recent = new Set<string>();

  constructor(options: RedisFanoutOptions) {
    this.options = options;
    const { subscriber } = options;
    subscriber.on(options.sharded ? 'smessage' : 'message', (notifyChannel: string, payload: string) =>
      this.onNotification(notifyChannel, payload),
    );
    // Each time the subscriber connects (again), every channel is subscribed (again): a subscribe asked for
    // while Redis was away failed, and what was published meanwhile is read once the subscription is active.
    const resubscribe = (): void => {
      for (const channel of this.channels.keys()) this.sendSubscribe(channel);
    };
    subscriber.on('ready', resubscribe);
    // A Cluster rebuilds its per-shard subscribers by itself (failover, slot moves) and says so with this event.
    if (options.sharded) subscriber.on('subscribersReady', resubscribe);
  }

  subscribe(channel: string, listener: BrokerListener, resync: (() => void) | undefined): () => void {
    let entry = this.channels.get(channel);
    if (!entry) {
      entry = { listeners: new Map(), lingerTimer: undefined };
      this.channels.set(channel, entry);
      this.redisSubscribe(channel);
    } else if (entry.lingerTimer) {
      clearTimeout(entry.lingerTimer);
      entry.lingerTimer = undefined;
    }
    entry.listeners.set(listener, resync);
    const current = entry;
    return () => {
      if (!current.listeners.delete(listener) || current.listeners.size > 0 || this.channels.get(channel) !== current) return;
      current.lingerTimer = setTimeout(() => {
        this.channels.delete(channel);
        this.redisUnsubscribe(channel);
      }, this.options.lingerMs);
      current.lingerTimer.unref();
    };
  }

  /**
   * Resolves once the subscribes asked for so far on these channels are active (bounded: a Redis outage must
   * not hold a publish). Only the publish's own channels: waiting for every pending subscribe of a busy node
   * would delay each publish behind unrelated clients' first polls.
   */
  async settled(channels: readonly string[], timeoutMs: number): Promise<void> {
    if (this.pending.size === 0) return;
    const waits: Promise<unknown>[] = [];
    for (const channel of channels) {
      const command = this.pending.get(channel);
      if (command) waits.push(command);
    }
    if (waits.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled(waits),
      new Promise((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
  }

  /** The channels this node listens to (with listeners, or lingering). */
  channelNames(): IterableIterator<string> {
    return this.channels.keys();
  }

  /** Redis subscriptions held (channels with listeners, and lingering ones). */
  get subscribedChannels(): number {
    return this.channels.size;
  }

  close(): void {
    for (const entry of this.channels.values()) if (entry.lingerTimer) clearTimeout(entry.lingerTimer);
    this.channels.clear();
  }

  private redisSubscribe(channel: string): void {
    this.byNotifyChannel.set(this.options.notifyChannel(channel), channel);
    this.sendSubscribe(channel);
  }

  /** Subscribes in Redis; once active, the channel's listeners re-read (as soon as commands run). */
  private sendSubscribe(channel: string): void {
    const notifyChannel = this.options.notifyChannel(channel);
    const { subscriber, sharded } = this.options;
    const command = sharded ? subscriber.ssubscribe(notifyChannel) : subscriber.subscribe(notifyChannel);
    this.pending.set(channel, command);
    command.then(
      () => {
        if (this.pending.get(channel) === command) this.pending.delete(channel);
        void this.options.commandsReady().then(() => this.resync(channel));
      },
      (error: unknown) => {
        // Not active: the 'ready' handler subscribes again once Redis is back.
        if (this.pending.get(channel) === command) this.pending.delete(channel);
        this.options.onError(error);
      },
    );
  }

  private redisUnsubscribe(channel: string): void {
    const notifyChannel = this.options.notifyChannel(channel);
    this.byNotifyChannel.delete(notifyChannel);
    const { subscriber, sharded } = this.options;
    const command = sharded ? subscriber.sunsubscribe(notifyChannel) : subscriber.unsubscribe(notifyChannel);
    command.catch((error: unknown) => this.options.onError(error));
  }

  private onNotification(notifyChannel: string, payload: string): void {
    if (!this.byNotifyChannel.has(notifyChannel)) return;
    const newline = payload.indexOf('\n');
    const header = newline < 0 ? payload : payload.slice(0, newline);
    if (this.recent.has(header)) return;
    const event = this.options.parse(payload);
    if (!event) return;
    this.recent.add(header);
    // The copies of one publish are sent back to back by one script, so a short memory is enough.
    if (this.recent.size > recentHeaderLimit) this.recent.delete(this.recent.values().next().value as string);
    const called = new Set<BrokerListener>();
    for (const { channel } of event.entries) {
      const entry = this.channels.get(channel);
      if (!entry) continue;
      for (const listener of entry.listeners.keys()) {
        if (called.has(listener)) continue;
        called.add(listener);
        listener(event);
      }
    }
  }

  private resync(channel: string): void {
    const entry = this.channels.get(channel);
    if (!entry) return;
    for (const resync of entry.listeners.values()) resync?.();
  }
}
