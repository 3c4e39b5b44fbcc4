import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PublishMessage } from '@pns/protocol';
import { type Seen, seen, transports } from './support/transport-subscriber.js';
import { useTransportSuite } from './support/transport-suite.js';

/**
 * One black-box protocol suite, run for each transport: delivery (docs/protocol.md sections 4, 5 and 10), the same
 * cases and the same expectations. transport-session.test.ts has the refusals and the ends of a connection.
 */
for (const transport of transports) {
  describe(`${transport} · delivery`, { timeout: 60_000 }, () => {
    const suite = useTransportSuite(transport);
    const { open, startServer, user, publish, sentinel, sentinelSeen, assertHealthy } = suite;

    it('delivers user and allowed-topic messages in order, exactly once, with their ids, types and data', async () => {
      const me = user('deliver');
      const topic = `topic:${user('news')}`;
      const sub = open(suite.t, { sid: await suite.t.token(me, { topics: [user('news')] }), channels: [topic] });
      await sub.ready();
      assert.match(sub.cursor ?? '', /^v1\./);
      const expected: Seen[] = [];
      const send = async (message: PublishMessage, ch: string | undefined): Promise<void> => {
        const [id] = await publish(suite.t, message);
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
      const end = await sentinel(suite.t, [me], [sub]);
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
      const sid = await suite.t.token(me);
      const first = open(suite.t, { sid });
      await first.ready();
      await publish(suite.t, { to: `user:${me}`, type: 70, data: 'a' });
      await publish(suite.t, { to: `user:${me}`, type: 70, data: 'b' });
      await first.waitForMessages(2);
      const cursor = first.cursor;
      await first.close();
      assert.deepEqual(
        first.messages.map((m) => m.data),
        ['a', 'b'],
      );
      await publish(suite.t, [
        { to: `user:${me}`, type: 70, data: 'c' },
        { to: `user:${me}`, type: 70, data: 'd' },
      ]);
      await publish(suite.t, { to: `user:${me}`, type: 70, data: 'e' });
      // A cursor is not tied to its token: it carries over to a renewed one.
      const second = open(suite.t, { sid: await suite.t.token(me), ...(cursor ? { cursor } : {}) });
      await second.ready();
      await publish(suite.t, { to: `user:${me}`, type: 70, data: 'f' });
      await sentinel(suite.t, [me], [second]);
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

    it('delivers a message published twice with the same id once', async () => {
      const me = user('dedupe');
      const sid = await suite.t.token(me);
      const sub = open(suite.t, { sid });
      await sub.ready();
      const start = sub.cursor;
      const message: PublishMessage = { id: `dup-${transport}`, to: `user:${me}`, type: 70, data: { n: 1 } };
      assert.deepEqual(await publish(suite.t, message), [message.id]);
      assert.deepEqual(await publish(suite.t, message), [message.id], 'a retry answers the same id');
      assert.deepEqual(await publish(suite.t, [message, message]), [message.id, message.id], 'so does a batch repeating it');
      const end = await sentinel(suite.t, [me], [sub]);
      const expected = [{ id: message.id as string, ch: `user:${me}`, type: 70, data: { n: 1 } }, ...sentinelSeen(end, me)];
      assert.deepEqual(seen(sub.messages), expected);
      // What is retained holds it once too.
      const replay = open(suite.t, { sid, ...(start ? { cursor: start } : {}) });
      await replay.waitForMessages(3);
      await replay.ready();
      assert.deepEqual(seen(replay.messages), expected);
      assertHealthy(sub);
      assertHealthy(replay);
    });

    it('gives every connection of a user every message (two of one session, one of another) and another user none', async () => {
      const me = user('multi');
      const stranger = user('multi-stranger');
      const tabs = await suite.t.token(me);
      const tab1 = open(suite.t, { sid: tabs });
      const tab2 = open(suite.t, { sid: tabs });
      const device = open(suite.t, { sid: await suite.t.token(me) });
      const other = open(suite.t, { sid: await suite.t.token(stranger) });
      const all = [tab1, tab2, device, other];
      for (const sub of all) await sub.ready();
      const mine: Seen[] = [];
      for (const data of ['one', 'two', 'three']) {
        const [id] = await publish(suite.t, { to: `user:${me}`, type: 70, data });
        mine.push({ id: id as string, ch: `user:${me}`, type: 70, data });
      }
      const [theirs] = await publish(suite.t, { to: `user:${stranger}`, type: 70, data: 'theirs' });
      const end = await sentinel(suite.t, [me, stranger], all);
      for (const sub of [tab1, tab2, device]) assert.deepEqual(seen(sub.messages), [...mine, ...sentinelSeen(end, me)]);
      assert.deepEqual(seen(other.messages), [
        { id: theirs as string, ch: `user:${stranger}`, type: 70, data: 'theirs' },
        ...sentinelSeen(end, stranger),
      ]);
      for (const sub of all) assertHealthy(sub);
    });
  });
}
