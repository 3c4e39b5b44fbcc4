import { Cluster, Redis, type RedisOptions } from 'ioredis';

export interface RedisConnectionOptions {
  /** One URL, or Cluster seed nodes. */
  urls: readonly string[];
  cluster: boolean;
  /** A name shown by CLIENT LIST, to tell pns's connections apart. */
  connectionName: string;
}

/**
 * Connection settings for a push service: a command fails at once while Redis is away (the publisher
 * gets 503 and retries; a poll gets 503) instead of queueing without bound, a command in flight when
 * the connection drops is not replayed (a publish must be retried by its publisher, with its id), and
 * a reconnect is tried forever with a capped backoff.
 */
const commandOptions: RedisOptions = {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 0,
  commandTimeout: 5000,
  connectTimeout: 5000,
  retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
  lazyConnect: true,
};

/** The subscriber queues its (un)subscribes while away, so what it was asked for is in place once back. */
const subscriberOptions: RedisOptions = { ...commandOptions, enableOfflineQueue: true, commandTimeout: undefined, autoResubscribe: false };

export type RedisClient = Redis | Cluster;

function make(options: RedisConnectionOptions, base: RedisOptions, role: string): RedisClient {
  const redisOptions: RedisOptions = { ...base, connectionName: `${options.connectionName}:${role}` };
  if (options.cluster) {
    return new Cluster(
      options.urls.map((url) => {
        const parsed = new URL(url);
        return { host: parsed.hostname, port: Number(parsed.port || 6379) };
      }),
      {
        redisOptions,
        enableOfflineQueue: base.enableOfflineQueue ?? true,
        shardedSubscribers: role === 'subscriber',
        clusterRetryStrategy: base.retryStrategy ?? null,
        lazyConnect: true,
      },
    );
  }
  return new Redis(options.urls[0] as string, redisOptions);
}

/** One command connection, not yet connected (see `connectRedis`). */
export function createRedisClient(options: RedisConnectionOptions, role: string): RedisClient {
  return make(options, commandOptions, role);
}

/** A connection for SUBSCRIBE only (not sharded, even on a Cluster), not yet connected (see `connectRedis`). */
export function createRedisSubscriber(options: RedisConnectionOptions, role: string): RedisClient {
  return make(options, subscriberOptions, role);
}

/** A command connection and a subscriber connection, not yet connected (see `connectRedis`). */
export function createRedisClients(options: RedisConnectionOptions): { redis: RedisClient; subscriber: RedisClient } {
  return { redis: make(options, commandOptions, 'commands'), subscriber: make(options, subscriberOptions, 'subscriber') };
}

/**
 * Connects, waiting at most `timeoutMs` for Redis. A Redis that is not there yet is not fatal: the
 * clients keep reconnecting and pns answers 503 until it is back.
 */
export async function connectRedis(client: RedisClient, timeoutMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const connected = client.connect().then(
    () => true,
    () => false,
  );
  const timedOut = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), timeoutMs);
  });
  const result = await Promise.race([connected, timedOut]);
  clearTimeout(timer);
  return result;
}
