import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { encodeCursor } from '@pns/protocol';
import { SignJWT } from 'jose';
import type { MemoryBroker } from '../src/broker/memory-broker.js';
import { delay, startTestServer, type TestServer, waitFor } from './support/harness.js';

describe('GET /pns/poll', { timeout: 60_000 }, () => {
  let t: TestServer;
  let sid: string;
  before(async () => {
    t = await startTestServer({ retentionCount: '5', pageLimit: '4' });
    sid = await t.token('42', { topics: ['news', 'ops'] });
  });
  after(() => t.close());

  let clients = 0;
  /** A cursor at "now": the first poll of a client never seen before starts there. */
  async function cursorNow(token: string, ch?: string | string[]): Promise<string> {
    const answer = await t.poll({ sid: token, hold: 0, comeFrom: `new-${++clients}`, ...(ch ? { ch } : {}) });
    assert.equal(answer.status, 200);
    return answer.body.cursor;
  }

  describe('#answer', () => {
    it('answers at once with what is retained after the cursor', async () => {
      const cursor = await cursorNow(sid);
      await t.publish({ to: 'user:42', type: 70, data: { subject: 'one' } });
      const started = Date.now();
      const answer = await t.poll({ sid, cursor, hold: 20 });
      assert.ok(Date.now() - started < 5000);
      assert.equal(answer.body.c, 1);
      assert.equal(answer.body.msg[0]?.ch, 'user:42');
      assert.equal(answer.body.msg[0]?.type, 70);
      assert.deepEqual(answer.body.msg[0]?.data, { subject: 'one' });
      assert.equal(typeof answer.body.msg[0]?.ts, 'number');
    });

    it('holds until a message arrives, then answers with it', async () => {
      const cursor = await cursorNow(sid);
      const pending = t.poll({ sid, cursor, hold: 20 });
      await waitFor(() => t.server.hub.stats().subscriptions > 0, 5000, 'the poll to be held');
      await delay(100);
      const published = await t.publish({ to: 'user:42', type: 'ticket', data: 7 });
      const answer = await pending;
      assert.equal(answer.body.c, 1);
      assert.equal(answer.body.msg[0]?.id, (published.json as { ids: string[] }).ids[0]);
      assert.equal(answer.body.msg[0]?.type, 'ticket');
    });

    it('answers c:0 with a cursor when the hold ends first', async () => {
      const cursor = await cursorNow(sid);
      const started = Date.now();
      const answer = await t.poll({ sid, cursor, hold: 0.3 });
      assert.ok(Date.now() - started >= 250);
      assert.deepEqual({ c: answer.body.c, msg: answer.body.msg }, { c: 0, msg: [] });
      assert.match(answer.body.cursor, /^v1\./);
    });

    it('answers at once for hold=0', async () => {
      const started = Date.now();
      const answer = await t.poll({ sid, hold: 0 });
      assert.equal(answer.body.c, 0);
      assert.ok(Date.now() - started < 2000);
    });

    it('sends no-store, never compresses, and keeps connections alive past 60 s', async () => {
      const answer = await t.poll({ sid, hold: 0 }, { headers: { 'accept-encoding': 'gzip, br' } });
      assert.equal(answer.headers['cache-control'], 'no-store');
      assert.equal(answer.headers['content-encoding'], undefined);
      assert.match(answer.headers['content-type'] ?? '', /^application\/json/);
      assert.equal(t.server.app.server.keepAliveTimeout, 75_000);
    });

    it('never holds past the moment the token stops being accepted', async () => {
      // Accepted until exp + 30 s of clock tolerance: this one has about two seconds left.
      const now = Math.floor(Date.now() / 1000);
      const ending = await new SignJWT({})
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('ending')
        .setExpirationTime(now - 28)
        .sign(new TextEncoder().encode(t.config.secret));
      const started = Date.now();
      const answer = await t.poll({ sid: ending, hold: 60 });
      const held = Date.now() - started;
      assert.equal(answer.status, 200);
      assert.ok(held >= 500 && held < 5000, `held ${held} ms, not at once and not the whole minute`);
      await delay(Math.max(0, 3100 - held));
      const expired = await t.poll({ sid: ending, hold: 0 });
      assert.equal((expired.json as { errorCode: string }).errorCode, 'SESSION_EXPIRED');
    });
  });

  describe('#cursor', () => {
    it('resumes exactly after the last delivered message, in order', async () => {
      let cursor = await cursorNow(sid);
      for (const n of [1, 2, 3]) await t.publish({ to: 'user:42', type: 70, data: n });
      const first = await t.poll({ sid, cursor, hold: 0 });
      assert.deepEqual(
        first.body.msg.map((m) => m.data),
        [1, 2, 3],
      );
      cursor = first.body.cursor;
      const again = await t.poll({ sid, cursor, hold: 0 });
      assert.equal(again.body.c, 0);
      assert.equal(again.body.gap, undefined);
    });

    it('pages at the page limit and gives the rest on the next poll', async () => {
      const cursor = await cursorNow(sid);
      for (const n of [1, 2, 3, 4, 5]) await t.publish({ to: 'user:42', type: 70, data: n });
      const first = await t.poll({ sid, cursor, hold: 0 });
      assert.deepEqual(
        first.body.msg.map((m) => m.data),
        [1, 2, 3, 4],
      );
      const second = await t.poll({ sid, cursor: first.body.cursor, hold: 0 });
      assert.deepEqual(
        second.body.msg.map((m) => m.data),
        [5],
      );
    });

    it('reports gap: true with what is retained when the buffer overflowed', async () => {
      const cursor = await cursorNow(sid);
      for (const n of [1, 2, 3, 4, 5, 6, 7]) await t.publish({ to: 'user:42', type: 70, data: n });
      const answer = await t.poll({ sid, cursor, hold: 0 });
      assert.equal(answer.body.gap, true);
      assert.deepEqual(
        answer.body.msg.map((m) => m.data),
        [3, 4, 5, 6],
      );
      const rest = await t.poll({ sid, cursor: answer.body.cursor, hold: 0 });
      assert.equal(rest.body.gap, undefined);
      assert.deepEqual(
        rest.body.msg.map((m) => m.data),
        [7],
      );
    });

    it('serves a cursor of another server epoch as a gap, not an error', async () => {
      const foreign = encodeCursor(new Map([['user:42', { epoch: 'restarted', offset: '12' }]]));
      const answer = await t.poll({ sid, cursor: foreign, hold: 0 });
      assert.equal(answer.status, 200);
      assert.equal(answer.body.gap, true);
      assert.ok(answer.body.c > 0, 'what is retained comes with the gap');
      const next = await t.poll({ sid, cursor: answer.body.cursor, hold: 0 });
      assert.equal(next.body.gap, undefined);
    });

    it('serves a cursor of an unknown future version as a gap', async () => {
      const answer = await t.poll({ sid, cursor: 'v9.c29tZXRoaW5n', hold: 0 });
      assert.equal(answer.status, 200);
      assert.equal(answer.body.gap, true);
    });

    it('stays short enough to send back with the most and longest channels allowed', async () => {
      const topics = Array.from({ length: 32 }, (_, i) => `${String(i).padStart(2, '0')}${'t'.repeat(126)}`);
      const wide = await t.token('w'.repeat(128), { topics });
      const ch = topics.map((topic) => `topic:${topic}`);
      const first = await t.poll({ sid: wide, ch, hold: 0, comeFrom: 'wide' });
      assert.equal(first.status, 200);
      assert.ok(first.body.cursor.length < 2048, `cursor of ${first.body.cursor.length} characters`);
      await t.publish({ to: ch[31] as string, type: 70, data: 'last topic' });
      const next = await t.poll({ sid: wide, ch, hold: 0, cursor: first.body.cursor });
      assert.equal(next.status, 200);
      assert.deepEqual(
        next.body.msg.map((m) => m.data),
        ['last topic'],
      );
    });

    it('never grants a channel the token does not allow through the cursor', async () => {
      const other = await t.token('other');
      const cursor = encodeCursor(new Map([['user:42', { epoch: 'x', offset: '0' }]]));
      const answer = await t.poll({ sid: other, cursor, hold: 0 });
      assert.ok(answer.body.msg.every((m) => m.ch === 'user:other'));
    });
  });

  describe('#cursorless clients (sid + comeFrom)', () => {
    it('lose nothing published in the 500 ms between polls, as the seed client polls', async () => {
      const seedSid = await t.token('seed-user');
      const first = t.poll({ sid: seedSid, comeFrom: '1003', hold: 20 });
      await waitFor(() => t.server.hub.stats().subscriptions > 0, 5000, 'held poll');
      await t.publish({ to: 'user:seed-user', type: 70, data: 'a' });
      assert.deepEqual(
        (await first).body.msg.map((m) => m.data),
        ['a'],
      );
      // The seed client waits 500 ms before polling again; two mails arrive in between.
      await t.publish({ to: 'user:seed-user', type: 70, data: 'b' });
      await t.publish({ to: 'user:seed-user', type: 70, data: 'c' });
      await delay(500);
      const second = await t.poll({ sid: seedSid, comeFrom: '1003', hold: 20 });
      assert.deepEqual(
        second.body.msg.map((m) => m.data),
        ['b', 'c'],
      );
      const third = await t.poll({ sid: seedSid, comeFrom: '1003', hold: 0 });
      assert.equal(third.body.c, 0);
    });

    it('get what was published since this server started, flagged as a gap, when their token predates it', async () => {
      const restarted = await startTestServer();
      try {
        const now = Math.floor(Date.now() / 1000);
        const oldToken = await new SignJWT({})
          .setProtectedHeader({ alg: 'HS256' })
          .setSubject('returning')
          .setIssuedAt(now - 3600)
          .setExpirationTime(now + 3600)
          .sign(new TextEncoder().encode(restarted.config.secret));
        await restarted.publish({ to: 'user:returning', type: 70, data: 'while away' });
        const answer = await restarted.poll({ sid: oldToken, comeFrom: '1003', hold: 0 });
        assert.equal(answer.body.gap, true);
        assert.deepEqual(
          answer.body.msg.map((m) => m.data),
          ['while away'],
        );
        const next = await restarted.poll({ sid: oldToken, comeFrom: '1003', hold: 0 });
        assert.deepEqual({ c: next.body.c, gap: next.body.gap }, { c: 0, gap: undefined });
      } finally {
        await restarted.close();
      }
    });

    it('start at "now" when never seen before', async () => {
      const fresh = await t.token('fresh-user');
      await t.publish({ to: 'user:fresh-user', type: 70, data: 'before' });
      const answer = await t.poll({ sid: fresh, comeFrom: '1003', hold: 0 });
      assert.equal(answer.body.c, 0);
      assert.equal(answer.body.gap, undefined);
    });

    it('keep one position per comeFrom', async () => {
      const token = await t.token('two-clients');
      await t.poll({ sid: token, comeFrom: 'a', hold: 0 });
      await t.poll({ sid: token, comeFrom: 'b', hold: 0 });
      await t.publish({ to: 'user:two-clients', type: 70, data: 1 });
      assert.equal((await t.poll({ sid: token, comeFrom: 'a', hold: 0 })).body.c, 1);
      assert.equal((await t.poll({ sid: token, comeFrom: 'b', hold: 0 })).body.c, 1);
      assert.equal((await t.poll({ sid: token, comeFrom: 'a', hold: 0 })).body.c, 0);
    });
  });

  describe('#channels', () => {
    it('delivers a message sent to several of a client’s channels once', async () => {
      const cursor = await cursorNow(sid, ['topic:news', 'topic:ops']);
      await t.publish({ to: ['user:42', 'topic:news', 'topic:ops'], type: 70, data: 'once' });
      const answer = await t.poll({ sid, cursor, ch: ['topic:news', 'topic:ops'], hold: 0 });
      assert.deepEqual(
        answer.body.msg.map((m) => m.data),
        ['once'],
      );
      const next = await t.poll({ sid, cursor: answer.body.cursor, ch: ['topic:news', 'topic:ops'], hold: 0 });
      assert.equal(next.body.c, 0, 'the other copies are not delivered later either');
    });

    it('delivers once to a held poll too, and its cursor skips the other copies', async () => {
      const cursor = await cursorNow(sid, 'topic:news');
      const pending = t.poll({ sid, cursor, ch: 'topic:news,user:42', hold: 20 });
      await waitFor(() => t.server.hub.stats().subscriptions > 0, 5000, 'held poll');
      await t.publish({ to: ['topic:news', 'user:42'], type: 70, data: 'held-once' });
      const answer = await pending;
      assert.equal(answer.body.c, 1);
      assert.equal(answer.body.msg[0]?.ch, 'user:42', 'labelled with the user channel, listed first');
      const next = await t.poll({ sid, cursor: answer.body.cursor, ch: 'topic:news', hold: 0 });
      assert.equal(next.body.c, 0);
    });

    it('answers every held poll of the user (several tabs and devices)', async () => {
      const tab = await t.token('multi');
      const device = await t.token('multi');
      const polls = [
        t.poll({ sid: tab, comeFrom: 'tab1', hold: 20 }),
        t.poll({ sid: tab, comeFrom: 'tab2', hold: 20 }),
        t.poll({ sid: device, comeFrom: 'phone', hold: 20 }),
      ];
      await waitFor(() => t.server.hub.stats().subscriptions >= 3, 5000, 'three held polls');
      await t.publish({ to: 'user:multi', type: 70, data: 'all' });
      for (const answer of await Promise.all(polls))
        assert.deepEqual(
          answer.body.msg.map((m) => m.data),
          ['all'],
        );
    });

    it('never gives one user another user’s messages', async () => {
      const alice = await t.token('alice');
      const bob = await t.token('bob');
      const aliceCursor = await cursorNow(alice);
      const bobPoll = t.poll({ sid: bob, hold: 1 });
      await waitFor(() => t.server.hub.stats().subscriptions > 0, 5000, 'held poll');
      await t.publish({ to: 'user:alice', type: 70, data: 'secret' });
      assert.equal((await bobPoll).body.c, 0);
      const aliceAnswer = await t.poll({ sid: alice, cursor: aliceCursor, hold: 0 });
      assert.deepEqual(
        aliceAnswer.body.msg.map((m) => m.data),
        ['secret'],
      );
    });

    it('refuses a topic the token does not allow with CHANNEL_FORBIDDEN', async () => {
      const answer = await t.poll({ sid, ch: 'topic:secret', hold: 0 });
      assert.equal(answer.status, 403);
      assert.equal((answer.json as { errorCode: string }).errorCode, 'CHANNEL_FORBIDDEN');
    });
  });

  describe('#concurrency per session', () => {
    it('supersedes the oldest held poll beyond the limit, at once', async () => {
      const token = await t.token('greedy');
      const polls = [];
      for (let i = 0; i < 4; i++) {
        polls.push(t.poll({ sid: token, comeFrom: `c${i}`, hold: 20 }));
        await waitFor(() => t.server.hub.stats().subscriptions === i + 1, 5000, `poll ${i}`);
      }
      const fifth = t.poll({ sid: token, comeFrom: 'c4', hold: 20 });
      const oldest = await polls[0];
      assert.equal(oldest?.body.superseded, true);
      assert.equal(oldest?.body.c, 0);
      assert.equal(t.server.hub.stats().subscriptions, 4);
      await t.publish({ to: 'user:greedy', type: 70, data: 'x' });
      for (const answer of await Promise.all([...polls.slice(1), fifth])) assert.equal(answer.body.c, 1);
    });

    it('releases everything when a client disconnects while held', async () => {
      const broker = t.server.broker as MemoryBroker;
      const token = await t.token('leaver', { topics: ['news'] });
      const aborted = [];
      for (let i = 0; i < 3; i++)
        aborted.push(t.poll({ sid: token, comeFrom: `x${i}`, ch: 'topic:news', hold: 30 }, { abortAfterMs: 300 }));
      await waitFor(() => t.server.hub.stats().subscriptions === 3, 5000, 'held polls');
      await Promise.all(aborted);
      await waitFor(() => t.server.hub.stats().subscriptions === 0, 5000, 'subscriptions released');
      assert.deepEqual(t.server.hub.stats(), { subscriptions: 0, channels: 0, sessions: 0, users: 0, addresses: 0 });
      assert.equal(broker.stats().listeners, 0);
    });
  });
});
