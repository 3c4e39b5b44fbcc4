export { browserSkipReason, launchChromium } from './chromium.js';
export { faketimeSkipReason, faketimeWrapper } from './faketime.js';
export { type HttpPoller, type HttpPollerOptions, startHttpPoller } from './http-poller.js';
export {
  type RedisClusterInstance,
  type RedisInstance,
  type RedisOptions,
  redisBinary,
  redisCliBinary,
  redisSkipReason,
  startRedis,
  startRedisCluster,
} from './redis-server.js';
export { type RedisReply, redisCommand } from './redis-wire.js';
export { cliPath, heldConnections, type SpawnedServer, type SpawnOptions, spawnServer } from './spawn-server.js';
export { type SseEvent, SseParser } from './sse-parser.js';
export { startTcpBalancer, type TcpBalancer, type TcpBalancerOptions } from './tcp-balancer.js';
