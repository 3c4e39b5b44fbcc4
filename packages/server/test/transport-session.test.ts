import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createToken } from '@pns/publisher';
import { SignJWT } from 'jose';
import { waitFor } from './support/harness.js';
import { openIdleConnection } from './support/idle-connection.js';
import { type OpenOptions, requestHeaders, subscribePath, type TransportSubscriber, transports } from './support/transport-subscriber.js';
import { useTransportSuite } from './support/transport-suite.js';

/**
 * One black-box protocol suite, run for each transport: refusals and the ends of a connection (docs/protocol.md
 * sections 12 and 13), the same cases and the same expectations. transport-delivery.test.ts has delivery.
 */
for (const transport of transports) {
  describe(`${transport} · refusals and ends`, { timeout: 60_000 }, () => {
    const suite = useTransportSuite(transport);
    const { open, startServer, user, publish, sentinel, assertHealthy } = suite;

    const refusals: { name: string; status: number; errorCode: string; options: () => Promise<OpenOptions> }[] = [
      { name: 'a request without sid', status: 400, errorCode: 'BAD_REQUEST', options: async () => ({}) },
      { name: 'an empty sid', status: 400, errorCode: 'BAD_REQUEST', options: async () => ({ sid: '' }) },
      {
        name: 'a token signed with another secret',
        status: 401,
        errorCode: 'SESSION_INVALID',
        options: async () => ({ sid: await createToken({ secret: 'another-secret-0123456789abcdef', user: user('forged') }) }),
      },
      { name: 'a malformed token', status: 401, errorCode: 'SESSION_INVALID', options: async () => ({ sid: 'not.a-token' }) },
      {
        name: 'a token expired more than 30 s ago',
        status: 401,
        errorCode: 'SESSION_EXPIRED',
        options: async () => {
          const now = Math.floor(Date.now() / 1000);
          const sid = await new SignJWT({})
            .setProtectedHeader({ alg: 'HS256' })
            .setSubject(user('expired'))
            .setIssuedAt(now - 3700)
            .setExpirationTime(now - 100)
            .sign(new TextEncoder().encode(suite.t.config.secret));
          return { sid };
        },
      },
      {
        name: 'a topic the token does not allow',
        status: 403,
        errorCode: 'CHANNEL_FORBIDDEN',
        options: async () => ({
          sid: await suite.t.token(user('topics'), { topics: ['allowed'] }),
          channels: ['topic:allowed', 'topic:secret'],
        }),
      },
      {
        name: "another user's channel",
        status: 403,
        errorCode: 'CHANNEL_FORBIDDEN',
        options: async () => ({ sid: await suite.t.token(user('nosy')), channels: [`user:${user('victim')}`] }),
      },
    ];
    for (const refusal of refusals) {
      it(`refuses ${refusal.name} with ${refusal.status} ${refusal.errorCode}`, async () => {
        const sub = open(suite.t, await refusal.options());
        const ending = await sub.ended();
        assert.deepEqual(
          { reason: ending.reason, status: ending.status, errorCode: ending.errorCode },
          { reason: 'refused', status: refusal.status, errorCode: refusal.errorCode },
          JSON.stringify(ending),
        );
        assert.deepEqual(sub.messages, []);
        assert.deepEqual(sub.protocolErrors, []);
      });
    }

    it('ends a connection whose token stops being accepted with SESSION_EXPIRED', async () => {
      const me = user('expiring');
      // Accepted until exp + 30 s: this token has two to three seconds left.
      const now = Math.floor(Date.now() / 1000);
      const sid = await new SignJWT({})
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(me)
        .setExpirationTime(now - 27)
        .sign(new TextEncoder().encode(suite.t.config.secret));
      const sub = open(suite.t, { sid });
      await sub.ready();
      await publish(suite.t, { to: `user:${me}`, type: 70, data: 'while valid' });
      await sub.waitForMessages(1);
      const ending = await sub.ended(8000);
      const acceptedUntil = (now - 27 + 30) * 1000;
      const endedAt = Date.now();
      assert.ok(
        endedAt >= acceptedUntil - 100 && endedAt < acceptedUntil + 1500,
        `ended ${endedAt - acceptedUntil} ms after the token's end`,
      );
      if (transport === 'longpoll') {
        // The hold is cut at the token's end; the next poll is refused.
        assert.deepEqual([ending.reason, ending.status, ending.errorCode], ['refused', 401, 'SESSION_EXPIRED'], JSON.stringify(ending));
      } else if (transport === 'sse') {
        assert.deepEqual([ending.reason, ending.sseEnd?.errorCode], ['expired', 'SESSION_EXPIRED'], JSON.stringify(ending));
      } else {
        assert.deepEqual([ending.reason, ending.wsCode, ending.wsReason], ['expired', 4001, 'SESSION_EXPIRED'], JSON.stringify(ending));
      }
      assert.deepEqual(
        sub.messages.map((m) => m.data),
        ['while valid'],
      );
      assert.deepEqual(sub.protocolErrors, []);
    });

    it('ends the oldest connection of a session beyond PNS_MAX_POLLS_PER_SESSION as superseded', async () => {
      const capped = await startServer({ maxPollsPerSession: '2' });
      const me = user('capped');
      const sid = await capped.token(me);
      const opened: TransportSubscriber[] = [];
      for (const n of [1, 2]) {
        const sub = open(capped, { sid });
        await sub.ready();
        await waitFor(() => capped.server.hub.stats().subscriptions === n, 5000, `connection ${n} held`);
        opened.push(sub);
      }
      const [oldest, second] = opened as [TransportSubscriber, TransportSubscriber];
      const newest = open(capped, { sid });
      await newest.ready();
      const ending = await oldest.ended();
      assert.equal(ending.reason, 'superseded', JSON.stringify(ending));
      if (transport === 'longpoll')
        assert.deepEqual({ c: ending.lastAnswer?.c, superseded: ending.lastAnswer?.superseded }, { c: 0, superseded: true });
      if (transport === 'sse') assert.equal(ending.sseEnd?.reason, 'superseded');
      if (transport === 'websocket') assert.deepEqual([ending.wsCode, ending.wsReason], [4000, 'superseded']);
      await sentinel(capped, [me], [second, newest]);
      assertHealthy(second);
      assertHealthy(newest);
    });

    it('ends as documented on shutdown, refuses requests on open connections, and its last cursor resumes on a new server', async () => {
      const first = await startServer({ drainSeconds: '1' });
      const me = user('stop');
      const sid = await first.token(me);
      const sub = open(first, { sid });
      await sub.ready();
      await publish(first, { to: `user:${me}`, type: 70, data: 'before' });
      await sub.waitForMessages(1);
      // A second held poll, so that the drain lasts half its window after the first answer.
      const blocker = first.poll({ sid: await first.token(user('stop-blocker')), hold: 20 });
      const idle = await openIdleConnection(first.url);
      try {
        await waitFor(() => first.server.hub.stats().subscriptions === 2, 5000, 'two held connections');
        const stopping = first.close();
        const refused = await idle.request(subscribePath(transport, { sid }), requestHeaders(transport));
        assert.equal(refused.status, 503);
        assert.equal((JSON.parse(refused.body) as { errorCode: string }).errorCode, 'SHUTTING_DOWN');
        const retryAfter = Number(refused.headers['retry-after']);
        assert.ok(retryAfter >= 1 && retryAfter <= 5, `Retry-After ${refused.headers['retry-after']}`);
        assert.equal(refused.headers.connection, 'close');
        await stopping;
      } finally {
        idle.close();
      }
      assert.equal((await blocker).body.c, 0);
      const ending = await sub.ended();
      assert.equal(ending.reason, 'shutdown', JSON.stringify(ending));
      if (transport === 'longpoll') {
        assert.deepEqual(
          { c: ending.lastAnswer?.c, msg: ending.lastAnswer?.msg, close: ending.connectionClose },
          { c: 0, msg: [], close: true },
        );
      } else if (transport === 'sse') {
        assert.equal(ending.sseEnd?.reason, 'shutdown');
        assert.ok((ending.sseEnd?.retry ?? 0) >= 1000 && (ending.sseEnd?.retry ?? 0) <= 5000, `retry ${ending.sseEnd?.retry}`);
        assert.equal(ending.sseEnd?.id, sub.cursor);
      } else {
        assert.deepEqual([ending.wsCode, ending.wsReason], [1001, 'shutdown']);
        assert.deepEqual({ c: ending.lastAnswer?.c, cursor: ending.lastAnswer?.cursor }, { c: 0, cursor: sub.cursor });
      }
      assert.match(sub.cursor ?? '', /^v1\./);
      assert.deepEqual(
        sub.messages.map((m) => m.data),
        ['before'],
      );
      assert.deepEqual(sub.protocolErrors, []);
      // The stopped server takes no new connections.
      const late = open(first, { sid });
      assert.equal((await late.ended()).reason, 'network');

      const second = await startServer();
      await publish(second, { to: `user:${me}`, type: 70, data: 'after restart' });
      const resumed = open(second, { sid, ...(sub.cursor ? { cursor: sub.cursor } : {}) });
      await resumed.waitForMessages(1);
      await resumed.ready();
      await publish(second, { to: `user:${me}`, type: 70, data: 'live' });
      await resumed.waitForMessages(2);
      assert.deepEqual(
        resumed.messages.map((m) => m.data),
        ['after restart', 'live'],
      );
      assert.deepEqual(resumed.gaps, [0], 'the memory broker restarted: a gap, then what is retained');
      assertHealthy(resumed);
    });
  });
}
