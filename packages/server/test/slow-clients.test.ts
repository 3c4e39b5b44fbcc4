// Slow and half-open clients: a request that trickles in is cut at PNS_REQUEST_TIMEOUT_SECONDS with 408, a stream
// whose client stops reading is dropped once its buffer is full, and neither delays anyone else's answer.
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { sseMaxBufferedBytes } from '../src/transports/sse.js';
import { waitFor, withTestServer } from './support/harness.js';

/** A connection that sends `start`, then one more byte of `rest` every `everyMs`; resolves with what it was answered and when. */
function trickle(url: string, start: string, rest: string, everyMs: number): Promise<{ answer: string; ms: number }> {
  const { hostname, port } = new URL(url);
  const began = Date.now();
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), hostname, () => socket.write(start));
    let answer = '';
    let index = 0;
    const timer = setInterval(() => {
      if (index < rest.length && socket.writable) socket.write(rest[index++] as string);
    }, everyMs);
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString('latin1');
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearInterval(timer);
      resolve({ answer, ms: Date.now() - began });
    });
  });
}

describe('slow clients', { timeout: 60_000 }, () => {
  describe('#slowloris', () => {
    it('answers requests that trickle in with 408 REQUEST_TIMEOUT and closes them, while held polls are answered at once', async () => {
      await withTestServer({ requestTimeoutSeconds: '1' }, async (t) => {
        const sid = await t.token('patient');
        const held = t.poll({ sid, hold: 20 });
        await waitFor(() => t.server.hub.stats().subscriptions === 1, 5000, 'a held poll');
        const slow = Array.from({ length: 50 }, (_, i) =>
          i % 2 === 0
            ? trickle(t.url, 'GET /pns/poll?sid=', 'x'.repeat(200), 100)
            : trickle(
                t.url,
                `POST /pns/publish HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t.config.publishKey}\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n`,
                '{'.repeat(200),
                100,
              ),
        );
        await new Promise((resolve) => setTimeout(resolve, 300));
        const publishedAt = Date.now();
        await t.publish({ to: 'user:patient', type: 70 });
        assert.equal((await held).body.c, 1);
        const answeredMs = Date.now() - publishedAt;
        const results = await Promise.all(slow);
        for (const { answer, ms } of results) {
          assert.match(answer, /^HTTP\/1\.1 408 /, answer.slice(0, 80));
          assert.match(answer, /"errorCode":"REQUEST_TIMEOUT"/);
          assert.ok(ms < 4000, `cut after ${ms} ms`);
        }
        assert.ok(answeredMs < 1000, `the held poll was answered ${answeredMs} ms after the publish`);
        const longest = Math.max(...results.map(({ ms }) => ms));
        process.stdout.write(
          `# 50 trickling requests cut with 408 within ${longest} ms (timeout 1 s); a held poll answered ${answeredMs} ms after its publish\n`,
        );
      });
    });
  });

  describe('#streams that are not read', () => {
    it('drops an SSE stream whose client stops reading once its buffer passes the bound, and others go on', async () => {
      await withTestServer({ maxBodyBytes: String(2 * 1024 * 1024) }, async (t) => {
        const sid = await t.token('stalled');
        const { hostname, port } = new URL(t.url);
        const socket = net.connect(Number(port), hostname);
        await new Promise<void>((resolve) => socket.once('connect', resolve));
        socket.write(`GET /pns/sse?sid=${sid} HTTP/1.1\r\nHost: x\r\n\r\n`);
        await waitFor(() => t.server.hub.stats().subscriptions === 1, 5000, 'the stream');
        // The client reads nothing from now on.
        socket.pause();
        let closed = false;
        socket.on('close', () => {
          closed = true;
        });
        socket.on('error', () => undefined);
        const reader = await t.token('reader');
        const kept = t.poll({ sid: reader, hold: 20 });
        await waitFor(() => t.server.hub.stats().subscriptions === 2, 5000, 'the stream and a held poll');
        const data = 'x'.repeat(16 * 1024);
        // Up to far beyond what the kernel's socket buffers and the stream's bound take; it stops once dropped.
        const batches = Math.ceil((sseMaxBufferedBytes * 40) / (data.length * 50));
        for (let i = 0; i < batches && t.server.hub.stats().subscriptions > 1; i++) {
          const answer = await t.publish(Array.from({ length: 50 }, () => ({ to: 'user:stalled', type: 70, data })));
          assert.equal(answer.status, 200, answer.text);
        }
        await waitFor(() => t.server.hub.stats().subscriptions === 1, 10_000, 'the stalled stream dropped');
        const published = await t.publish({ to: 'user:reader', type: 70 });
        assert.equal(published.status, 200, published.text);
        assert.equal((await kept).body.c, 1, 'the other client is answered');
        socket.resume();
        await waitFor(() => closed, 10_000, 'the stalled socket closed');
      });
    });
  });
});
