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
/** Reads in flight at once per node. */
const readConcurrency = 256;
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
  private readonly reads = new ConcurrencyLimit(readConcurrency);
  private readonly keepAlive: NodeJS.Timeout;
  private readonly epochPrefix = `r${randomBytes(6).toString('base64url')}`;
  private epochCount = 0;

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
    // Reads and publishes renew a channel's keys; a stream on a quiet channel does neither, so this does.
    this.keepAlive = setInterval(() => void this.renewListenedChannels(onError), Math.max(1000, options.channelIdleMs / 4));
    this.keepAlive.unref();
  }

  async publish(batch: PublishRequest[]): Promise<PublishOutcome[]> {
    this.assertOpen();
    // A listener this node added before the publish must hear of it.
    await this.fanout.settled(
      batch.flatMap((request) => request.channels),
      settleTimeoutMs,
    );
    const ids = batch.map((request) => request.id ?? randomUUID());
    const outcomes: PublishOutcome[] = ids.map((id) => ({ id, duplicate: true }));
    if (!this.options.cluster) {
      // The whole batch is one script: atomic.
      const duplicates = await this.publishGroup(
        batch.map((request, index) => ({ index, request, channels: request.channels })),
        ids,
      );
      duplicates.forEach((duplicate, index) => {
        (outcomes[index] as PublishOutcome).duplicate = duplicate;
      });
      return outcomes;
    }
    // Cluster: every id is checked on its shards before anything is stored, then message by message one
    // script per slot, run together, so the copies of a message on several shards are told close together.
    await this.checkIds(batch);
    for (const [index, request] of batch.entries()) {
      const results = await Promise.all(this.partsBySlot(index, request).map((part) => this.publishGroup([part], ids)));
      (outcomes[index] as PublishOutcome).duplicate = results.every(([duplicate]) => duplicate === true);
    }
    return outcomes;
  }

  async read(channel: string, after: StreamPosition, limit: number): Promise<ReadResult> {
    this.assertOpen();
    const offset = offsetPattern.test(after.offset) ? after.offset : '';
    const keys = this.channelKeys(channel);
    const reply = (await this.reads.run(() =>
      this.run(() => this.scripts.read(2, ...keys, after.epoch, offset, limit, this.newEpoch(), this.options.channelIdleMs)),
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
    clearInterval(this.keepAlive);
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
    if (reply[0] === 'conflict') throw idConflict(String(reply[1]));
    return reply.slice(1).map((flag) => flag === 1);
  }

  /** A message's channels grouped by Cluster slot: one script each. */
  private partsBySlot(index: number, request: PublishRequest): PublishPart[] {
    const perSlot = new Map<number, string[]>();
    for (const channel of request.channels) {
      const slot = calculateSlot(this.tag(channel));
      const list = perSlot.get(slot);
      if (list) list.push(channel);
      else perSlot.set(slot, [channel]);
    }
    return [...perSlot.values()].map((channels) => ({ index, request, channels }));
  }

  /**
   * Cluster: the scripts of a batch run on several shards, so the ids are checked first, on every shard that
   * records them, and a conflict stores nothing. (A publish racing this one with the same id is still caught
   * by each script, for its own shard.)
   */
  private async checkIds(batch: PublishRequest[]): Promise<void> {
    const wanted = new Map<string, string>();
    const lookups: Promise<void>[] = [];
    for (const [index, request] of batch.entries()) {
      if (request.id === undefined) continue;
      const value = `${request.scope}\n${request.fingerprint}`;
      if ((wanted.get(request.id) ?? value) !== value) throw idConflict(request.id);
      wanted.set(request.id, value);
      for (const part of this.partsBySlot(index, request)) {
        const key = this.idempotencyKey(request.id, part.channels[0] as string);
        lookups.push(
          (this.run(() => this.options.redis.get(key)) as Promise<string | null>).then((had) => {
            if (had !== null && had !== value) throw idConflict(request.id as string);
          }),
        );
      }
    }
    await Promise.all(lookups);
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

  /**
   * A fresh epoch for a channel that has none. Every read and head offers one and almost none is used, so it is
   * a per-process random prefix and a counter, not a random draw per call: unique across processes and calls.
   */
  private newEpoch(): string {
    return `${this.epochPrefix}${(++this.epochCount).toString(36)}`;
  }

  private async renewListenedChannels(onError: (error: unknown) => void): Promise<void> {
    if (this.options.redis.status !== 'ready') return;
    const { redis, channelIdleMs } = this.options;
    let sent = 0;
    for (const channel of [...this.fanout.channelNames()]) {
      for (const key of this.channelKeys(channel)) redis.pexpire(key, channelIdleMs).catch(onError);
      // A few hundred at a time, so a node with many channels does not flood Redis at once.
      if (++sent % 256 === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    }
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

/**
 * At most `limit` tasks at once; the rest wait in order. After Redis comes back every subscription re-reads: queued in
 * Redis all at once, the last of them would pass the command timeout and end their streams.
 */
class ConcurrencyLimit {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly limit: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active < this.limit) this.active++;
    else await new Promise<void>((resolve) => this.waiting.push(resolve)); // the slot is handed over
    try {
      return await task();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}

function idConflict(id: string): PnsError {
  return new PnsError('ID_CONFLICT', `Message id ${JSON.stringify(id)} was already used for another message.`);
}
