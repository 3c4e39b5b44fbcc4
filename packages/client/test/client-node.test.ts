import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import type { PnsMessage } from '@pns/protocol';
import { createPublisher, createToken } from '@pns/publisher';
import { type SpawnedServer, spawnServer } from '@pns/test-support';
import { WebSocket as WsWebSocket } from 'ws';
import { PnsClient, type PnsClientError, type PnsStatus } from '../src/index.js';

const secret = 'client-node-test-secret-0123456789';
const publishKey = 'client-node-test-publish-key-0123456789';

async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Long polls (or other connections) the server holds right now, from its metrics. */
async function heldPolls(url: string, transport = 'longpoll'): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(new RegExp(`pns_held_connections\\{transport="${transport}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
}

// The client outside a browser (Node's fetch, no tab sharing): the same loop and rules.
describe('PnsClient in Node', { timeout: 60_000 }, () => {
  let server: SpawnedServer;
  let publisher: ReturnType<typeof createPublisher>;
  before(async () => {
    server = await spawnServer({ env: { PNS_SECRET: secret, PNS_PUBLISH_KEY: publishKey }, args: ['--drain-seconds', '0'] });
    publisher = createPublisher({ url: server.url, publishKey });
  });
  after(() => server.stop());
  const clients: PnsClient[] = [];
  afterEach(async () => {
    for (const client of clients.splice(0)) client.stop();
    // The server notices a stopped client's poll going away a moment later: every case starts from none.
    await held(0);
  });
  /** A client that is stopped after the test, whatever happens. */
  function track(client: PnsClient): PnsClient {
    clients.push(client);
    return client;
  }
  /** Waits until the server holds `count` polls: a client's first poll starts at "now" once the server has it. */
  async function held(count: number): Promise<void> {
    const deadline = Date.now() + 5000;
    while ((await heldPolls(server.url)) !== count) {
      if (Date.now() > deadline) throw new Error(`the server never held ${count} polls`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  it('delivers typed messages once each, in order, and keeps the cursor', async () => {
    const client = track(
      new PnsClient({ url: server.url, sid: await createToken({ secret, user: 'n1', topics: ['news'] }), topics: ['news'], hold: 5 }),
    );
    const all: PnsMessage[] = [];
    const mail: unknown[] = [];
    const statuses: PnsStatus[] = [];
    client.on('message', (m) => all.push(m));
    client.onMessage<{ subject: string }>(70, (m) => mail.push(m.data.subject));
    client.on('status', (s) => statuses.push(s));
    await client.start();
    await held(1);
    await publisher.publish('user:n1', 70, { subject: 'a' });
    await publisher.publish(['user:n1', 'topic:news'], 'digest', null);
    await publisher.publish('user:n1', 70, { subject: 'b' });
    await until(() => all.length === 3);
    assert.deepEqual(mail, ['a', 'b']);
    assert.deepEqual(
      all.map((m) => m.type),
      [70, 'digest', 70],
    );
    assert.match(client.cursor ?? '', /^v1\./);
    assert.equal(client.leader, true, 'without Web Locks every client polls for itself');
    client.stop();
    assert.equal(client.status, 'stopped');
    assert.ok(statuses.includes('polling'));
  });

  it('long-polls by itself where there is no WebSocket or EventSource, and uses a WebSocket class it is given', async () => {
    const sid = await createToken({ secret, user: 'n-ws' });
    assert.equal(typeof globalThis.WebSocket, 'undefined', 'Node 20 has no global WebSocket');
    assert.throws(() => new PnsClient({ url: server.url, sid, transport: 'websocket' }), TypeError);
    const polling = track(new PnsClient({ url: server.url, sid, hold: 5 }));
    const seen: string[] = [];
    polling.on('message', (m) => seen.push(`poll:${m.data}`));
    await polling.start();
    await held(1);
    assert.equal(polling.transport, 'longpoll');
    const streaming = track(
      new PnsClient({ url: server.url, sid, transport: 'auto', WebSocket: WsWebSocket as unknown as typeof WebSocket }),
    );
    streaming.on('message', (m) => seen.push(`ws:${m.data}`));
    await streaming.start();
    for (let tries = 0; (await heldPolls(server.url, 'websocket')) !== 1; tries++) {
      assert.ok(tries < 250, 'the WebSocket is never held');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(streaming.transport, 'websocket');
    await publisher.publish('user:n-ws', 1, 'one');
    await until(() => seen.length === 2);
    assert.deepEqual(seen.sort(), ['poll:one', 'ws:one']);
  });

  it('resumes from a cursor handed to a new client, without repeats', async () => {
    const sid = await createToken({ secret, user: 'n2' });
    const first = track(new PnsClient({ url: server.url, sid, hold: 5 }));
    const seen: unknown[] = [];
    first.on('message', (m) => seen.push(m.data));
    await first.start();
    await held(1);
    await publisher.publish('user:n2', 1, 'one');
    await until(() => seen.length === 1);
    first.stop();
    await held(0);
    await publisher.publish('user:n2', 1, 'two');
    const second = track(new PnsClient({ url: server.url, sid, hold: 5 }));
    second.on('message', (m) => seen.push(m.data));
    await second.start(first.cursor);
    await until(() => seen.length === 2);
    assert.deepEqual(seen, ['one', 'two']);
    second.stop();
  });

  it('stops and reports sessionExpired for a token the server no longer accepts', async () => {
    const now = Math.floor(Date.now() / 1000);
    const { SignJWT } = await import('jose');
    const expired = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('n3')
      .setExpirationTime(now - 120)
      .sign(new TextEncoder().encode(secret));
    const client = track(new PnsClient({ url: server.url, sid: expired }));
    const reported: PnsClientError[] = [];
    client.on('sessionExpired', (error) => reported.push(error));
    await client.start();
    await until(() => reported.length === 1);
    assert.equal(reported[0]?.code, 'SESSION_EXPIRED');
    assert.equal(client.status, 'stopped');
  });

  it('asks a sid function for a fresh token once before giving up', async () => {
    let calls = 0;
    const client = track(
      new PnsClient({
        url: server.url,
        hold: 5,
        sid: async () => (++calls === 1 ? 'not-a-token' : createToken({ secret, user: 'n4' })),
      }),
    );
    const got: unknown[] = [];
    client.on('message', (m) => got.push(m.data));
    await client.start();
    await held(1);
    assert.equal(calls, 2);
    await publisher.publish('user:n4', 1, 'after refresh');
    await until(() => got.length === 1);
    client.stop();
  });

  it('stops with an error event on a request a retry cannot fix', async () => {
    const client = track(new PnsClient({ url: server.url, sid: await createToken({ secret, user: 'n5' }), topics: ['forbidden'] }));
    const errors: PnsClientError[] = [];
    client.on('error', (error) => errors.push(error));
    await client.start();
    await until(() => errors.length === 1);
    assert.deepEqual({ code: errors[0]?.code, status: errors[0]?.status }, { code: 'CHANNEL_FORBIDDEN', status: 403 });
    assert.equal(client.status, 'stopped');
  });

  it('retries a refused connection after about 500 ms, not 2 minutes', async () => {
    const requests: number[] = [];
    const failing: typeof fetch = async (input, init) => {
      requests.push(Date.now());
      if (requests.length === 1) throw new TypeError('fetch failed');
      return fetch(input, init);
    };
    const client = track(new PnsClient({ url: server.url, sid: await createToken({ secret, user: 'n6' }), hold: 5, fetch: failing }));
    await client.start();
    await until(() => requests.length >= 2);
    const waited = (requests[1] as number) - (requests[0] as number);
    assert.ok(waited >= 450 && waited < 3000, `waited ${waited} ms`);
    // The retry is held before the client stops, so its end is what afterEach waits for, not a late arrival.
    await held(1);
    client.stop();
  });

  it('treats a failing token source as network trouble, not the end of the session', async () => {
    let calls = 0;
    const client = track(
      new PnsClient({
        url: server.url,
        hold: 5,
        retryBaseMs: 50,
        sid: async () => {
          calls++;
          if (calls === 1) return 'not-a-token';
          if (calls === 2) throw new Error('token endpoint down');
          return createToken({ secret, user: 'n7' });
        },
      }),
    );
    const expired: PnsClientError[] = [];
    client.on('sessionExpired', (error) => expired.push(error));
    await client.start();
    await until(() => calls === 3);
    await held(1);
    assert.equal(calls, 3);
    assert.deepEqual(expired, []);
  });

  it('sends nothing after stop(), even while a fresh token was on its way', async () => {
    let requests = 0;
    const counting: typeof fetch = (input, init) => {
      requests++;
      return fetch(input, init);
    };
    let asked: () => void = () => {};
    const refreshing = new Promise<void>((resolve) => {
      asked = resolve;
    });
    let calls = 0;
    const client = track(
      new PnsClient({
        url: server.url,
        hold: 5,
        fetch: counting,
        sid: async () => {
          if (++calls === 1) return 'not-a-token';
          asked();
          await new Promise((resolve) => setTimeout(resolve, 200));
          return createToken({ secret, user: 'n-stop' });
        },
      }),
    );
    await client.start();
    await refreshing;
    client.stop();
    await new Promise((resolve) => setTimeout(resolve, 400));
    assert.deepEqual([calls, requests], [2, 1]);
  });

  it('can be started again after its token source failed at start', async () => {
    let fail = true;
    const client = track(
      new PnsClient({
        url: server.url,
        hold: 5,
        sid: async () => {
          if (fail) throw new Error('not yet');
          return createToken({ secret, user: 'n8' });
        },
      }),
    );
    await assert.rejects(client.start(), /not yet/);
    fail = false;
    await client.start();
    await held(1);
  });

  it('drops a cursor the server refuses, reports a gap, and goes on', async () => {
    const client = track(new PnsClient({ url: server.url, sid: await createToken({ secret, user: 'n9' }), hold: 5 }));
    let gaps = 0;
    client.on('gap', () => gaps++);
    const got: unknown[] = [];
    client.on('message', (m) => got.push(m.data));
    await client.start('v1.not-a-cursor');
    await held(1);
    assert.equal(gaps, 1);
    await publisher.publish('user:n9', 1, 'still delivered');
    await until(() => got.length === 1);
  });
});
