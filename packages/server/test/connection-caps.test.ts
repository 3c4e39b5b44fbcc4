// Caps on what one user or one client address may hold, on channels per poll and topics per token: each refusal
// is a catalog error with the right status, and what the caps count goes back to zero. And a flood of new
// connections beyond the connection cap does not delay the answers of polls already held.
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { startTestServer, waitFor, withTestServer } from './support/harness.js';
import { openSubscriber } from './support/transport-subscriber.js';

type ErrorJson = { errorCode: string };

describe('connection caps', { timeout: 60_000 }, () => {
  describe('#per user', () => {
    it('refuses a user’s connection beyond the cap on every transport with 429 TOO_MANY_CONNECTIONS and Retry-After', async () => {
      await withTestServer({ maxConnectionsPerUser: '2' }, async (t) => {
        const held = [t.poll({ sid: await t.token('busy'), hold: 10 }), t.poll({ sid: await t.token('busy', { ttl: 3599 }), hold: 10 })];
        await waitFor(() => t.server.hub.stats().subscriptions === 2, 5000, 'two held polls');
        const third = await t.token('busy', { ttl: 3598 });
        const refused = await t.poll({ sid: third, hold: 0 });
        assert.equal(refused.status, 429);
        assert.equal((refused.json as ErrorJson).errorCode, 'TOO_MANY_CONNECTIONS');
        const retryAfter = Number(refused.headers['retry-after']);
        assert.ok(retryAfter >= 5 && retryAfter <= 15, `Retry-After ${retryAfter}`);
        for (const transport of ['sse', 'websocket'] as const) {
          const stream = openSubscriber(transport, t.url, { sid: third });
          const ending = await stream.ended(3000);
          assert.equal(ending.status, 429, `${transport}: ${JSON.stringify(ending)}`);
          assert.equal(ending.errorCode, 'TOO_MANY_CONNECTIONS');
        }
        // Another user is not affected, and once one of the user's polls ends, a new one is admitted.
        assert.equal((await t.poll({ sid: await t.token('other'), hold: 0 })).status, 200);
        await t.publish({ to: 'user:busy', type: 70 });
        await Promise.all(held);
        assert.equal((await t.poll({ sid: third, hold: 0 })).status, 200);
        await waitFor(() => t.server.hub.stats().users === 0, 5000, 'no user counted');
      });
    });

    it('lets a session at its own cap supersede its oldest poll rather than be refused', async () => {
      await withTestServer({ maxConnectionsPerUser: '2', maxPollsPerSession: '2' }, async (t) => {
        const sid = await t.token('tabs');
        const first = t.poll({ sid, comeFrom: 'a', hold: 10 });
        const second = t.poll({ sid, comeFrom: 'b', hold: 10 });
        await waitFor(() => t.server.hub.stats().subscriptions === 2, 5000, 'two held polls');
        const third = t.poll({ sid, comeFrom: 'c', hold: 10 });
        const superseded = await first;
        assert.equal(superseded.status, 200);
        assert.equal(superseded.body.superseded, true);
        await t.publish({ to: 'user:tabs', type: 70 });
        assert.equal((await second).body.c, 1);
        assert.equal((await third).body.c, 1);
      });
    });
  });

  describe('#per address', () => {
    it('is off by default: one address may hold many', async () => {
      await withTestServer({}, async (t) => {
        const polls = [];
        for (let i = 0; i < 40; i++) polls.push(t.poll({ sid: await t.token(`nat-${i}`), hold: 10 }));
        await waitFor(() => t.server.hub.stats().subscriptions === 40, 5000, 'forty held polls');
        for (let i = 0; i < 40; i++) await t.publish({ to: `user:nat-${i}`, type: 70 });
        for (const poll of await Promise.all(polls)) assert.equal(poll.status, 200);
      });
    });

    it('counts the X-Forwarded-For client behind a trusted proxy, and ignores the header from anyone else', async () => {
      await withTestServer({ maxConnectionsPerAddress: '2', trustedProxies: 'loopback' }, async (t) => {
        const from = (address: string) => ({ headers: { 'x-forwarded-for': `${address}, 127.0.0.1` } });
        const held = [
          t.poll({ sid: await t.token('a1'), hold: 10 }, from('203.0.113.5')),
          t.poll({ sid: await t.token('a2'), hold: 10 }, from('203.0.113.5')),
        ];
        await waitFor(() => t.server.hub.stats().subscriptions === 2, 5000, 'two held polls');
        const refused = await t.poll({ sid: await t.token('a3'), hold: 0 }, from('203.0.113.5'));
        assert.equal(refused.status, 429);
        assert.equal((refused.json as ErrorJson).errorCode, 'TOO_MANY_CONNECTIONS');
        assert.equal((await t.poll({ sid: await t.token('b1'), hold: 0 }, from('198.51.100.7'))).status, 200);
        await t.publish([
          { to: 'user:a1', type: 70 },
          { to: 'user:a2', type: 70 },
        ]);
        await Promise.all(held);
        await waitFor(() => t.server.hub.stats().addresses === 0, 5000, 'no address counted');
      });
      await withTestServer({ maxConnectionsPerAddress: '2' }, async (t) => {
        const spoofed = (address: string) => ({ headers: { 'x-forwarded-for': address } });
        const held = [
          t.poll({ sid: await t.token('s1'), hold: 10 }, spoofed('192.0.2.1')),
          t.poll({ sid: await t.token('s2'), hold: 10 }, spoofed('192.0.2.2')),
        ];
        await waitFor(() => t.server.hub.stats().subscriptions === 2, 5000, 'two held polls');
        const refused = await t.poll({ sid: await t.token('s3'), hold: 0 }, spoofed('192.0.2.3'));
        assert.equal((refused.json as ErrorJson).errorCode, 'TOO_MANY_CONNECTIONS', 'an untrusted X-Forwarded-For changes nothing');
        await t.publish([
          { to: 'user:s1', type: 70 },
          { to: 'user:s2', type: 70 },
        ]);
        await Promise.all(held);
      });
    });
  });

  describe('#channels and topics', () => {
    it('refuses more channels per poll than PNS_MAX_CHANNELS_PER_POLL, and tokens with more topics than PNS_MAX_TOPICS_PER_TOKEN', async () => {
      await withTestServer({ maxChannelsPerPoll: '2', maxTopicsPerToken: '2' }, async (t) => {
        const sid = await t.token('reader', { topics: ['a', 'b'] });
        assert.equal((await t.poll({ sid, ch: ['topic:a', 'topic:b'], hold: 0 })).status, 200);
        const tooMany = await t.poll({ sid, ch: ['topic:a', 'topic:b', 'user:reader'], hold: 0 });
        assert.equal(tooMany.status, 400);
        assert.equal((tooMany.json as ErrorJson).errorCode, 'BAD_REQUEST');
        const wide = await t.poll({ sid: await t.token('wide', { topics: ['a', 'b', 'c'] }), hold: 0 });
        assert.equal(wide.status, 401);
        assert.equal((wide.json as ErrorJson).errorCode, 'SESSION_INVALID');
      });
    });

    it('refuses a bad PNS_TRUSTED_PROXIES at start', async () => {
      await assert.rejects(startTestServer({ trustedProxies: 'not-an-address' }), /PNS_TRUSTED_PROXIES/);
    });
  });

  describe('#flood', () => {
    /**
     * Opens `count` connections, each sending the start of a request, then finishes every request at once: the
     * connections are all open by then, so those beyond the connection cap are answered 503. Resolves with each
     * one's status (0: no answer).
     */
    async function flood(url: string, count: number): Promise<number[]> {
      const { hostname, port } = new URL(url);
      const sockets = await Promise.all(
        Array.from(
          { length: count },
          () =>
            new Promise<net.Socket>((resolve) => {
              const socket = net.connect(Number(port), hostname, () => {
                socket.write('GET /pns/poll?sid=flood&hold=1 HTTP/1.1\r\n');
                resolve(socket);
              });
              socket.on('error', () => resolve(socket));
            }),
        ),
      );
      // Until the server has taken them all in.
      await new Promise((resolve) => setTimeout(resolve, 300));
      return Promise.all(
        sockets.map(
          (socket) =>
            new Promise<number>((resolve) => {
              const timer = setTimeout(() => socket.destroy(), 10_000);
              let text = '';
              socket.on('data', (chunk: Buffer) => {
                text += chunk.toString('latin1');
                if (text.includes('\r\n')) socket.destroy();
              });
              socket.on('close', () => {
                clearTimeout(timer);
                resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0));
              });
              if (socket.destroyed) socket.emit('close');
              else socket.write(`Host: ${hostname}\r\n\r\n`);
            }),
        ),
      );
    }

    it('keeps answering held polls at once while a flood of new connections beyond the cap is refused with 503', async () => {
      await withTestServer({ maxConnections: '40' }, async (t) => {
        const users = Array.from({ length: 20 }, (_, i) => `held-${i}`);
        const polls = await Promise.all(users.map(async (user) => ({ user, sid: await t.token(user) })));
        const answers = polls.map(({ sid }) => t.poll({ sid, hold: 20 }).then((answer) => ({ answer, at: Date.now() })));
        await waitFor(() => t.server.hub.stats().subscriptions === 20, 5000, 'twenty held polls');
        const flooding = flood(t.url, 400);
        // The publish goes out while the flood's connections are open and being refused.
        await new Promise((resolve) => setTimeout(resolve, 320));
        const publishedAt = Date.now();
        await t.publish(users.map((user) => ({ to: `user:${user}`, type: 70 })));
        const answered = await Promise.all(answers);
        const slowest = Math.max(...answered.map(({ at }) => at - publishedAt));
        for (const { answer } of answered) assert.equal(answer.body.c, 1);
        const statuses = await flooding;
        const refused = statuses.filter((status) => status === 503).length;
        process.stdout.write(
          `# 20 held polls answered within ${slowest} ms of the publish while ${refused} of 400 new connections got 503\n`,
        );
        assert.ok(slowest < 3000, `slowest answer ${slowest} ms`);
        const tally = new Map<number, number>();
        for (const status of statuses) tally.set(status, (tally.get(status) ?? 0) + 1);
        assert.ok(refused >= 300, `refused ${refused}: ${JSON.stringify([...tally])}`);
        assert.ok(
          statuses.every((status) => status === 503 || status === 401 || status === 400),
          `statuses ${[...new Set(statuses)]}`,
        );
      });
    });
  });
});
