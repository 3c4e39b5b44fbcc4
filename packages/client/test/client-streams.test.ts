// The client's streams in Node, with the `ws` package's WebSocket, through a proxy in front of a real `pns serve`:
// how it behaves when a WebSocket is refused, dies young, or goes silent without a close.
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { createPublisher, createToken } from '@pns/publisher';
import { type SpawnedServer, spawnServer } from '@pns/test-support';
import { WebSocket as WsWebSocket } from 'ws';
import { PnsClient, type TransportName } from '../src/index.js';
import { type ProxyBehaviour, startTransportProxy, type TransportProxy } from './support/transport-proxy.js';

const secret = 'client-streams-test-secret-0123456789';
const publishKey = 'client-streams-test-publish-key-0123456789';
const WebSocketClass = WsWebSocket as unknown as typeof WebSocket;

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('PnsClient streams in Node', { timeout: 90_000 }, () => {
  let server: SpawnedServer;
  let publisher: ReturnType<typeof createPublisher>;
  const proxies: TransportProxy[] = [];
  const clients: PnsClient[] = [];
  before(async () => {
    // Frequent heartbeats, so a silent stream is noticed within seconds (2 × 0.5 s + 5 s).
    server = await spawnServer({
      env: { PNS_SECRET: secret, PNS_PUBLISH_KEY: publishKey, PNS_WS_PING_SECONDS: '0.5' },
      args: ['--drain-seconds', '0'],
    });
    publisher = createPublisher({ url: server.url, publishKey });
  });
  afterEach(async () => {
    for (const client of clients.splice(0)) client.stop();
    await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
  });
  after(() => server.stop());

  async function setup(
    user: string,
    behaviour: ProxyBehaviour,
    transport: 'auto' | TransportName,
  ): Promise<{ client: PnsClient; proxy: TransportProxy; ids: string[]; transports: TransportName[] }> {
    const proxy = await startTransportProxy(server.url, behaviour);
    proxies.push(proxy);
    const client = new PnsClient({
      url: proxy.url,
      sid: await createToken({ secret, user }),
      hold: 5,
      transport,
      WebSocket: WebSocketClass,
    });
    clients.push(client);
    const ids: string[] = [];
    const transports: TransportName[] = [];
    client.on('message', (message) => ids.push(message.id));
    client.on('transport', (name) => transports.push(name));
    await client.start();
    await until('a first cursor', () => client.cursor !== undefined);
    return { client, proxy, ids, transports };
  }

  it('backs off from a WebSocket the network refuses, while the polls that check it deliver', async () => {
    const { proxy, ids } = await setup('refused', { upgrades: 'refuse', buffer: false }, 'websocket');
    const published: string[] = [];
    for (let n = 0; n < 3; n++) published.push(await publisher.publish('user:refused', 1, n, { id: `refused-${n}` }));
    await until('the messages, through the checking polls', () => ids.length === 3);
    assert.deepEqual(ids, published);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    // Backing off: 0.5–0.75 s, then 1–2 s, then longer. A client that did not would try hundreds of times a second.
    assert.ok(proxy.counts.refusedUpgrades <= 6, `${proxy.counts.refusedUpgrades} upgrades in about 3 s`);
  });

  it('steps down from a WebSocket that goes live and keeps dying young, without a tight loop', async () => {
    const { client, proxy, ids, transports } = await setup('young', { upgrades: 'pass', buffer: false, cutUpgradesAfterMs: 300 }, 'auto');
    await until('long polling', () => client.transport === 'longpoll', 15_000);
    assert.ok(proxy.counts.upgrades >= 2 && proxy.counts.upgrades <= 3, `${proxy.counts.upgrades} upgrades`);
    assert.deepEqual(transports, ['websocket', 'longpoll']);
    const id = await publisher.publish('user:young', 1, 'after', { id: 'young-after' });
    await until('the message over long polling', () => ids.includes(id));
    assert.deepEqual(ids, [id]);
  });

  it('takes a WebSocket that goes silent without a close for dead, and reconnects', async () => {
    const { client, proxy, ids } = await setup('silent', { upgrades: 'pass', buffer: false }, 'auto');
    await until('the WebSocket', () => proxy.counts.upgrades === 1 && client.transport === 'websocket');
    await new Promise((resolve) => setTimeout(resolve, 500)); // its first frame has come
    proxy.freezeUpgrades();
    const frozenAt = Date.now();
    const id = await publisher.publish('user:silent', 1, 'while frozen', { id: 'silent-1' });
    await until('the message on a new connection', () => ids.includes(id), 15_000);
    const noticedMs = Date.now() - frozenAt;
    assert.ok(noticedMs >= 5000, `reconnected after ${noticedMs} ms: before the heartbeats were missed`);
    assert.equal(proxy.counts.upgrades >= 1 && client.transport, 'websocket');
    assert.deepEqual(ids, [id]);
    process.stdout.write(`# a silent WebSocket was noticed and replaced after ${noticedMs} ms (heartbeat 0.5 s)\n`);
  });
});
