import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { PnsMessage, PollResponse } from '@pns/protocol';
import { type SpawnedServer, spawnServer } from '@pns/test-support';
import { createPublisher, createToken, PublishError, type PublisherOptions } from '../src/index.js';

const secret = 'publisher-test-secret-0123456789';
const publishKey = 'publisher-test-publish-key-0123456789';

type StubAction =
  /** Pass the request to the real server and its answer back. */
  | 'forward'
  /** Pass it on, let the server store it, then cut the connection before the answer. */
  | 'lose-answer'
  /** Never answer. */
  | 'hang'
  | { status: number; headers?: Record<string, string>; body: string };

interface Stub {
  url: string;
  /** Every request body received, in order. */
  bodies: string[];
  close(): Promise<void>;
}

/** A small HTTP server in front of (or instead of) the real one; `plan(n)` decides what the n-th request gets. */
async function startStub(upstream: string | undefined, plan: (index: number) => StubAction): Promise<Stub> {
  const bodies: string[] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const action = plan(bodies.length);
      bodies.push(body);
      if (action === 'hang') return;
      if (typeof action === 'object') {
        res.writeHead(action.status, { 'content-type': 'application/json', ...action.headers }).end(action.body);
        return;
      }
      assert.ok(upstream, 'no upstream to forward to');
      const forwarded = httpRequest(
        `${upstream}${req.url}`,
        { method: req.method, headers: { ...req.headers, host: new URL(upstream).host }, agent: false },
        (answer) => {
          const answerChunks: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => answerChunks.push(chunk));
          answer.on('end', () => {
            if (action === 'lose-answer') {
              req.socket.destroy();
              return;
            }
            res.writeHead(answer.statusCode ?? 502, answer.headers).end(Buffer.concat(answerChunks));
          });
        },
      );
      forwarded.on('error', () => req.socket.destroy());
      forwarded.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    bodies,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A port with nothing listening on it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function sentIds(body: string): string[] {
  return (JSON.parse(body) as { id: string }[]).map((message) => message.id);
}

const unavailable = {
  status: 503,
  headers: { 'retry-after': '0' },
  body: JSON.stringify({ errorCode: 'BACKEND_UNAVAILABLE', message: 'The message store is unavailable; retry later.' }),
};

const rateLimited = {
  status: 429,
  headers: { 'retry-after': '1' },
  body: JSON.stringify({ errorCode: 'RATE_LIMITED', message: 'Too many requests; retry after the Retry-After delay.' }),
};

describe('Publisher', { timeout: 120_000 }, () => {
  let server: SpawnedServer;
  const stubs: Stub[] = [];
  let users = 0;

  before(async () => {
    server = await spawnServer({ env: { PNS_SECRET: secret, PNS_PUBLISH_KEY: publishKey }, args: ['--drain-seconds', '0'] });
  });
  after(async () => {
    await Promise.all(stubs.map((stub) => stub.close()));
    if (server) assert.equal(await server.stop(), 0);
  });

  async function stub(upstream: string | undefined, plan: (index: number) => StubAction): Promise<Stub> {
    const started = await startStub(upstream, plan);
    stubs.push(started);
    return started;
  }

  function publisher(options: Partial<PublisherOptions> = {}) {
    return createPublisher({ url: server.url, publishKey, retryDelayMs: 10, maxRetryDelayMs: 50, timeoutMs: 5000, ...options });
  }

  async function poll(sid: string, cursor?: string): Promise<PollResponse> {
    const search = new URLSearchParams({ sid, hold: '0' });
    if (cursor !== undefined) search.set('cursor', cursor);
    else search.set('comeFrom', 'publisher-test');
    const answer = await fetch(`${server.url}/pns/poll?${search}`, { signal: AbortSignal.timeout(10_000) });
    assert.equal(answer.status, 200);
    return (await answer.json()) as PollResponse;
  }

  /** A fresh user, and a reader that returns what reached it since this call. */
  async function listener(): Promise<{ to: string; received(): Promise<PnsMessage[]> }> {
    const user = `pub-${++users}`;
    const sid = await createToken({ secret, user });
    const { cursor } = await poll(sid);
    return { to: `user:${user}`, received: async () => (await poll(sid, cursor)).msg };
  }

  describe('#publish', () => {
    it('resolves with the id it sent once the message is stored', async () => {
      const reader = await listener();
      const id = await publisher().publish(reader.to, 70, { subject: 'hi' }, { id: 'order-1001' });
      assert.equal(id, 'order-1001');
      const received = await reader.received();
      assert.equal(received.length, 1);
      assert.equal(received[0]?.id, 'order-1001');
      assert.equal(received[0]?.type, 70);
      assert.deepEqual(received[0]?.data, { subject: 'hi' });
    });

    it('generates an id when none is given', async () => {
      const reader = await listener();
      const id = await publisher().publish(reader.to, 'mail.new', null);
      assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      assert.deepEqual(
        (await reader.received()).map((message) => [message.id, message.type]),
        [[id, 'mail.new']],
      );
    });

    it('sends to several recipients at once', async () => {
      const [one, two] = [await listener(), await listener()];
      const id = await publisher().publish([one.to, two.to], 1, 'both');
      assert.deepEqual(
        (await one.received()).map((message) => message.id),
        [id],
      );
      assert.deepEqual(
        (await two.received()).map((message) => message.id),
        [id],
      );
    });
  });

  describe('#publishBatch', () => {
    it('stores every message and resolves with their ids in order', async () => {
      const reader = await listener();
      const ids = await publisher().publishBatch([
        { to: reader.to, type: 1, data: 'a', id: 'batch-1' },
        { to: reader.to, type: 1, data: 'b' },
        { to: reader.to, type: 1, data: 'c', ttl: 60 },
      ]);
      assert.equal(ids.length, 3);
      assert.equal(ids[0], 'batch-1');
      assert.equal(new Set(ids).size, 3);
      const received = await reader.received();
      assert.deepEqual(
        received.map((message) => [message.id, message.data]),
        [
          [ids[0], 'a'],
          [ids[1], 'b'],
          [ids[2], 'c'],
        ],
      );
    });

    it('rejects a batch with one invalid member with BAD_REQUEST, storing none of it', async () => {
      const reader = await listener();
      const error = await publisher()
        .publishBatch([
          { to: reader.to, type: 1, data: 'good' },
          { to: 'nobody', type: 1, data: 'bad' },
        ])
        .then(
          () => assert.fail('the batch was accepted'),
          (rejection: unknown) => rejection,
        );
      assert.ok(error instanceof PublishError);
      assert.equal(error.code, 'BAD_REQUEST');
      assert.equal(error.status, 400);
      assert.deepEqual(await reader.received(), []);
    });
  });

  describe('#idempotency', () => {
    it('delivers a message once when it is published again with the same id', async () => {
      const reader = await listener();
      const first = await publisher().publish(reader.to, 70, { n: 1 }, { id: 'same-id-1' });
      const again = await publisher().publish(reader.to, 70, { n: 1 }, { id: 'same-id-1' });
      assert.equal(first, 'same-id-1');
      assert.equal(again, 'same-id-1');
      assert.equal((await reader.received()).length, 1);
    });

    it('delivers a message once when its first answer is lost and the retry resends it', async () => {
      const reader = await listener();
      const proxy = await stub(server.url, (index) => (index === 0 ? 'lose-answer' : 'forward'));
      const id = await publisher({ url: proxy.url, retries: 2 }).publish(reader.to, 70, 'once');
      assert.equal(proxy.bodies.length, 2, 'one lost answer, one retry');
      assert.deepEqual(sentIds(proxy.bodies[0] as string), [id]);
      assert.deepEqual(sentIds(proxy.bodies[1] as string), [id]);
      const received = await reader.received();
      assert.deepEqual(
        received.map((message) => message.id),
        [id],
      );
    });
  });

  describe('#errors and retries', () => {
    it('rejects with PUBLISH_UNAUTHORIZED for a wrong key, without retrying', async () => {
      const proxy = await stub(server.url, () => 'forward');
      const error = await publisher({ url: proxy.url, publishKey: 'wrong-key-0123456789', retries: 3 })
        .publish('user:42', 1, null)
        .then(
          () => assert.fail('published with a wrong key'),
          (rejection: unknown) => rejection,
        );
      assert.ok(error instanceof PublishError);
      assert.equal(error.code, 'PUBLISH_UNAUTHORIZED');
      assert.equal(error.status, 401);
      assert.equal(proxy.bodies.length, 1, 'a 4xx is not retried');
    });

    it('does not retry a 400', async () => {
      const proxy = await stub(server.url, () => 'forward');
      await assert.rejects(publisher({ url: proxy.url, retries: 3 }).publish('nobody', 1, null), {
        name: 'PublishError',
        code: 'BAD_REQUEST',
      });
      assert.equal(proxy.bodies.length, 1);
    });

    it('retries a 503 and sends the same id on every attempt', async () => {
      const reader = await listener();
      const flaky = await stub(server.url, (index) => (index < 2 ? unavailable : 'forward'));
      const id = await publisher({ url: flaky.url, retries: 3 }).publish(reader.to, 70, 'after two 503s');
      assert.equal(flaky.bodies.length, 3);
      for (const body of flaky.bodies) assert.deepEqual(sentIds(body), [id]);
      assert.deepEqual(
        (await reader.received()).map((message) => message.data),
        ['after two 503s'],
      );
    });

    it('keeps every id of a batch the same across retries', async () => {
      const flaky = await stub(server.url, (index) => (index < 1 ? unavailable : 'forward'));
      const reader = await listener();
      const ids = await publisher({ url: flaky.url, retries: 1 }).publishBatch([
        { to: reader.to, type: 1 },
        { to: reader.to, type: 2, id: 'mine' },
      ]);
      assert.equal(flaky.bodies.length, 2);
      assert.deepEqual(sentIds(flaky.bodies[0] as string), ids);
      assert.deepEqual(sentIds(flaky.bodies[1] as string), ids);
      assert.equal(ids[1], 'mine');
    });

    it('gives up after its retries with the server’s code', async () => {
      const down = await stub(undefined, () => unavailable);
      const error = await publisher({ url: down.url, retries: 2 })
        .publish('user:42', 1, null)
        .then(
          () => assert.fail('published to a server that is down'),
          (rejection: unknown) => rejection,
        );
      assert.ok(error instanceof PublishError);
      assert.equal(error.code, 'BACKEND_UNAVAILABLE');
      assert.equal(error.status, 503);
      assert.equal(down.bodies.length, 3, 'one attempt and two retries');
    });

    it('retries a 429 RATE_LIMITED after its Retry-After, with the same id', async () => {
      const reader = await listener();
      const limited = await stub(server.url, (index) => (index < 1 ? rateLimited : 'forward'));
      const started = Date.now();
      const id = await publisher({ url: limited.url, retries: 1, maxRetryDelayMs: 5000 }).publish(reader.to, 70, 'after a 429');
      assert.ok(Date.now() - started >= 950, `retried after ${Date.now() - started} ms, not after Retry-After: 1`);
      assert.equal(limited.bodies.length, 2);
      for (const body of limited.bodies) assert.deepEqual(sentIds(body), [id]);
      assert.deepEqual(
        (await reader.received()).map((message) => message.data),
        ['after a 429'],
      );
    });

    it('publishes through a server’s rate limit by waiting as it is told', async () => {
      const slow = await spawnServer({
        env: { PNS_SECRET: secret, PNS_PUBLISH_KEY: publishKey },
        args: ['--drain-seconds', '0', '--publish-rate', '0.5', '--publish-burst', '1'],
      });
      try {
        const sid = await createToken({ secret, user: 'rate' });
        const pollUrl = (query: Record<string, string>) => `${slow.url}/pns/poll?${new URLSearchParams({ sid, hold: '0', ...query })}`;
        const { cursor } = (await (await fetch(pollUrl({ comeFrom: 'rate' }))).json()) as PollResponse;
        const pns = publisher({ url: slow.url, retries: 2, maxRetryDelayMs: 5000 });
        await pns.publish('user:rate', 1, 'first');
        const started = Date.now();
        await pns.publish('user:rate', 1, 'second');
        assert.ok(Date.now() - started >= 1000, 'the second publish waited for the bucket (Retry-After: 2)');
        const answer = await fetch(pollUrl({ cursor }));
        assert.deepEqual(
          ((await answer.json()) as PollResponse).msg.map((message) => message.data),
          ['first', 'second'],
        );
      } finally {
        assert.equal(await slow.stop(), 0);
      }
    });

    it('caps a long Retry-After at maxRetryDelayMs', async () => {
      const slow = await stub(server.url, (index) => (index < 1 ? { ...unavailable, headers: { 'retry-after': '30' } } : 'forward'));
      const started = Date.now();
      await publisher({ url: slow.url, retries: 1, maxRetryDelayMs: 50 }).publish('user:42', 1, null);
      assert.ok(Date.now() - started < 10_000, 'waited out Retry-After: 30');
      assert.equal(slow.bodies.length, 2);
    });

    it('reports a non-JSON 5xx as HTTP_<status> after retrying it', async () => {
      const broken = await stub(undefined, () => ({ status: 502, headers: { 'content-type': 'text/html' }, body: '<h1>Bad gateway</h1>' }));
      await assert.rejects(publisher({ url: broken.url, retries: 1 }).publish('user:42', 1, null), {
        name: 'PublishError',
        code: 'HTTP_502',
        status: 502,
      });
      assert.equal(broken.bodies.length, 2);
    });

    it('rejects with NETWORK_ERROR after its retries when nothing listens', async () => {
      const port = await closedPort();
      const started = Date.now();
      const error = await publisher({ url: `http://127.0.0.1:${port}`, retries: 2 })
        .publish('user:42', 1, null)
        .then(
          () => assert.fail('published to a closed port'),
          (rejection: unknown) => rejection,
        );
      assert.ok(error instanceof PublishError);
      assert.equal(error.code, 'NETWORK_ERROR');
      assert.equal(error.status, undefined);
      // Two retries with 10 ms, then 20 ms (± jitter) of backoff.
      assert.ok(Date.now() - started >= 10, 'retried with a backoff');
    });

    it('times out a server that never answers, retries, then rejects with NETWORK_ERROR', async () => {
      const silent = await stub(undefined, () => 'hang');
      await assert.rejects(publisher({ url: silent.url, retries: 1, timeoutMs: 200 }).publish('user:42', 1, null), {
        name: 'PublishError',
        code: 'NETWORK_ERROR',
      });
      assert.equal(silent.bodies.length, 2);
    });
  });
});
