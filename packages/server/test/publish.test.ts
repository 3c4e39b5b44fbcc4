import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestServer, type TestServer, withTestServer } from './support/harness.js';
import { request } from './support/http-client.js';

type Ids = { ids: string[] };
type ErrorJson = { errorCode: string };

describe('POST /pns/publish', { timeout: 60_000 }, () => {
  let t: TestServer;
  let sid: string;
  let clients = 0;
  before(async () => {
    t = await startTestServer({ retentionCount: '3', retentionSeconds: '900' });
    sid = await t.token('7', { topics: ['news'] });
  });
  after(() => t.close());

  async function cursorNow(): Promise<string> {
    return (await t.poll({ sid, comeFrom: `new-${++clients}`, ch: 'topic:news', hold: 0 })).body.cursor;
  }

  async function received(cursor: string): Promise<unknown[]> {
    return (await t.poll({ sid, cursor, ch: 'topic:news', hold: 0 })).body.msg.map((m) => m.data);
  }

  describe('#keys', () => {
    it('accepts every key of PNS_PUBLISH_KEY, so a key can be replaced without downtime, and no other', async () => {
      await withTestServer({ publishKey: 'publish-key-next-0123456789,publish-key-old-0123456789' }, async (rotating) => {
        for (const key of ['publish-key-next-0123456789', 'publish-key-old-0123456789']) {
          assert.equal((await rotating.publish({ to: 'user:7', type: 70 }, { key })).status, 200, key);
        }
        const refused = await rotating.publish({ to: 'user:7', type: 70 }, { key: 'publish-key-gone-0123456789' });
        assert.equal((refused.json as ErrorJson).errorCode, 'PUBLISH_UNAUTHORIZED');
      });
    });
  });

  describe('#limits', () => {
    it('refuses a batch over PNS_MAX_BATCH and a message over PNS_MAX_RECIPIENTS, storing nothing', async () => {
      await withTestServer({ maxBatch: '2', maxRecipients: '2' }, async (small) => {
        const message = (to: string | string[]) => ({ to, type: 70 });
        assert.equal((await small.publish([message('user:a'), message('user:b')])).status, 200);
        assert.equal((await small.publish(message(['user:a', 'user:b']))).status, 200);
        const sid = await small.token('c');
        const before = (await small.poll({ sid, hold: 0 })).body.cursor;
        for (const body of [[message('user:a'), message('user:b'), message('user:c')], message(['user:a', 'user:b', 'user:c'])]) {
          const refused = await small.publish(body);
          assert.equal(refused.status, 400, refused.text);
          assert.equal((refused.json as ErrorJson).errorCode, 'BAD_REQUEST');
        }
        assert.equal((await small.poll({ sid, cursor: before, hold: 0 })).body.c, 0, 'nothing of the refused requests reached user:c');
      });
    });
  });

  describe('#single', () => {
    it('answers the stored message’s id', async () => {
      const answer = await t.publish({ to: 'user:7', type: 70, data: { subject: 'hi' } });
      assert.equal(answer.status, 200);
      assert.equal((answer.json as Ids).ids.length, 1);
      assert.match((answer.json as Ids).ids[0] as string, /^[0-9a-f-]{36}$/);
    });

    it('accepts data of any JSON type, and none', async () => {
      const cursor = await cursorNow();
      for (const data of ['text', 0, false, null, [1, [2]]]) assert.equal((await t.publish({ to: 'user:7', type: 1, data })).status, 200);
      assert.equal((await t.publish({ to: 'user:7', type: 1 })).status, 200);
      // Retention count 3 keeps the last three; absent data arrives as null.
      assert.deepEqual(await received(cursor), [null, [1, [2]], null]);
    });
  });

  describe('#encoding', () => {
    it('refuses a body that is not UTF-8, rather than storing U+FFFD in its place (found by fuzz-publish)', async () => {
      const cursor = await cursorNow();
      const headers = { authorization: `Bearer ${t.config.publishKey}`, 'content-type': 'application/json' };
      for (const bytes of [[0xff], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xe2, 0x82]]) {
        const body = Buffer.concat([Buffer.from('{"to":"topic:news","type":1,"data":"a'), Buffer.from(bytes), Buffer.from('b"}')]);
        const answer = await request(`${t.url}/pns/publish`, { method: 'POST', headers, body });
        assert.equal(answer.status, 400, JSON.stringify(bytes));
        assert.equal((answer.json as ErrorJson).errorCode, 'BAD_REQUEST');
      }
      // UTF-8 beyond ASCII passes, with a byte order mark or without.
      for (const prefix of ['', '\ufeff']) {
        const body = Buffer.from(`${prefix}{"to":"topic:news","type":1,"data":"\u00e9\u{1F600}"}`, 'utf8');
        assert.equal((await request(`${t.url}/pns/publish`, { method: 'POST', headers, body })).status, 200, JSON.stringify(prefix));
      }
      assert.deepEqual(await received(cursor), ['\u00e9\u{1F600}', '\u00e9\u{1F600}']);
    });
  });

  describe('#batch', () => {
    it('stores every message of a batch and answers their ids in order', async () => {
      const cursor = await cursorNow();
      const answer = await t.publish([
        { to: 'user:7', type: 70, data: 'a', id: 'batch-a' },
        { to: 'topic:news', type: 70, data: 'b' },
      ]);
      assert.equal(answer.status, 200);
      const ids = (answer.json as Ids).ids;
      assert.equal(ids[0], 'batch-a');
      assert.equal(ids.length, 2);
      assert.deepEqual(await received(cursor), ['a', 'b']);
    });

    it('refuses a whole batch when one member is invalid, storing none of it', async () => {
      const cursor = await cursorNow();
      const answer = await t.publish([
        { to: 'user:7', type: 70, data: 'good' },
        { to: 'nobody', type: 70, data: 'bad' },
      ]);
      assert.equal(answer.status, 400);
      assert.equal((answer.json as ErrorJson).errorCode, 'BAD_REQUEST');
      assert.deepEqual(await received(cursor), []);
    });
  });

  describe('#idempotency', () => {
    it('stores and delivers a retried id once, answering the same id', async () => {
      const cursor = await cursorNow();
      const message = { to: 'user:7', type: 70, data: { n: 1 }, id: 'order-1001' };
      const first = await t.publish(message);
      const retry = await t.publish(message);
      assert.deepEqual(first.json, { ids: ['order-1001'] });
      assert.deepEqual(retry.json, { ids: ['order-1001'] });
      assert.deepEqual(await received(cursor), [{ n: 1 }]);
    });

    it('stays idempotent however much count-based trimming happened since', async () => {
      const message = { to: 'user:7', type: 70, data: 'keep', id: 'trimmed-id' };
      await t.publish(message);
      for (let i = 0; i < 6; i++) await t.publish({ to: 'user:7', type: 70, data: i });
      const cursor = await cursorNow();
      assert.equal((await t.publish(message)).status, 200);
      assert.deepEqual(await received(cursor), []);
    });

    it('answers ID_CONFLICT for the same id with a different body, and stores nothing of its batch', async () => {
      await t.publish({ to: 'user:7', type: 70, data: 'original', id: 'conflict-1' });
      const cursor = await cursorNow();
      const answer = await t.publish([
        { to: 'user:7', type: 70, data: 'innocent' },
        { to: 'user:7', type: 70, data: 'changed', id: 'conflict-1' },
      ]);
      assert.equal(answer.status, 409);
      assert.equal((answer.json as ErrorJson).errorCode, 'ID_CONFLICT');
      assert.deepEqual(await received(cursor), []);
    });
  });

  describe('#retention', () => {
    it('keeps the newest messages per channel up to the retention count', async () => {
      const cursor = await cursorNow();
      for (let i = 1; i <= 5; i++) await t.publish({ to: 'topic:news', type: 70, data: i });
      const answer = await t.poll({ sid, cursor, ch: 'topic:news', hold: 0 });
      assert.equal(answer.body.gap, true);
      assert.deepEqual(
        answer.body.msg.map((m) => m.data),
        [3, 4, 5],
      );
    });

    it('refuses a ttl above the server maximum', async () => {
      const answer = await t.publish({ to: 'user:7', type: 70, ttl: 901 });
      assert.equal(answer.status, 400);
      assert.equal((answer.json as ErrorJson).errorCode, 'BAD_REQUEST');
    });

    it('drops a message when its ttl ends, and tells a reader that missed it', async () => {
      const cursor = await cursorNow();
      await t.publish({ to: 'user:7', type: 70, data: 'short', ttl: 1 });
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const answer = await t.poll({ sid, cursor, ch: 'topic:news', hold: 0 });
      assert.equal(answer.body.c, 0);
      assert.equal(answer.body.gap, true);
    });
  });
});
