import assert from 'node:assert/strict';
import { Agent } from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { PollResponse } from '@pns/protocol';
import { pollUrl, startTestServer, type TestServer, waitFor } from './support/harness.js';
import { request } from './support/http-client.js';

const clients = 5000;

describe('5,000 concurrent held polls', { timeout: 180_000 }, () => {
  let t: TestServer;
  const agent = new Agent({ keepAlive: false, maxSockets: Number.POSITIVE_INFINITY });
  before(async () => {
    t = await startTestServer({ logLevel: 'warn' });
  });
  after(async () => {
    agent.destroy();
    await t.close();
  });

  it('answers each with its own message exactly once', async () => {
    const tokens = await Promise.all(Array.from({ length: clients }, (_, i) => t.token(`load-${i}`)));
    const answers = tokens.map((sid) => request(pollUrl(t.url, { sid, hold: 90, comeFrom: 'load' }), { agent }));
    await waitFor(() => t.server.hub.stats().subscriptions === clients, 120_000, `${clients} held polls`);
    const batch = Array.from({ length: clients }, (_, i) => ({ to: `user:load-${i}`, type: 70, data: { n: i } }));
    for (let i = 0; i < clients; i += 500) {
      const published = await t.publish(batch.slice(i, i + 500));
      assert.equal(published.status, 200);
    }
    const results = await Promise.all(answers);
    results.forEach((result, i) => {
      const body = result.json as PollResponse;
      assert.equal(result.status, 200);
      assert.equal(body.c, 1, `client ${i} got exactly one message`);
      assert.deepEqual(body.msg[0]?.data, { n: i });
      assert.equal(body.msg[0]?.ch, `user:load-${i}`);
    });
    assert.deepEqual(t.server.hub.stats(), { subscriptions: 0, channels: 0, sessions: 0, users: 0, addresses: 0 });
  });
});
