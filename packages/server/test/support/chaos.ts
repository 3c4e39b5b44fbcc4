// Shared by the chaos tests (chaos-*.test.ts): pns nodes on a three-master Redis Cluster, subscribers that
// reconnect by cursor over every transport and keep everything they are given (repeats included), a publisher
// that sends a known sequence of ids through @pns/publisher, and the exactly-once count over all of it.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createPublisher, type Publisher } from '@pns/publisher';
import {
  type RedisClusterInstance,
  type RedisInstance,
  redisCommand,
  type SpawnedServer,
  spawnServer,
  startRedisCluster,
} from '@pns/test-support';
import { broadcast, type ChaosSubscriber, chaosSecret } from './chaos-subscribers.js';
import { delay, waitFor } from './harness.js';

export { broadcast, type ChaosSubscriber, chaosSecret, openSubscribers } from './chaos-subscribers.js';

const chaosPublishKey = 'chaos-test-publish-key-0123456789abcdef';
export const chaosAdminKey = 'chaos-test-admin-key-0123456789abcdef';
/** What a cut connection shows each kind of client: a poll whose answer broke off, a stream that ended without `end`, a 1006. */
export const cutIncidents = ['poll cut or refused', 'stream cut', 'stream cut or refused', 'close 1006', 'socket cut or refused'];

export interface ChaosCluster {
  redis: RedisClusterInstance;
  nodes: SpawnedServer[];
  /** Starts one more node with the same settings (under `wrapper`, e.g. faketime). */
  startNode(wrapper?: string[]): Promise<SpawnedServer>;
  stop(): Promise<void>;
}

export interface ChaosClusterOptions {
  nodes: number;
  /** Redis persistence: appendonly with fsync always, so a restarted master keeps what it acknowledged. */
  appendOnly?: boolean;
  /** The nodes' PNS_HOLD_SECONDS (clients ask for it too). */
  holdSeconds?: number;
  /** Per node, a wrapper command (faketime); undefined for a plain node. */
  wrappers?: (string[] | undefined)[];
}

/** A Redis Cluster of three masters and `nodes` pns nodes on it (one worker each, no drain window). */
export async function startChaosCluster(options: ChaosClusterOptions): Promise<ChaosCluster> {
  const redis = await startRedisCluster(3, { appendOnly: options.appendOnly === true });
  const env = {
    PNS_SECRET: chaosSecret,
    PNS_PUBLISH_KEY: chaosPublishKey,
    PNS_ADMIN_KEY: chaosAdminKey,
    PNS_REDIS_URL: redis.urls.join(','),
    PNS_REDIS_CLUSTER: 'true',
    PNS_REDIS_PREFIX: `chaos-${randomBytes(4).toString('hex')}`,
    PNS_WORKERS: '1',
    PNS_HOLD_SECONDS: String(options.holdSeconds ?? 5),
  };
  /** Every node started, for stop(); `nodes` are the first ones, in the order of `wrappers`. */
  const all: SpawnedServer[] = [];
  const startNode = async (wrapper?: string[]): Promise<SpawnedServer> => {
    const node = await spawnServer({ env, args: ['--drain-seconds', '0'], ...(wrapper ? { wrapper } : {}) });
    all.push(node);
    return node;
  };
  const started = await Promise.allSettled(Array.from({ length: options.nodes }, (_, index) => startNode(options.wrappers?.[index])));
  const failed = started.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed) {
    await Promise.all(all.map((node) => node.stop(2000)));
    await redis.stop();
    throw failed.reason;
  }
  const nodes = started.map((result) => (result as PromiseFulfilledResult<SpawnedServer>).value);
  return {
    redis,
    nodes,
    startNode,
    stop: async () => {
      await Promise.all(all.map((node) => node.stop(5000)));
      await redis.stop();
    },
  };
}

export interface SentMessage {
  id: string;
  to: string[];
  startedAt: number;
  /** When the publisher's answer came (after its retries); unset if it gave up. */
  ackedAt?: number;
  failed?: string;
}

/** Publishes a known sequence, one message at a time, each with an id chosen before its first attempt. */
export class PublishRun {
  readonly sent: SentMessage[] = [];
  private readonly publishers: Publisher[];
  private readonly runId = randomBytes(4).toString('hex');

  constructor(
    urls: readonly string[],
    private readonly users: readonly string[],
  ) {
    // Retries for up to a minute, so a fault of a few seconds is ridden out as a publisher would.
    this.publishers = urls.map((url) => createPublisher({ url, publishKey: chaosPublishKey, retries: 60, maxRetryDelayMs: 1000 }));
  }

  /** Message `n`: every fourth to the broadcast topic, every seventh to a user and the topic (copies on two shards), else a user. */
  private addressOf(n: number): string[] {
    const user = `user:${this.users[n % this.users.length]}`;
    return n % 4 === 0 ? [broadcast] : n % 7 === 3 ? [user, broadcast] : [user];
  }

  async publish(count: number, pauseMs = 20): Promise<void> {
    for (let i = 0; i < count; i++) {
      await this.publishOne();
      await delay(pauseMs);
    }
  }

  /** Publishes until `stop()` (which resolves once the publish under way is answered). */
  inBackground(pauseMs = 50): { stop(): Promise<void> } {
    let stopping = false;
    const loop = (async () => {
      while (!stopping) {
        await this.publishOne();
        await delay(pauseMs);
      }
    })();
    return {
      stop: async () => {
        stopping = true;
        await loop;
      },
    };
  }

  private async publishOne(): Promise<void> {
    const n = this.sent.length;
    const message: SentMessage = { id: `chaos-${this.runId}-${n}`, to: this.addressOf(n), startedAt: Date.now() };
    this.sent.push(message);
    const publisher = this.publishers[n % this.publishers.length] as Publisher;
    try {
      await publisher.publish(message.to, 70, { n }, { id: message.id });
      message.ackedAt = Date.now();
    } catch (error) {
      message.failed = error instanceof Error ? error.message : String(error);
    }
  }
}

const addressedTo = (subscriber: ChaosSubscriber, message: SentMessage): boolean =>
  message.to.some((channel) => subscriber.channels.includes(channel));

/** Waits until every subscriber has every acknowledged message addressed to it, then a little more for repeats. */
export async function waitForDeliveries(subscribers: readonly ChaosSubscriber[], run: PublishRun, timeoutMs = 20_000): Promise<void> {
  const done = (subscriber: ChaosSubscriber): boolean => {
    const got = new Set(subscriber.received.map(({ id }) => id));
    return run.sent.every((message) => message.ackedAt === undefined || !addressedTo(subscriber, message) || got.has(message.id));
  };
  await waitFor(() => subscribers.every(done), timeoutMs, 'every acknowledged message delivered').catch(() => undefined);
  await delay(500); // a repeat, if any, would arrive by now
}

export interface Tally {
  published: number;
  acknowledged: number;
  /** Deliveries owed: acknowledged messages times their subscribers. */
  owed: number;
  /** Messages received, repeats included. */
  delivered: number;
  /** `client: id` for each owed message never received. */
  missing: string[];
  /** `client: id ×n` for each message received more than once. */
  duplicated: string[];
  /** Messages received that were never addressed to the client. */
  unexpected: string[];
  /** Clients whose messages to their own channel alone came out of publish order. */
  outOfOrder: string[];
  /** `id: why` for each message whose publisher gave up. */
  failures: string[];
  /** Gap signals per client label (only those with any). */
  gaps: Record<string, number>;
  /** From the end of the fault until the first broadcast published after it reached every client. */
  recoveryMs: number | undefined;
  /** The longest a publish took, retries included. */
  longestPublishMs: number;
  /** Every incident the clients saw, summed. */
  incidents: Record<string, number>;
}

/** The exactly-once count, printed as one line of figures named `name`; `faultEnd` (epoch ms) for the recovery time. */
export function tally(name: string, subscribers: readonly ChaosSubscriber[], run: PublishRun, faultEnd?: number): Tally {
  const result: Tally = {
    published: run.sent.length,
    acknowledged: run.sent.filter((message) => message.ackedAt !== undefined).length,
    owed: 0,
    delivered: 0,
    missing: [],
    duplicated: [],
    unexpected: [],
    outOfOrder: [],
    failures: run.sent.flatMap((message) => (message.failed === undefined ? [] : [`${message.id}: ${message.failed}`])),
    gaps: {},
    recoveryMs: undefined,
    longestPublishMs: Math.max(0, ...run.sent.map((message) => (message.ackedAt ?? Date.now()) - message.startedAt)),
    incidents: {},
  };
  const probe = run.sent.find((message) => faultEnd !== undefined && message.startedAt >= faultEnd && message.to[0] === broadcast);
  let recoveredAt = 0;
  for (const subscriber of subscribers) {
    const counts = new Map<string, number>();
    for (const { id } of subscriber.received) counts.set(id, (counts.get(id) ?? 0) + 1);
    result.delivered += subscriber.received.length;
    for (const message of run.sent) {
      const count = counts.get(message.id) ?? 0;
      counts.delete(message.id);
      if (!addressedTo(subscriber, message)) {
        if (count > 0) result.unexpected.push(`${subscriber.label}: ${message.id}`);
        continue;
      }
      if (message.ackedAt !== undefined) result.owed++;
      // A message whose publisher gave up may have been stored or not: at most once either way.
      if (count === 0 && message.ackedAt !== undefined) result.missing.push(`${subscriber.label}: ${message.id}`);
      if (count > 1) result.duplicated.push(`${subscriber.label}: ${message.id} ×${count}`);
    }
    for (const id of counts.keys()) result.unexpected.push(`${subscriber.label}: ${id}`);
    const own = run.sent.filter((message) => message.to.length === 1 && message.to[0] === subscriber.channels[0]).map(({ id }) => id);
    const order = [...new Set(subscriber.received.map(({ id }) => id))].filter((id) => own.includes(id));
    if (order.some((id, index) => own.indexOf(id) < own.indexOf(order[index - 1] ?? id))) result.outOfOrder.push(subscriber.label);
    if (subscriber.gaps.length > 0) result.gaps[subscriber.label] = subscriber.gaps.length;
    for (const [incident, count] of subscriber.incidents) result.incidents[incident] = (result.incidents[incident] ?? 0) + count;
    const got = probe && subscriber.received.find(({ id }) => id === probe.id);
    recoveredAt = got ? Math.max(recoveredAt, got.at) : Number.POSITIVE_INFINITY;
  }
  if (probe && faultEnd !== undefined && Number.isFinite(recoveredAt)) result.recoveryMs = recoveredAt - faultEnd;
  report(name, result);
  return result;
}

/** One line of figures for the test's output (docs/reliability.md quotes them). */
function report(name: string, result: Tally): void {
  const incidents = Object.entries(result.incidents)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([incident, count]) => `${incident} ×${count}`)
    .join(', ');
  process.stdout.write(
    `# chaos ${name}: published ${result.published} (acknowledged ${result.acknowledged}), deliveries owed ${result.owed}, ` +
      `received ${result.delivered}, lost ${result.missing.length}, duplicated ${result.duplicated.length}, ` +
      `gaps ${JSON.stringify(result.gaps)}, recovery ${result.recoveryMs ?? '–'} ms, longest publish ${result.longestPublishMs} ms; ` +
      `clients saw: ${incidents || 'nothing'}\n`,
  );
}

/** Which of the cluster's nodes (an index into `redis.nodes`) holds `channel`'s keys. */
export async function shardOf(redis: RedisClusterInstance, channel: string): Promise<number> {
  const first = redis.nodes[0] as RedisInstance;
  const slot = Number(await redisCommand(first.port, ['CLUSTER', 'KEYSLOT', `{${channel}}`]));
  const ranges = (await redisCommand(first.port, ['CLUSTER', 'SLOTS'])) as [number, number, [string, number]][];
  const owner = ranges.find(([from, to]) => slot >= from && slot <= to)?.[2][1];
  const index = redis.nodes.findIndex((node) => node.port === owner);
  if (index < 0) throw new Error(`no node of the cluster owns slot ${slot} of ${channel}`);
  return index;
}

/**
 * Every acknowledged message once to each of its subscribers, nothing else, in publish order per channel, and
 * every client's incidents among `allowed` (what the fault may show clients; anything else is a finding).
 */
export function assertExactlyOnce(result: Tally, allowed: readonly string[]): void {
  assert.deepEqual(result.missing, [], 'lost');
  assert.deepEqual(result.duplicated, [], 'duplicated');
  assert.deepEqual(result.unexpected, [], 'delivered to a client it was not addressed to');
  assert.deepEqual(result.outOfOrder, [], 'out of publish order');
  assert.deepEqual(result.failures, [], 'the publisher got every message through');
  assert.deepEqual(
    Object.keys(result.incidents).filter((incident) => !allowed.includes(incident)),
    [],
    `clients saw only ${allowed.join(', ')}`,
  );
}
