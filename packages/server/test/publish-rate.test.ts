import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RawOptions } from '../src/config/options.js';
import { delay, type TestServer, withTestServer } from './support/harness.js';

type ErrorJson = { errorCode: string };

const keyOne = 'rate-key-one-0123456789';
const keyTwo = 'rate-key-two-0123456789';

/** `count` small messages to user:7, numbered from `from`. */
function messages(count: number, from = 0): { to: string; type: number; data: number }[] {
  return Array.from({ length: count }, (_, i) => ({ to: 'user:7', type: 70, data: from + i }));
}

/** A server of its own per test, so each starts with full buckets; `read()` is what user 7 got since it started. */
function withServer(options: RawOptions, body: (t: TestServer, read: () => Promise<unknown[]>) => Promise<void>): Promise<void> {
  return withTestServer(options, async (t) => {
    const sid = await t.token('7');
    const { cursor } = (await t.poll({ sid, comeFrom: 'rate', hold: 0 })).body;
    await body(t, async () => (await t.poll({ sid, cursor, hold: 0 })).body.msg.map((message) => message.data));
  });
}

// A rate of 1 a second: a refilled token needs a whole second, far more than the requests of a test take on a busy machine.
describe('publish rate limit', { timeout: 60_000 }, () => {
  describe('#budget', () => {
    it('publishes within the burst, then refuses the whole next request with 429 RATE_LIMITED and Retry-After, storing none of it', async () => {
      await withServer({ publishRate: '1', publishBurst: '10' }, async (t, read) => {
        assert.equal((await t.publish(messages(4))).status, 200);
        assert.equal((await t.publish(messages(6, 4))).status, 200);
        const refused = await t.publish(messages(3, 10));
        assert.equal(refused.status, 429);
        assert.equal((refused.json as ErrorJson).errorCode, 'RATE_LIMITED');
        assert.ok(Number(refused.headers['retry-after']) >= 1, `retry-after ${refused.headers['retry-after']}`);
        assert.match(String(refused.headers['retry-after']), /^\d+$/, 'whole seconds');
        assert.deepEqual(await read(), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'nothing of the refused batch');
      });
    });

    it('counts messages, not requests: one batch can spend the whole burst', async () => {
      await withServer({ publishRate: '1', publishBurst: '10' }, async (t) => {
        assert.equal((await t.publish(messages(10))).status, 200);
        const refused = await t.publish({ to: 'user:7', type: 70 });
        assert.equal(refused.status, 429);
        assert.equal((refused.json as ErrorJson).errorCode, 'RATE_LIMITED');
      });
    });

    it('accepts a refused request once its Retry-After has passed', async () => {
      await withServer({ publishRate: '1', publishBurst: '2' }, async (t, read) => {
        assert.equal((await t.publish(messages(2))).status, 200);
        const refused = await t.publish(messages(1, 2));
        assert.equal(refused.status, 429);
        await delay(Number(refused.headers['retry-after']) * 1000);
        assert.equal((await t.publish(messages(1, 2))).status, 200);
        assert.deepEqual(await read(), [0, 1, 2]);
      });
    });

    it('refuses a batch larger than the burst with 413 PAYLOAD_TOO_LARGE, as waiting would never let it through', async () => {
      await withServer({ publishRate: '1', publishBurst: '10' }, async (t, read) => {
        const refused = await t.publish(messages(11));
        assert.equal(refused.status, 413);
        assert.equal((refused.json as ErrorJson).errorCode, 'PAYLOAD_TOO_LARGE');
        assert.equal(refused.headers['retry-after'], undefined);
        assert.equal((await t.publish(messages(10))).status, 200, 'the refused batch spent nothing');
        assert.equal((await read()).length, 10);
      });
    });

    it('does not charge a request refused for its content', async () => {
      await withServer({ publishRate: '1', publishBurst: '2' }, async (t) => {
        const invalid = await t.publish([...messages(2), { to: 'nobody', type: 70 }]);
        assert.equal((invalid.json as ErrorJson).errorCode, 'BAD_REQUEST');
        assert.equal((await t.publish(messages(2))).status, 200);
      });
    });
  });

  describe('#keys', () => {
    it('gives each publish key a budget of its own', async () => {
      await withServer({ publishKey: `${keyOne},${keyTwo}`, publishRate: '1', publishBurst: '3' }, async (t, read) => {
        assert.equal((await t.publish(messages(3), { key: keyOne })).status, 200);
        assert.equal((await t.publish(messages(1, 3), { key: keyOne })).status, 429);
        assert.equal((await t.publish(messages(3, 10), { key: keyTwo })).status, 200, 'key two is untouched by key one');
        assert.equal((await t.publish(messages(1, 13), { key: keyTwo })).status, 429);
        assert.deepEqual(await read(), [0, 1, 2, 10, 11, 12]);
      });
    });
  });

  describe('#settings', () => {
    it('limits nothing at rate 0, whatever the burst', async () => {
      await withServer({ publishRate: '0', publishBurst: '1' }, async (t, read) => {
        for (let i = 0; i < 5; i++) assert.equal((await t.publish(messages(20, i * 20))).status, 200);
        assert.equal((await read()).length, 100);
      });
    });

    it('lets a full batch of 1000 through by default', async () => {
      await withServer({ publishRate: '1' }, async (t) => {
        const answer = await t.publish(Array.from({ length: 1000 }, () => ({ to: 'user:8', type: 1 })));
        assert.equal(answer.status, 200);
        assert.equal((await t.publish({ to: 'user:8', type: 1 })).status, 429, 'and that was the whole burst');
      });
    });
  });
});
