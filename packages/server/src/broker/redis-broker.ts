import { randomBytes, randomUUID } from 'node:crypto';
import { type MessageType, PnsError, type StreamPosition } from '@pns/protocol';
import calculateSlot from 'cluster-key-slot';
import type { Cluster, Redis } from 'ioredis';
import {
  type Broker,
  type BrokerEntry,
  type BrokerListener,
  BrokerUnavailableError,
  type EntryStanding,
  type PublishEvent,
  type PublishedEntry,
  type PublishOutcome,
  type PublishRequest,
  type ReadResult,
} from './broker.js';
import { RedisFanout } from './redis-fanout.js';
import { headScript, publishScript, readScript } from './redis-scripts.js';

export interface RedisBrokerOptions {
  /** Commands (scripts). Configure it to fail fast while Redis is away: see redis-connection.ts. */
  redis: Redis | Cluster;
  /** A second connection for pub/sub. */
  subscriber: Redis | Cluster;
  /** Redis Cluster: keys are placed per channel, notifications use sharded pub/sub. */
  cluster: boolean;
  /** Prefix of every key. */
  prefix: string;
  /** Messages kept per channel. */
  retentionCount: number;
  /** How long a channel's keys outlive its last read or write (its longest ttl and more). */
  channelIdleMs: number;
  /** How long a channel's Redis subscription outlives its last local listener. Default 10 s. */
  subscriptionLingerMs?: number;
  onError?: (error: unknown) => void;
}

/** A message's channels that one script stores (all of them, or those of one Cluster slot). */
interface PublishPart {
  index: number;
  request: PublishRequest;
  channels: readonly string[];
}

type ScriptRunner = (numberOfKeys: number, ...args: (string | number)[]) => Promise<unknown>;

const offsetPattern = /^[0-9]{1,15}-[0-9]{1,3}$/;
/** Longest a publish waits for this node's own pending subscribes, so it can tell them. */
const settleTimeoutMs = 1000;

/**
 * The broker of several nodes: history in one Redis Stream per channel, an epoch per channel, and
 * pub/sub per channel so a node hears only about the channels its own clients listen to. Every write
 * is a Lua script (redis-scripts.ts), so what a publish stores and tells is one atomic step.
 */
export class RedisBroker implements Broker {
  readonly name = 'redis';
  readonly splitsCopies: boolean;
  private readonly options: RedisBrokerOptions;
  private readonly fanout: RedisFanout;
  private readonly scripts: { publish: ScriptRunner; read: ScriptRunner; head: ScriptRunner };
  private closed = false;
  private readyWait: Promise<void> | undefined;

  constructor(options: RedisBrokerOptions) {
    this.options = options;
    this.splitsCopies = options.cluster;
    const onError = options.onError ?? (() => {});
    this.fanout = new RedisFanout({
      subscriber: options.subscriber,
      sharded: options.cluster,
      notifyChannel: (channel) => `${this.tag(channel)}:n`,
      parse: (payload) => this.parseNotification(payload),
      lingerMs: options.subscriptionLingerMs ?? 10_000,
      commandsReady: () => this.commandsReady(),
      onError,
    });
    const define = (name: string, lua: string): ScriptRunner => {
      options.redis.defineCommand(`pns_${name}`, { lua });
      const commands = options.redis as unknown as Record<string, ScriptRunner>;
      return (numberOfKeys, ...args) => (commands[`pns_${name}`] as ScriptRunner).call(options.redis, numberOfKeys, ...args);
    };
    this.scripts = { publish: define('publish', publishScript), read: define('read', readScript), head: define('head', headScript) };
  }

  async publish(batch: PublishRequest[]): Promise<PublishOutcome[]> {
    this.assertOpen();
    // A listener this node added before the publish must hear of it.
    await this.fanout.settled(settleTimeoutMs);
    const ids = batch.map((request) => request.id ?? randomUUID());
    const outcomes: PublishOutcome[] = ids.map((id) => ({ id, duplicate: true }));
    // Without Cluster the whole batch is one script (atomic). With it, one script per slot: a message
    // whose channels span slots is stored and told by each shard for its own channels.
    for (const group of this.groups(batch)) {
      const duplicates = await this.publishGroup(group, ids);
      group.forEach((part, index) => {
        if (!duplicates[index]) (outcomes[part.index] as PublishOutcome).duplicate = false;
      });
    }
    return outcomes;
  }

  async read(channel: string, after: StreamPosition, limit: number): Promise<ReadResult> {
    this.assertOpen();
    const offset = offsetPattern.test(after.offset) ? after.offset : '';
    const reply = (await this.run(() =>
      this.scripts.read(2, ...this.channelKeys(channel), after.epoch, offset, limit, this.newEpoch(), this.options.channelIdleMs),
    )) as [string, string, string, number, number, ...(string | string[])[]];
    const [epoch, from, head, gap, more] = reply;
    const entries: BrokerEntry[] = [];
    for (let i = 5; i < reply.length; i += 2) {
      const id = reply[i] as string;
      const fields = reply[i + 1] as string[];
      entries.push({
        channel,
        position: { epoch, offset: id },
        order: orderOf(id),
        message: {
          id: fields[1] as string,
          type: JSON.parse(fields[3] as string) as MessageType,
          ts: Number(fields[5]),
          dataJson: fields[9] as string,
        },
      });
    }
    const last = entries.at(-1);
    return {
      entries,
      from: { epoch, offset: from },
      to: more === 1 && last ? last.position : { epoch, offset: head },
      gap: gap === 1,
      more: more === 1,
    };
  }

  async head(channel: string): Promise<StreamPosition> {
    this.assertOpen();
    const [epoch, head] = (await this.run(() =>
      this.scripts.head(2, ...this.channelKeys(channel), this.newEpoch(), this.options.channelIdleMs),
    )) as [string, string];
    return { epoch, offset: head };
  }

  subscribe(channel: string, listener: BrokerListener, resync?: () => void): () => void {
    return this.fanout.subscribe(channel, listener, resync);
  }

  standing(position: StreamPosition, entry: PublishedEntry): EntryStanding {
    if (position.epoch !== entry.position.epoch || !offsetPattern.test(position.offset)) return 'behind';
    const at = orderOf(position.offset);
    if (at >= orderOf(entry.position.offset)) return 'seen';
    return at >= orderOf(entry.previous.offset) ? 'next' : 'behind';
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.fanout.close();
    await Promise.allSettled([this.options.redis.quit(), this.options.subscriber.quit()]);
  }

  /** Redis subscriptions this node holds. */
  stats(): { subscribedChannels: number } {
    return { subscribedChannels: this.fanout.subscribedChannels };
  }

  private async publishGroup(group: PublishPart[], ids: string[]): Promise<boolean[]> {
    const channels: string[] = [];
    const channelIndex = new Map<string, number>();
    const keys: string[] = [];
    const idempotencyKeys: string[] = [];
    const messages = group.map(({ index, request, channels: partChannels }) => {
      const c = partChannels.map((channel) => {
        let at = channelIndex.get(channel);
        if (at === undefined) {
          at = channels.push(channel);
          channelIndex.set(channel, at);
          keys.push(...this.channelKeys(channel));
        }
        return at;
      });
      let k = 0;
      if (request.id !== undefined) k = idempotencyKeys.push(this.idempotencyKey(request.id, partChannels[0] as string));
      return {
        c,
        t: JSON.stringify(request.type),
        id: ids[index],
        ttl: request.ttlSeconds * 1000,
        k,
        s: request.scope,
        f: request.fingerprint,
      };
    });
    // Idempotency keys come after the channel keys.
    for (const message of messages) if (message.k > 0) message.k += keys.length;
    const config = {
      n: this.options.retentionCount,
      ep: this.newEpoch(),
      life: this.options.channelIdleMs,
      p: this.options.prefix,
      sh: this.options.cluster ? 1 : 0,
      ch: channels,
      m: messages,
    };
    const allKeys = [...keys, ...idempotencyKeys];
    const data = group.map((part) => part.request.dataJson);
    const reply = (await this.run(() => this.scripts.publish(allKeys.length, ...allKeys, JSON.stringify(config), ...data))) as (
      | string
      | number
    )[];
    if (reply[0] === 'conflict') {
      throw new PnsError('ID_CONFLICT', `Message id ${JSON.stringify(reply[1])} was already used for another message.`);
    }
    return reply.slice(1).map((flag) => flag === 1);
  }

  /** The batch as script calls: one without Cluster; with it, one per slot, in the order slots first appear. */
  private groups(batch: PublishRequest[]): PublishPart[][] {
    if (!this.options.cluster) return [batch.map((request, index) => ({ index, request, channels: request.channels }))];
    const bySlot = new Map<number, PublishPart[]>();
    batch.forEach((request, index) => {
      const perSlot = new Map<number, string[]>();
      for (const channel of request.channels) {
        const slot = calculateSlot(this.tag(channel));
        const list = perSlot.get(slot);
        if (list) list.push(channel);
        else perSlot.set(slot, [channel]);
      }
      for (const [slot, channels] of perSlot) {
        const parts = bySlot.get(slot);
        if (parts) parts.push({ index, request, channels });
        else bySlot.set(slot, [{ index, request, channels }]);
      }
    });
    return [...bySlot.values()];
  }

  private run(command: () => Promise<unknown>): Promise<unknown> {
    return command().catch((error: unknown) => {
      if (error instanceof PnsError) throw error;
      const text = error instanceof Error ? error.message : String(error);
      // A script error is a bug, not an outage: it must not be retried as one.
      if (/ERR|WRONGTYPE|NOSCRIPT/.test(text) && !/LOADING|CLUSTERDOWN|TRYAGAIN|MOVED|ASK/.test(text)) throw error;
      throw new BrokerUnavailableError(`redis: ${text}`, { cause: error });
    });
  }

  private parseNotification(payload: string): PublishEvent | undefined {
    const newline = payload.indexOf('\n');
    if (newline < 0) return undefined;
    try {
      const header = JSON.parse(payload.slice(0, newline)) as { i: string; t: string; ts: string; e: [string, string, string, string][] };
      const entries = header.e.map(([channel, epoch, offset, previous]) => ({
        channel,
        position: { epoch, offset },
        previous: { epoch, offset: previous },
      }));
      const first = entries[0];
      if (!first) return undefined;
      return {
        message: { id: header.i, type: JSON.parse(header.t) as MessageType, ts: Number(header.ts), dataJson: payload.slice(newline + 1) },
        order: orderOf(first.position.offset),
        entries,
      };
    } catch {
      return undefined;
    }
  }

  /** `prefix:{channel}`: the hash tag keeps a channel's keys and notifications on one Cluster slot. */
  private tag(channel: string): string {
    return `${this.options.prefix}:{${channel}}`;
  }

  private channelKeys(channel: string): [string, string] {
    const tag = this.tag(channel);
    return [`${tag}:s`, `${tag}:m`];
  }

  private idempotencyKey(id: string, firstChannel: string): string {
    // In Cluster the record must share the slot of the script that checks it: the message's first channel.
    return this.options.cluster ? `${this.tag(firstChannel)}:id:${id}` : `${this.options.prefix}:id:${id}`;
  }

  private newEpoch(): string {
    return `r${randomBytes(6).toString('base64url')}`;
  }

  /** Resolves when the command connection is ready (at once if it is); one wait shared by every caller. */
  private commandsReady(): Promise<void> {
    const { redis } = this.options;
    if (redis.status === 'ready') return Promise.resolve();
    this.readyWait ??= new Promise((resolve) =>
      redis.once('ready', () => {
        this.readyWait = undefined;
        resolve();
      }),
    );
    return this.readyWait;
  }

  private assertOpen(): void {
    if (this.closed) throw new BrokerUnavailableError('the redis broker is closed');
  }
}

/** An entry id `ms-seq` (seq < 1000) as a number that sorts like it. */
function orderOf(offset: string): number {
  const dash = offset.indexOf('-');
  return Number(offset.slice(0, dash)) * 1000 + Number(offset.slice(dash + 1));
}
