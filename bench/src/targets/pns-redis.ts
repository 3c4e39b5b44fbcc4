/**
 * pns on its Redis broker (packages/server/src/broker/redis-broker.ts), long polling with the `pns`
 * target's subscriber. Each start runs its own redis-server (redis-process.ts) and the pns processes,
 * every one of them pinned to the server core and measured: server RSS and CPU are pns plus Redis.
 *
 * - `pns-redis`: one node, one process (`--workers 1`: with Redis the default is one worker per core).
 * - `pns-redis-3`: three such nodes on one Redis. Subscriber i polls node i mod 3 (pns-nodes-subscriber.ts)
 *   and the driver publishes to the nodes in turn, so most messages cross Redis to reach their subscriber.
 * - `pns-workers`: one `pns serve --workers 6` (node:cluster, one port) for scenario A up to 100,000 held
 *   polls. Each process may open 20,000 files here, so 100,000 need at least six; all six share CPU 0, so
 *   the figures compare with the one-core targets (the point is the count one machine holds, not speed).
 */
import { sleep } from '../clock.js';
import { allowedCpus } from '../measure.js';
import type { Target, TargetOptions } from '../target.js';
import { type PnsPublishing, type PnsServer, pnsTargetStarting, startPns } from './pns.js';
import { type RedisProcess, startRedisProcess } from './redis-process.js';

/** Worker processes of `pns-workers`: 100,000 held polls / 6 ≈ 16,700 each, below 20,000 − 256 per process. */
export const poolWorkers = 6;

/** One or more pns nodes on one Redis, published to in turn. */
class PnsOnRedis implements PnsPublishing {
  readonly url: string;
  readonly subscriberUrl: string | undefined;
  private next = 0;

  constructor(
    private readonly nodes: PnsServer[],
    private readonly redis: RedisProcess,
  ) {
    this.url = (nodes[0] as PnsServer).url;
    this.subscriberUrl = nodes.length > 1 ? nodes.map((node) => node.url).join(' ') : undefined;
  }

  get pids(): number[] {
    return [...this.nodes.flatMap((node) => node.pids), this.redis.pid];
  }

  get backplanePids(): number[] {
    return [this.redis.pid];
  }

  publish(body: string): Promise<void> {
    const node = this.nodes[this.next++ % this.nodes.length] as PnsServer;
    return node.publish(body);
  }

  async stop(): Promise<void> {
    try {
      await Promise.all(this.nodes.map((node) => node.stop()));
    } finally {
      await this.redis.stop();
    }
  }
}

/** Starts Redis, then `nodes` × `pns serve --workers <workers>` on it; every process pinned to `options.cpu`. */
async function startOnRedis(options: TargetOptions, nodes: number, workers: number): Promise<PnsOnRedis> {
  const { port, ...anyPort } = options;
  if (port !== undefined && nodes > 1) throw new Error('a restart on the same port is for one node only');
  const redis = await startRedisProcess(options.cpu);
  const started: PnsServer[] = [];
  try {
    const args = ['--redis-url', redis.url, '--redis-prefix', 'pns-bench', '--workers', String(workers)];
    for (let i = 0; i < nodes; i++) started.push(await startPns(i === 0 ? options : anyPort, args));
    const server = new PnsOnRedis(started, redis);
    // The primary forks its workers at once, but wait for all of them to be seen (bounded) before checking them.
    const expected = nodes * (workers > 1 ? workers + 1 : 1) + 1;
    for (let waited = 0; server.pids.length < expected && waited < 20_000; waited += 50) await sleep(50);
    if (server.pids.length !== expected) throw new Error(`expected ${expected} server processes, found ${server.pids.length}`);
    const stray = server.pids.filter((pid) => allowedCpus(pid) !== String(options.cpu));
    if (stray.length > 0) throw new Error(`server processes ${stray.join(', ')} are not pinned to CPU ${options.cpu}`);
    return server;
  } catch (error) {
    await Promise.allSettled(started.map((node) => node.stop()));
    await redis.stop();
    throw error;
  }
}

const longPoll = './targets/pns-subscriber.js';

export const pnsRedisTarget: Target = {
  ...pnsTargetStarting('pns-redis', longPoll, (options) => startOnRedis(options, 1, 1)),
  // D restarts the target, and with it Redis: a question for another scenario (see bench/README.md).
  scenarios: ['B', 'C'],
  compareWith: ['pns', 'nchan-redis'],
  note: 'one `pns serve --workers 1` on its Redis broker; server RSS and CPU are pns + redis-server, both pinned to CPU 0.',
};

export const pnsRedis3Target: Target = {
  ...pnsTargetStarting('pns-redis-3', './targets/pns-nodes-subscriber.js', (options) => startOnRedis(options, 3, 1)),
  scenarios: ['B', 'C'],
  compareWith: ['pns-redis', 'nchan-redis'],
  note:
    'three `pns serve --workers 1` nodes on one Redis; subscriber i polls node i mod 3 and publishes go to the nodes in turn; ' +
    'server RSS and CPU are the three nodes + redis-server, all pinned to CPU 0.',
};

export const pnsWorkersTarget: Target = {
  ...pnsTargetStarting('pns-workers', longPoll, (options) => startOnRedis(options, 1, poolWorkers)),
  scenarios: ['A'],
  explicitOnly: true,
  held: { quick: { levels: [5000, 25_000], holdMs: 10_000 }, full: { levels: [20_000, 50_000, 100_000], holdMs: 30_000 } },
  note:
    `\`pns serve --workers ${poolWorkers}\` on its Redis broker (${poolWorkers} workers because each process may open 20,000 files); ` +
    'server RSS and CPU are the primary, the workers and redis-server, all pinned to CPU 0.',
};
