import type { Logger } from 'pino';
import { LocalNodeBoard, type NodeBoard, RedisNodeBoard } from '../admin/node-board.js';
import { RedisRevocations } from '../auth/redis-revocations.js';
import { RedisSessionResolver } from '../auth/redis-session-resolver.js';
import { MemoryRevocations, type Revocations } from '../auth/revocations.js';
import type { SessionResolver } from '../auth/session-resolver.js';
import type { ServerConfig } from '../config/options.js';
import { type ClientPositionStore, MemoryClientPositionStore } from '../hub/client-positions.js';
import { RedisClientPositionStore } from '../hub/redis-client-positions.js';
import type { PnsMetrics } from '../ops/metrics.js';
import type { Broker } from './broker.js';
import { MemoryBroker } from './memory-broker.js';
import { RedisBroker } from './redis-broker.js';
import { RedisClock } from './redis-clock.js';
import { connectRedis, createRedisClient, createRedisClients, createRedisSubscriber, type RedisClient } from './redis-connection.js';

export interface Storage {
  broker: Broker;
  clientPositions: ClientPositionStore;
  /** Set when sessions live in Redis (PNS_SESSION_REDIS_KEY); otherwise tokens are JWTs. */
  sessions: SessionResolver | undefined;
  /** Where nodes post the stats the dashboard shows. */
  nodeBoard: NodeBoard;
  /** Revoked sessions, seen by every node. */
  revocations: Revocations;
  /**
   * Now (epoch ms) on the clock the nodes share: Redis's (see redis-clock.ts), else this process's. For what
   * compares times across nodes or with a message's `ts`; a session token's `exp` is judged by the node's own.
   */
  clock: () => number;
  /** Closes what the broker does not own (the session store's connection). */
  close(): Promise<void>;
}

/** How long Redis errors stay quiet after one was logged: a Redis that is away fails every reconnect attempt. */
const errorLogIntervalMs = 5000;

/** Logs an error, then stays quiet for a while: one line per outage, not one per retry. */
function throttledErrorLog(logger: Logger, what: string): (error: unknown) => void {
  let lastLogged = 0;
  return (error) => {
    const now = Date.now();
    if (now - lastLogged < errorLogIntervalMs) return;
    lastLogged = now;
    logger.warn({ err: error }, what);
  };
}

/**
 * The broker and cursorless-position store the configuration asks for: in memory (one process), or in
 * Redis (PNS_REDIS_URL), where every node of a service sees the same messages and positions.
 */
export async function storageFromConfig(
  config: ServerConfig,
  logger: Logger,
  metrics: PnsMetrics,
  positionLifetimeMs: number,
): Promise<Storage> {
  let sessionRedis: RedisClient | undefined;
  let sessions: SessionResolver | undefined;
  if (config.sessionRedisKey) {
    // Sessions in their own Redis, or in the broker's (a Cluster then, if the broker's is one).
    const target = config.sessionRedisUrl
      ? { urls: [config.sessionRedisUrl], cluster: false }
      : { urls: config.redisUrl, cluster: config.redisCluster };
    sessionRedis = createRedisClient({ ...target, connectionName: `pns-${process.pid}` }, 'sessions');
    watch(sessionRedis, 'sessions', logger, metrics, throttledErrorLog(logger, 'session redis unavailable; retrying'));
    if (!(await connectRedis(sessionRedis, 10_000))) logger.warn('session redis not reachable yet: polls get 503 until it is');
    sessions = new RedisSessionResolver({ redis: sessionRedis, keyTemplate: config.sessionRedisKey });
  }
  const close = async (): Promise<void> => {
    await sessionRedis?.quit().catch(() => undefined);
  };
  if (config.redisUrl.length === 0) {
    const broker = new MemoryBroker({
      retentionCount: config.retentionCount,
      memoryBudgetBytes: config.memoryMb * 1024 * 1024,
      channelIdleMs: positionLifetimeMs,
    });
    metrics.countBrokerChannels(() => broker.stats().subscribedChannels);
    return {
      sessions,
      close,
      broker,
      clientPositions: new MemoryClientPositionStore({ maxEntries: config.clientPositions, ttlMs: positionLifetimeMs }),
      nodeBoard: new LocalNodeBoard(),
      revocations: new MemoryRevocations({ keepUserRevocationMs: config.revocationSeconds * 1000 }),
      clock: Date.now,
    };
  }
  const clients = createRedisClients({ urls: config.redisUrl, cluster: config.redisCluster, connectionName: `pns-${process.pid}` });
  const onError = throttledErrorLog(logger, 'redis unavailable; retrying');
  watch(clients.redis, 'commands', logger, metrics, onError);
  watch(clients.subscriber, 'subscriber', logger, metrics, onError);
  const revocationSubscriber = createRedisSubscriber(
    { urls: config.redisUrl, cluster: config.redisCluster, connectionName: `pns-${process.pid}` },
    'revocations',
  );
  watch(revocationSubscriber, 'revocations', logger, metrics, onError);
  const connected = await Promise.all([
    connectRedis(clients.redis, 10_000),
    connectRedis(clients.subscriber, 10_000),
    connectRedis(revocationSubscriber, 10_000),
  ]);
  if (!connected.every(Boolean)) logger.warn('redis not reachable yet: answering 503 BACKEND_UNAVAILABLE until it is');
  const clock = new RedisClock(clients.redis);
  await clock.measure();
  // A skew this large shifts what the node judges by its own clock (session tokens' exp) against the others.
  if (Math.abs(clock.skewMs) > 5000) logger.warn({ skewMs: clock.skewMs }, 'this node’s clock is far from Redis’s: check NTP');
  const broker = new RedisBroker({
    ...clients,
    cluster: config.redisCluster,
    prefix: config.redisPrefix,
    retentionCount: config.retentionCount,
    channelIdleMs: positionLifetimeMs,
    onError,
  });
  metrics.countBrokerChannels(() => broker.stats().subscribedChannels);
  return {
    sessions,
    close: async () => {
      clock.stop();
      await close();
    },
    broker,
    clientPositions: new RedisClientPositionStore({
      redis: clients.redis,
      prefix: config.redisPrefix,
      ttlMs: positionLifetimeMs,
      now: clock.now,
    }),
    // Five missed samples: a node that stopped drops off the dashboard within seconds.
    nodeBoard: new RedisNodeBoard({ redis: clients.redis, prefix: config.redisPrefix, staleMs: 5000, now: clock.now }),
    revocations: new RedisRevocations({
      redis: clients.redis,
      subscriber: revocationSubscriber,
      prefix: config.redisPrefix,
      keepUserRevocationMs: config.revocationSeconds * 1000,
      onError,
      now: clock.now,
    }),
    clock: clock.now,
  };
}

function watch(client: RedisClient, role: string, logger: Logger, metrics: PnsMetrics, onError: (error: unknown) => void): void {
  let lost = false;
  metrics.redisConnected.set({ role }, 0);
  client.on('error', onError);
  client.on('close', () => {
    lost = true;
    metrics.redisConnected.set({ role }, 0);
  });
  client.on('ready', () => {
    if (lost) logger.info({ role }, 'redis connection back');
    lost = false;
    metrics.redisConnected.set({ role }, 1);
  });
}
