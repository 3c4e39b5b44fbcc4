import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { encodeCursor, PnsError, type PnsMessage } from '@pns/protocol';
import type { SessionResolver } from '../src/auth/session-resolver.js';
import { startTestServer, type TestServer, waitFor } from './support/harness.js';
import { openSse, type SseStream } from './support/sse-client.js';

function sseUrl(t: TestServer, sid: string, extra = ''): string {
  return `${t.url}/pns/sse?sid=${encodeURIComponent(sid)}${extra}`;
}

/** Waits until the stream has `count` message events; returns them parsed. */
async function messages(stream: SseStream, count: number): Promise<{ id: string; message: PnsMessage }[]> {
  await waitFor(() => stream.events.filter((e) => e.event === 'message').length >= count, 5000, `${count} events`);
  return stream.events.filter((e) => e.event === 'message').map((e) => ({ id: e.id as string, message: JSON.parse(e.data) as PnsMessage }));
}

/** The stream's current resume point: the id of its last event. */
async function readyId(stream: SseStream): Promise<string> {
  await waitFor(() => stream.events.some((e) => e.event === 'live'), 5000, 'the live event');
  return stream.events.filter((e) => e.id !== undefined).at(-1)?.id as string;
}

describe('GET /pns/sse', { timeout: 30_000 }, () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ sseHeartbeatSeconds: '0.2' });
  });
  after(() => t.close());

  describe('#stream', () => {
    it('sends each message as an event whose id resumes exactly after it', async () => {
      const sid = await t.token('sse-resume');
      const first = await openSse(sseUrl(t, sid));
      assert.equal(first.status, 200);
      assert.match(String(first.headers['content-type']), /^text\/event-stream/);
      assert.equal(first.headers['cache-control'], 'no-store');
      await readyId(first);
      for (const n of [1, 2, 3]) await t.publish({ to: 'user:sse-resume', type: 1, data: n });
      const got = await messages(first, 3);
      assert.deepEqual(
        got.map((m) => m.message.data),
        [1, 2, 3],
      );
      first.close();
      // As EventSource does: the URL keeps its first cursor, Last-Event-ID says where it stopped.
      const resumed = await openSse(sseUrl(t, sid, `&cursor=${encodeURIComponent((got[0] as { id: string }).id)}`), {
        'last-event-id': (got[1] as { id: string }).id,
      });
      const rest = await messages(resumed, 1);
      await readyId(resumed);
      assert.deepEqual(
        rest.map((m) => m.message.data),
        [3],
      );
      resumed.close();
    });

    it('keeps user data inside its event, whatever line breaks it holds', async () => {
      const sid = await t.token('sse-crlf');
      const stream = await openSse(sseUrl(t, sid));
      await readyId(stream);
      const data = { text: 'one\r\ntwo\nthree\r\n\r\nid: forged\n\ndata: x' };
      await t.publish({ to: 'user:sse-crlf', type: 1, data });
      const [got] = await messages(stream, 1);
      assert.deepEqual(got?.message.data, data);
      assert.equal(stream.events.filter((e) => e.event === 'message').length, 1);
      stream.close();
    });

    it('says how often it sends a ping event on a quiet stream, and sends it', async () => {
      const stream = await openSse(sseUrl(t, await t.token('sse-quiet')));
      await readyId(stream);
      assert.deepEqual(JSON.parse(stream.events.find((e) => e.event === 'live')?.data as string), { heartbeat: 0.2 });
      await waitFor(() => stream.events.filter((e) => e.event === 'ping').length >= 2, 5000, 'two heartbeats');
      assert.deepEqual(JSON.parse(stream.events.find((e) => e.event === 'ping')?.data as string), {});
      stream.close();
    });

    it('gives a gap with nothing after it the position after it', async () => {
      const sid = await t.token('sse-gap-only');
      const foreign = encodeCursor(new Map([['user:sse-gap-only', { epoch: 'another-process', offset: '7' }]]));
      const stream = await openSse(sseUrl(t, sid, `&cursor=${encodeURIComponent(foreign)}`));
      await readyId(stream);
      const gap = stream.events.find((e) => e.event === 'gap');
      assert.ok(gap?.id, 'the gap event carries an id');
      assert.notEqual(gap.id, foreign);
      stream.close();
    });

    it('tells a client whose cursor is from another epoch that it has a gap', async () => {
      const sid = await t.token('sse-gap');
      const foreign = encodeCursor(new Map([['user:sse-gap', { epoch: 'another-process', offset: '7' }]]));
      const stream = await openSse(sseUrl(t, sid, `&cursor=${encodeURIComponent(foreign)}`));
      await waitFor(() => stream.events.some((e) => e.event === 'gap'), 5000, 'gap event');
      assert.deepEqual(JSON.parse(stream.events.find((e) => e.event === 'gap')?.data as string), { gap: true });
      stream.close();
    });
  });

  describe('#errors', () => {
    it('answers a bad token with a catalog error, not a stream', async () => {
      const stream = await openSse(sseUrl(t, 'not-a-token'));
      assert.equal(stream.status, 401);
      assert.equal(JSON.parse(stream.raw).errorCode, 'SESSION_INVALID');
    });

    it('answers a malformed Last-Event-ID like a malformed cursor', async () => {
      const stream = await openSse(sseUrl(t, await t.token('sse-bad-id')), { 'last-event-id': 'garbage' });
      assert.equal(stream.status, 400);
      assert.equal(JSON.parse(stream.raw).errorCode, 'BAD_REQUEST');
    });
  });

  describe('#end', () => {
    it('ends with SESSION_EXPIRED when the session stops being accepted', async () => {
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
        const stream = await openSse(sseUrl(brief, 'any'));
        await stream.ended;
        const end = stream.events.find((e) => e.event === 'end');
        assert.equal(JSON.parse(end?.data as string).errorCode, 'SESSION_EXPIRED');
      } finally {
        await brief.close();
      }
    });

    it('keeps a stream open while the session store extends the session, and ends it once the session is gone', async () => {
      // Extended once (a web application's sliding session), then gone.
      let asked = 0;
      const sliding: SessionResolver = {
        resolve: async () => {
          if (asked++ > 1) throw new PnsError('SESSION_EXPIRED');
          return { userId: 'sliding', topics: new Set(), expiresAt: Date.now() + 300, issuedAt: undefined };
        },
      };
      const server = await startTestServer({}, { sessions: sliding });
      try {
        const opened = Date.now();
        const stream = await openSse(sseUrl(server, 'any'));
        await stream.ended;
        const end = stream.events.find((e) => e.event === 'end');
        assert.equal(JSON.parse(end?.data as string).errorCode, 'SESSION_EXPIRED');
        assert.equal(asked, 3, 'asked at the start and at each expiry');
        assert.ok(Date.now() - opened >= 550, 'outlived the first expiry');
      } finally {
        await server.close();
      }
    });

    it('ends every stream with an end event and a spread retry on shutdown', async () => {
      const stopping = await startTestServer();
      const stream = await openSse(sseUrl(stopping, await stopping.token('sse-stop')));
      await readyId(stream);
      await stopping.close();
      await stream.ended;
      const end = stream.events.find((e) => e.event === 'end');
      assert.deepEqual(JSON.parse(end?.data as string), { reason: 'shutdown' });
      assert.ok((end?.retry ?? 0) >= 1000 && (end?.retry ?? 0) <= 5000);
      assert.ok(end?.id?.startsWith('v1.'));
    });
  });
});
