import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import type { PublishMessage } from '@pns/protocol';
import { createToken } from '@pns/publisher';
import { SignJWT } from 'jose';
import type { RawOptions } from '../src/config/options.js';
import { startTestServer, type TestServer, waitFor } from './support/harness.js';
import { openIdleConnection } from './support/idle-connection.js';
import {
  type OpenOptions,
  openSubscriber,
  requestHeaders,
  type Seen,
  seen,
  subscribePath,
  type TransportSubscriber,
  transports,
} from './support/transport-subscriber.js';

/**
 * One black-box protocol suite, run for each transport (docs/protocol.md
 * sections 4, 5, 10, 12 and 13): the same cases, the same expectations.
 */
for (const transport of transports) {
  describe(transport, { timeout: 60_000 }, () => {
    let t: TestServer;
    const subscribers: TransportSubscriber[] = [];
    const servers: TestServer[] = [];
    before(async () => {
      t = await startTestServer();
    });
    after(() => t.close());
    afterEach(async () => {
      await Promise.all(subscribers.splice(0).map((subscriber) => subscriber.close()));
      await Promise.all(servers.splice(0).map((server) => server.close()));
    });

    const open = (server: TestServer, options: OpenOptions): TransportSubscriber => {
      const subscriber = openSubscriber(transport, server.url, options);
      subscribers.push(subscriber);
      return subscriber;
    };
    const startServer = async (options: RawOptions = {}): Promise<TestServer> => {
      const server = await startTestServer(options);
      servers.push(server);
      return server;
    };
    /** A user id of this transport's own, so no two describes share a channel. */
    const user = (name: string): string => `${transport}-${name}`;

    async function publish(server: TestServer, message: PublishMessage | PublishMessage[]): Promise<string[]> {
      const answer = await server.publish(message);
      assert.equal(answer.status, 200, answer.text);
      return (answer.json as { ids: string[] }).ids;
    }

    /**
     * Publishes two marker messages to `users`, one after the other, and waits until each subscriber has both:
     * everything published before has arrived, and nothing was delivered again in between.
     */
    async function sentinel(server: TestServer, users: string[], waiting: TransportSubscriber[]): Promise<string[]> {
      const ids: string[] = [];
      for (const _ of [1, 2]) {
        const [id] = await publish(server, { to: users.map((u) => `user:${u}`), type: 'sentinel' });
        for (const subscriber of waiting) await subscriber.waitForId(id as string);
        ids.push(id as string);
      }
      return ids;
    }
    const sentinelSeen = (ids: string[], to: string): Seen[] => ids.map((id) => ({ id, ch: `user:${to}`, type: 'sentinel', data: null }));

    /** Nothing the protocol does not allow arrived, and the connection is still open. */
    function assertHealthy(subscriber: TransportSubscriber): void {
      assert.deepEqual(subscriber.protocolErrors, []);
      assert.equal(subscriber.ending, undefined, `ended: ${JSON.stringify(subscriber.ending)}`);
    }

    it('delivers user and allowed-topic messages in order, exactly once, with their ids, types and data', async () => {
      const me = user('deliver');
      const topic = `topic:${user('news')}`;
      const sub = open(t, { sid: await t.token(me, { topics: [user('news')] }), channels: [topic] });
      await sub.ready();
      assert.match(sub.cursor ?? '', /^v1\./);
      const expected: Seen[] = [];
      const send = async (message: PublishMessage, ch: string | undefined): Promise<void> => {
        const [id] = await publish(t, message);
        if (ch !== undefined) expected.push({ id: id as string, ch, type: message.type, data: message.data ?? null });
      };
      await send({ to: `user:${me}`, type: 70, data: { subject: 'Hello' } }, `user:${me}`);
      await send({ to: topic, type: 'digest' }, topic);
      await send({ to: `user:${me}`, type: 70, data: [1, 'two', { three: 3 }], id: `order-${transport}-1` }, `user:${me}`);
      await send({ to: [topic, `user:${me}`], type: 71, data: 'to both' }, `user:${me}`);
      await send({ to: `topic:${user('other-topic')}`, type: 70, data: 'not listened to' }, undefined);
      await send({ to: `user:${user('someone-else')}`, type: 70, data: 'not mine' }, undefined);
      await send({ to: `user:${me}`, type: 70, data: 'last' }, `user:${me}`);
      assert.equal(expected[2]?.id, `order-${transport}-1`);
      const end = await sentinel(t, [me], [sub]);
      assert.deepEqual(seen(sub.messages), [...expected, ...sentinelSeen(end, me)]);
      const times = sub.messages.map((m) => m.ts);
      assert.ok(
        times.every((ts, i) => Number.isInteger(ts) && (i === 0 || ts >= (times[i - 1] as number))),
        `ts never decreases: ${times}`,
      );
      assert.deepEqual(sub.gaps, []);
      assertHealthy(sub);
    });

    it('resumes from the last cursor with exactly the messages after it', async () => {
      const me = user('resume');
      const sid = await t.token(me);
      const first = open(t, { sid });
      await first.ready();
      await publish(t, { to: `user:${me}`, type: 70, data: 'a' });
      await publish(t, { to: `user:${me}`, type: 70, data: 'b' });
      await first.waitForMessages(2);
      const cursor = first.cursor;
      await first.close();
      assert.deepEqual(
        first.messages.map((m) => m.data),
        ['a', 'b'],
      );
      await publish(t, [
        { to: `user:${me}`, type: 70, data: 'c' },
        { to: `user:${me}`, type: 70, data: 'd' },
      ]);
      await publish(t, { to: `user:${me}`, type: 70, data: 'e' });
      // A cursor is not tied to its token: it carries over to a renewed one.
      const second = open(t, { sid: await t.token(me), ...(cursor ? { cursor } : {}) });
      await second.ready();
      await publish(t, { to: `user:${me}`, type: 70, data: 'f' });
      await sentinel(t, [me], [second]);
      assert.deepEqual(
        second.messages.map((m) => m.data),
        ['c', 'd', 'e', 'f', null, null],
      );
      assert.deepEqual(second.gaps, []);
      assertHealthy(second);
    });

    it('signals a gap for a cursor from before evicted history, then delivers what is retained', async () => {
      const small = await startServer({ retentionCount: '3' });
      const me = user('evicted');
      const sid = await small.token(me);
      const first = open(small, { sid });
      await first.ready();
      const cursor = first.cursor;
      await first.close();
      for (const n of [1, 2, 3, 4, 5]) await publish(small, { to: `user:${me}`, type: 70, data: n });
      const second = open(small, { sid, ...(cursor ? { cursor } : {}) });
      await second.waitForMessages(3);
      await second.ready();
      await publish(small, { to: `user:${me}`, type: 70, data: 6 });
      await second.waitForMessages(4);
      assert.deepEqual(
        second.messages.map((m) => m.data),
        [3, 4, 5, 6],
      );
      assert.deepEqual(second.gaps, [0], 'one gap, before the retained messages');
      assertHealthy(second);
    });

    it('signals a gap for a cursor from another epoch (a restarted server), then delivers what is retained', async () => {
      const original = await startServer();
      const me = user('epoch');
      const sid = await original.token(me);
      const first = open(original, { sid });
      await first.ready();
      await publish(original, { to: `user:${me}`, type: 70, data: 'old' });
      await first.waitForMessages(1);
      const cursor = first.cursor;
      await first.close();
      await original.close();
      const restarted = await startServer();
      await publish(restarted, { to: `user:${me}`, type: 70, data: 'new 1' });
      await publish(restarted, { to: `user:${me}`, type: 70, data: 'new 2' });
      const second = open(restarted, { sid, ...(cursor ? { cursor } : {}) });
      await second.waitForMessages(2);
      await second.ready();
      await sentinel(restarted, [me], [second]);
      assert.deepEqual(
        second.messages.map((m) => m.data),
        ['new 1', 'new 2', null, null],
      );
      assert.deepEqual(second.gaps, [0]);
      assertHealthy(second);
    });

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
            .sign(new TextEncoder().encode(t.config.secret));
          return { sid };
        },
      },
      {
        name: 'a topic the token does not allow',
        status: 403,
        errorCode: 'CHANNEL_FORBIDDEN',
        options: async () => ({ sid: await t.token(user('topics'), { topics: ['allowed'] }), channels: ['topic:allowed', 'topic:secret'] }),
      },
      {
        name: "another user's channel",
        status: 403,
        errorCode: 'CHANNEL_FORBIDDEN',
        options: async () => ({ sid: await t.token(user('nosy')), channels: [`user:${user('victim')}`] }),
      },
    ];
    for (const refusal of refusals) {
      it(`refuses ${refusal.name} with ${refusal.status} ${refusal.errorCode}`, async () => {
        const sub = open(t, await refusal.options());
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
        .sign(new TextEncoder().encode(t.config.secret));
      const sub = open(t, { sid });
      await sub.ready();
      await publish(t, { to: `user:${me}`, type: 70, data: 'while valid' });
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

    it('delivers a message published twice with the same id once', async () => {
      const me = user('dedupe');
      const sid = await t.token(me);
      const sub = open(t, { sid });
      await sub.ready();
      const start = sub.cursor;
      const message: PublishMessage = { id: `dup-${transport}`, to: `user:${me}`, type: 70, data: { n: 1 } };
      assert.deepEqual(await publish(t, message), [message.id]);
      assert.deepEqual(await publish(t, message), [message.id], 'a retry answers the same id');
      assert.deepEqual(await publish(t, [message, message]), [message.id, message.id], 'so does a batch repeating it');
      const end = await sentinel(t, [me], [sub]);
      const expected = [{ id: message.id as string, ch: `user:${me}`, type: 70, data: { n: 1 } }, ...sentinelSeen(end, me)];
      assert.deepEqual(seen(sub.messages), expected);
      // What is retained holds it once too.
      const replay = open(t, { sid, ...(start ? { cursor: start } : {}) });
      await replay.waitForMessages(3);
      await replay.ready();
      assert.deepEqual(seen(replay.messages), expected);
      assertHealthy(sub);
      assertHealthy(replay);
    });

    it('gives every connection of a user every message (two of one session, one of another) and another user none', async () => {
      const me = user('multi');
      const stranger = user('multi-stranger');
      const tabs = await t.token(me);
      const tab1 = open(t, { sid: tabs });
      const tab2 = open(t, { sid: tabs });
      const device = open(t, { sid: await t.token(me) });
      const other = open(t, { sid: await t.token(stranger) });
      const all = [tab1, tab2, device, other];
      for (const sub of all) await sub.ready();
      const mine: Seen[] = [];
      for (const data of ['one', 'two', 'three']) {
        const [id] = await publish(t, { to: `user:${me}`, type: 70, data });
        mine.push({ id: id as string, ch: `user:${me}`, type: 70, data });
      }
      const [theirs] = await publish(t, { to: `user:${stranger}`, type: 70, data: 'theirs' });
      const end = await sentinel(t, [me, stranger], all);
      for (const sub of [tab1, tab2, device]) assert.deepEqual(seen(sub.messages), [...mine, ...sentinelSeen(end, me)]);
      assert.deepEqual(seen(other.messages), [
        { id: theirs as string, ch: `user:${stranger}`, type: 70, data: 'theirs' },
        ...sentinelSeen(end, stranger),
      ]);
      for (const sub of all) assertHealthy(sub);
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
