import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { PollResponse } from '@pns/protocol';
import { PnsError } from '@pns/protocol';
import { WebSocket } from 'ws';
import type { SessionResolver } from '../src/auth/session-resolver.js';
import { wsCloseCodes } from '../src/transports/websocket.js';
import { startTestServer, type TestServer, waitFor } from './support/harness.js';

interface Client {
  socket: WebSocket;
  frames: PollResponse[];
  closed: Promise<{ code: number; reason: string }>;
}

function wsUrl(t: TestServer, sid: string, extra = ''): string {
  return `${t.url.replace('http:', 'ws:')}/pns/ws?sid=${encodeURIComponent(sid)}${extra}`;
}

/** Connects and collects every frame; rejects with the HTTP answer when the upgrade is refused. */
function connect(url: string): Promise<Client> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url);
    const frames: PollResponse[] = [];
    const closed = new Promise<{ code: number; reason: string }>((done) => {
      socket.on('close', (code, reason) => done({ code, reason: reason.toString() }));
    });
    socket.on('message', (data) => frames.push(JSON.parse(data.toString()) as PollResponse));
    socket.on('open', () => resolve({ socket, frames, closed }));
    socket.on('unexpected-response', (_request, response: IncomingMessage) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        body += chunk;
      });
      response.on('end', () => reject(Object.assign(new Error(`HTTP ${response.statusCode}`), { status: response.statusCode, body })));
    });
    socket.on('error', reject);
  });
}

/** Everything the server writes back to `request` on a fresh connection, until it closes it. */
function rawAnswer(t: TestServer, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(new URL(t.url).port), '127.0.0.1');
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      text += chunk;
    });
    socket.on('close', () => resolve(text));
    socket.on('error', reject);
    socket.setTimeout(5000, () => socket.destroy(new Error(`no close within 5 s; got ${text.slice(0, 200)}`)));
    socket.write(request);
  });
}

/** Waits for the frame that says everything retained was sent, and returns its cursor. */
async function ready(client: Client): Promise<string> {
  await waitFor(() => client.frames.length > 0, 5000, 'the first frame');
  return (client.frames[0] as PollResponse).cursor as string;
}

describe('GET /pns/ws', { timeout: 30_000 }, () => {
  let t: TestServer;
  before(async () => {
    // Pings at the default interval: a busy machine must not make these clients miss one.
    t = await startTestServer();
  });
  after(() => t.close());

  describe('#frames', () => {
    it('sends poll answers; a reconnect with the last cursor gets exactly the rest', async () => {
      const sid = await t.token('ws-resume');
      const first = await connect(wsUrl(t, sid));
      assert.equal((await ready(first)).startsWith('v1.'), true);
      assert.equal(first.frames[0]?.c, 0);
      await t.publish({ to: 'user:ws-resume', type: 1, data: 'one' });
      await waitFor(() => first.frames.length === 2, 5000, 'the message frame');
      const seen = first.frames[1] as PollResponse;
      assert.equal(seen.c, 1);
      assert.equal(seen.msg[0]?.data, 'one');
      first.socket.close();
      await first.closed;
      await t.publish({ to: 'user:ws-resume', type: 1, data: 'two' });
      const second = await connect(wsUrl(t, sid, `&cursor=${encodeURIComponent(seen.cursor as string)}`));
      await waitFor(() => second.frames.length >= 1, 5000, 'the catch-up frame');
      assert.deepEqual(
        second.frames[0]?.msg.map((m) => m.data),
        ['two'],
      );
      second.socket.close();
    });
  });

  describe('#errors', () => {
    it('refuses a bad token with a catalog answer before upgrading', async () => {
      await assert.rejects(connect(wsUrl(t, 'not-a-token')), (error: { status: number; body: string }) => {
        assert.equal(error.status, 401);
        assert.equal(JSON.parse(error.body).errorCode, 'SESSION_INVALID');
        return true;
      });
    });

    it('answers a plain GET with BAD_REQUEST, saying it wants an upgrade', async () => {
      const answer = await fetch(`${t.url}/pns/ws?sid=x`);
      assert.equal(answer.status, 400);
      assert.match(((await answer.json()) as { message: string }).message, /upgrade/);
    });

    it('survives clients that reset their socket during the handshake', async () => {
      for (let i = 0; i < 20; i++) {
        // Half accepted, half refused: either way pns writes to a socket the client has reset.
        const sid = i % 2 === 0 ? await t.token(`ws-reset-${i}`) : `bad-token-${i}`;
        const socket = net.connect(Number(new URL(t.url).port), '127.0.0.1');
        await new Promise((resolve) => socket.once('connect', resolve));
        socket.write(
          `GET /pns/ws?sid=${sid} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
            'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
        );
        socket.resetAndDestroy();
      }
      const answer = await fetch(`${t.url}/healthz`);
      assert.equal(answer.status, 200);
    });

    it('answers a handshake ws cannot accept from the catalog, not with ws’s text/html 400 (found by fuzz-streams)', async () => {
      const sid = await t.token('ws-handshake');
      const good: Record<string, string> = {
        Host: 'x',
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
      };
      const broken: Record<string, string>[] = [
        { 'Sec-WebSocket-Key': 'short' },
        { 'Sec-WebSocket-Version': '12' },
        { 'Sec-WebSocket-Protocol': 'a b' },
        { 'Sec-WebSocket-Protocol': 'chat, chat' },
        { Upgrade: 'websocket, h2c' },
      ];
      for (const change of broken) {
        const headers = Object.entries({ ...good, ...change }).map(([name, value]) => `${name}: ${value}\r\n`);
        const answer = await rawAnswer(t, `GET /pns/ws?sid=${sid} HTTP/1.1\r\n${headers.join('')}\r\n`);
        assert.match(answer, /^HTTP\/1\.1 400 BAD_REQUEST\r\n/, JSON.stringify(change));
        assert.match(answer, /\r\nContent-Type: application\/json; charset=utf-8\r\n/);
        const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { errorCode: string; message: string };
        assert.equal(body.errorCode, 'BAD_REQUEST');
        assert.match(body.message, /^Invalid WebSocket handshake: /);
      }
    });

    it('answers an upgrade with another method than GET with METHOD_NOT_ALLOWED and Allow: GET', async () => {
      const sid = await t.token('ws-method');
      const answer = await rawAnswer(
        t,
        `POST /pns/ws?sid=${sid} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
          'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nContent-Length: 0\r\n\r\n',
      );
      assert.match(answer, /^HTTP\/1\.1 405 METHOD_NOT_ALLOWED\r\n/);
      assert.match(answer, /\r\nAllow: GET\r\n/);
      assert.equal((JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { errorCode: string }).errorCode, 'METHOD_NOT_ALLOWED');
    });

    it('sends the 1009 close frame to a client still sending a frame over 1 KiB, rather than a reset (found by fuzz-streams)', async () => {
      const sid = await t.token('ws-too-big');
      for (let attempt = 0; attempt < 5; attempt++) {
        const socket = net.connect(Number(new URL(t.url).port), '127.0.0.1');
        let received = Buffer.alloc(0);
        socket.on('data', (chunk: Buffer) => {
          received = Buffer.concat([received, chunk]);
        });
        const closed = new Promise<string | undefined>((resolve) => {
          socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code));
          socket.on('close', () => resolve(undefined));
        });
        socket.write(
          `GET /pns/ws?sid=${sid} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
            'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
        );
        await waitFor(() => received.includes('\r\n\r\n'), 5000, 'the 101');
        // A masked binary frame announcing and carrying 4 MiB: ws refuses it from its header on, while most of it is
        // still unread. The client waits for the server to close.
        const head = Buffer.from([0x82, 0x80 | 127, 0, 0, 0, 0, 0, 0x40, 0, 0, 1, 2, 3, 4]);
        socket.write(head);
        for (let i = 0; i < 64; i++) socket.write(Buffer.alloc(1 << 16));
        assert.equal(await closed, undefined, `attempt ${attempt}: the connection was reset (and a client may lose the close frame)`);
        const frames = received.subarray(received.indexOf('\r\n\r\n') + 4);
        const close = frames.indexOf(Buffer.from([0x88, 0x02, 0x03, 0xf1]));
        assert.ok(close >= 0, `attempt ${attempt}: no 1009 close frame in ${frames.toString('hex').slice(0, 200)}`);
      }
    });

    it('refuses an upgrade on any other path with NOT_FOUND', async () => {
      await assert.rejects(connect(`${t.url.replace('http:', 'ws:')}/pns/poll?sid=x`), (error: { status: number; body: string }) => {
        assert.equal(error.status, 404);
        assert.equal(JSON.parse(error.body).errorCode, 'NOT_FOUND');
        return true;
      });
    });
  });

  describe('#keepalive', () => {
    let pinging: TestServer;
    before(async () => {
      pinging = await startTestServer({ wsPingSeconds: '0.2' });
    });
    after(() => pinging.close());

    it('keeps a peer that answers pings, and closes one that stops answering', async () => {
      const t = pinging;
      const live = await connect(wsUrl(t, await t.token('ws-live')));
      const silent = await connect(wsUrl(t, await t.token('ws-silent')));
      await ready(live);
      await ready(silent);
      const before = t.server.hub.stats().subscriptions;
      // A frozen peer: its socket is not read, so pings go unanswered.
      (silent.socket as unknown as { _socket: { pause(): void } })._socket.pause();
      await waitFor(() => t.server.hub.stats().subscriptions === before - 1, 5000, 'the silent peer closed');
      assert.equal(live.socket.readyState, WebSocket.OPEN);
      // Pages cannot see pings: a c:0 frame goes with each, and the first frame says how often.
      assert.equal((live.frames[0] as PollResponse & { heartbeat?: number }).heartbeat, 0.2);
      await waitFor(() => live.frames.length >= 3, 5000, 'heartbeat frames');
      for (const frame of live.frames.slice(1)) assert.deepEqual([frame.c, frame.cursor], [0, live.frames[0]?.cursor]);
      live.socket.close();
      silent.socket.terminate();
    });
  });

  describe('#slow consumer', () => {
    it('stops queueing for a client that does not read, closes it with the slow-consumer code, and it resumes from its cursor', async () => {
      const sid = await t.token('ws-slow');
      const slow = await connect(wsUrl(t, sid));
      await ready(slow);
      (slow.socket as unknown as { _socket: { pause(): void } })._socket.pause();
      const data = 'x'.repeat(60_000);
      const published: string[] = [];
      const publishOne = async (): Promise<void> => {
        const id = `slow-${published.length}`;
        published.push(id);
        await t.publish({ to: 'user:ws-slow', type: 1, data, id });
      };
      for (let i = 0; i < 300 && t.server.hub.stats().subscriptions > 0; i++) await publishOne();
      await waitFor(() => t.server.hub.stats().subscriptions === 0, 10_000, 'the slow subscription released');
      // What the server holds for it is bounded: the 1 MiB limit plus what the kernel's socket buffers took.
      const beforeCut = published.length;
      assert.ok(beforeCut < 300, `released after ${beforeCut} messages of 60 kB`);
      (slow.socket as unknown as { _socket: { resume(): void } })._socket.resume();
      const { code } = await slow.closed;
      assert.equal(code, wsCloseCodes.slowConsumer);
      for (let i = 0; i < 5; i++) await publishOne();
      const received = slow.frames.flatMap((frame) => frame.msg.map((message) => message.id));
      const resumed = await connect(wsUrl(t, sid, `&cursor=${encodeURIComponent(slow.frames.at(-1)?.cursor as string)}`));
      await waitFor(
        () => resumed.frames.flatMap((frame) => frame.msg).some((message) => message.id === published.at(-1)),
        10_000,
        'the rest after a reconnect',
      );
      const all = [...received, ...resumed.frames.flatMap((frame) => frame.msg.map((message) => message.id))];
      assert.deepEqual(all, published, 'every message once, in order, across the cut');
      resumed.socket.close();
    });
  });

  describe('#expiry', () => {
    it('closes with the expiry code when the session stops being accepted', async () => {
      // Accepted for 300 ms; asked again when that time comes, it has ended.
      let asked = 0;
      const shortLived: SessionResolver = {
        resolve: async () => {
          if (asked++ > 0) throw new PnsError('SESSION_EXPIRED');
          return { userId: 'brief', topics: new Set(), expiresAt: Date.now() + 300, issuedAt: undefined };
        },
      };
      const brief = await startTestServer({}, { sessions: shortLived });
      try {
        const client = await connect(wsUrl(brief, 'any'));
        const { code, reason } = await client.closed;
        assert.equal(code, wsCloseCodes.expired);
        assert.equal(reason, 'SESSION_EXPIRED');
      } finally {
        await brief.close();
      }
    });
  });

  describe('#shutdown', () => {
    it('sends a last answer and closes with 1001 when the server stops', async () => {
      const stopping = await startTestServer();
      const client = await connect(wsUrl(stopping, await stopping.token('ws-stop')));
      await ready(client);
      await stopping.close();
      const { code } = await client.closed;
      assert.equal(code, wsCloseCodes.shutdown);
      assert.equal(client.frames.at(-1)?.c, 0);
    });
  });
});
