// Failover: two pns nodes on one Redis behind a load balancer; node A is killed with SIGKILL in the middle of a
// stream of publishes. Its clients — the SDK (long polling and WebSocket) and the seed's cursorless client —
// reconnect through the balancer to node B and receive every message exactly once, in order.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { PnsMessage } from '@pns/protocol';
import { createPublisher, createToken } from '@pns/publisher';
import {
  type HttpPoller,
  type RedisInstance,
  redisSkipReason,
  type SpawnedServer,
  spawnServer,
  startHttpPoller,
  startRedis,
  startTcpBalancer,
  type TcpBalancer,
} from '@pns/test-support';
import { WebSocket as WsWebSocket } from 'ws';
import { PnsClient } from '../src/index.js';

const noRedis = redisSkipReason();
const secret = 'redis-failover-test-secret-0123456789';
const publishKey = 'redis-failover-test-publish-key-0123456789';
const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function until(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(20);
  }
}

/** Connections `node` holds now, over every transport (its own metrics). */
async function held(node: SpawnedServer): Promise<number> {
  const text = await (await fetch(`${node.url}/metrics`)).text();
  let total = 0;
  for (const match of text.matchAll(/^pns_held_connections\{transport="[a-z]+"\} (\d+)$/gm)) total += Number(match[1]);
  return total;
}

describe('failover between nodes on one Redis', { skip: noRedis, timeout: 120_000 }, () => {
  let redis: RedisInstance;
  let nodeA: SpawnedServer;
  let nodeB: SpawnedServer;
  let balancer: TcpBalancer;

  before(async () => {
    redis = await startRedis();
    const env = {
      PNS_SECRET: secret,
      PNS_PUBLISH_KEY: publishKey,
      PNS_REDIS_URL: redis.url,
      PNS_REDIS_PREFIX: `failover-${randomBytes(4).toString('hex')}`,
      PNS_WORKERS: '1',
    };
    const args = ['--drain-seconds', '0'];
    [nodeA, nodeB] = await Promise.all([spawnServer({ env, args }), spawnServer({ env, args })]);
    balancer = await startTcpBalancer([nodeA.port, nodeB.port]);
  });
  after(async () => {
    await balancer?.close();
    await Promise.all([nodeA?.stop(), nodeB?.stop()]);
    await redis?.stop();
  });

  it('moves the clients of a node killed with SIGKILL to another node without losing or repeating a message', async () => {
    const users = ['f1', 'f2', 'f3', 'f4', 'f5', 'f6'];
    const sdkClients: { user: string; client: PnsClient; got: PnsMessage[] }[] = [];
    const seedClients: { user: string; poller: HttpPoller }[] = [];
    for (const [index, user] of users.entries()) {
      const sid = await createToken({ secret, user });
      if (index < 4) {
        // Half of the SDK clients on WebSocket, half long polling (what `auto` does in Node without one).
        const webSocket = index % 2 === 0 ? { WebSocket: WsWebSocket as unknown as typeof WebSocket } : {};
        const client = new PnsClient({ url: balancer.url, sid, hold: 20, ...webSocket });
        const got: PnsMessage[] = [];
        client.on('message', (message) => got.push(message));
        await client.start();
        sdkClients.push({ user, client, got });
      } else {
        seedClients.push({ user, poller: startHttpPoller({ url: balancer.url, sid, hold: 20 }) });
      }
    }
    // Every client is held, and the balancer put some of them on A.
    let total = 0;
    for (let tries = 0; tries < 250; tries++) {
      total = (await held(nodeA)) + (await held(nodeB));
      if (total === users.length) break;
      await delay(20);
    }
    assert.equal(total, users.length, 'every client is held by a node');
    const onA = await held(nodeA);
    assert.ok(onA >= 2, `node A holds ${onA} of the clients`);

    // Publishes go through the balancer too: one that reaches the dying node is retried (same id) on the other.
    const publisher = createPublisher({ url: balancer.url, publishKey, retries: 10, retryDelayMs: 100 });
    const sent: { id: string; user: string }[] = [];
    for (let i = 0; i < 60; i++) {
      const user = users[i % users.length] as string;
      sent.push({ id: await publisher.publish(`user:${user}`, 70, { i }), user });
      if (i === 20) {
        // Between two publishes, after A has answered and recorded the last one.
        await delay(20);
        nodeA.child.kill('SIGKILL');
      }
      await delay(25);
    }
    const owed = (user: string): string[] => sent.filter((message) => message.user === user).map((message) => message.id);
    for (const { user, got } of sdkClients) await until(() => got.length >= owed(user).length, `the SDK client of ${user}`);
    for (const { user, poller } of seedClients)
      await until(() => poller.received.length >= owed(user).length, `the seed client of ${user}`);
    await delay(500); // a repeat, if any, would arrive by now
    for (const { user, client, got } of sdkClients) {
      assert.deepEqual(
        got.map((message) => message.id),
        owed(user),
        `SDK client of ${user}`,
      );
      client.stop();
    }
    for (const { user, poller } of seedClients) {
      await poller.stop();
      assert.deepEqual(
        poller.received.map((message) => message.id),
        owed(user),
        `seed client of ${user}`,
      );
      assert.deepEqual(poller.serverErrors, [], `seed client of ${user}: a server error would stop it for 2 minutes`);
      assert.deepEqual(poller.gaps, []);
    }
  });
});
