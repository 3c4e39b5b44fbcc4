// Fuzzing the streams: GET /pns/sse with random queries, Last-Event-ID (mutated real cursors, junk, huge) and
// headers; GET /pns/ws handshakes with every Sec-WebSocket-* header wrong in turn; and the frames a WebSocket
// client may send once connected (text, binary, huge, fragmented, invalid UTF-8, reserved bits and opcodes),
// which pns ignores or answers by closing, and after which an open connection still delivers.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { before, it } from 'node:test';
import fc from 'fast-check';
import { clientFrame, cursorMutation, headerCases, junkText, mutateCursor, queryString } from './support/fuzz-arbitraries.js';
import { fuzzSuite, ownChannels } from './support/fuzz-suite.js';
import { closeCode, dechunk, decodeFrames, encodeFrame, rawExchange, rawStream, requestHead, sseEvents } from './support/fuzz-wire.js';

const user = 'fuzz.streams';
const own = ownChannels(user);
/** Header values go out as latin1 bytes: anything HTTP forbids in a value (CR, LF, NUL, …) is replaced. */
const headerSafe = (value: string): string => value.replace(/[^\t\x20-\x7e\x80-\xff]/g, '?');

fuzzSuite('streams', (fuzz) => {
  let sid = '';
  let cursors: string[] = [];

  before(async () => {
    ({ sid, cursors } = await fuzz().realCursors(user));
  });

  it('answers GET /pns/sse with a stream of its own channels or a catalog error', async () => {
    const f = fuzz();
    const lastEventId = fc.option(
      fc.oneof(
        fc.tuple(fc.constantFrom(...cursors), cursorMutation).map(([cursor, mutation]) => mutateCursor(cursor, mutation)),
        fc.constantFrom(...cursors, ''),
        junkText,
        fc.integer({ min: 4000, max: 8000 }).map((size) => `v1.${'A'.repeat(size)}`),
      ),
      { nil: undefined },
    );
    const harmless = headerCases.filter(({ effect }) => effect === 'none');
    await f.run(
      'SSE queries, Last-Event-ID and headers',
      600,
      fc.asyncProperty(queryString([sid, ...cursors]), fc.boolean(), lastEventId, harmless, async (query, withSid, last, extra) => {
        const path = `/pns/sse?${withSid ? `sid=${sid}&` : ''}${query}`;
        const headers: (readonly [string, string])[] = [['Accept', 'text/event-stream'], ...extra.pairs];
        if (!extra.pairs.some(([name]) => name === 'Host')) headers.unshift(['Host', '127.0.0.1']);
        if (last !== undefined) headers.push(['Last-Event-ID', headerSafe(last)]);
        const head = requestHead(`GET ${path} HTTP/1.1`, headers);
        const answer = await rawStream(f.base, Buffer.from(head, 'latin1'), /event: (live|end)\n/);
        f.note(answer.status);
        const context = `GET ${path} (Last-Event-ID ${JSON.stringify(last?.slice(0, 100))}) → ${answer.status} ${answer.text.slice(0, 200)}`;
        if (head.length > 16 * 1024) {
          assert.equal(f.catalogError(answer, context), 'HEADERS_TOO_LARGE');
          return;
        }
        if (answer.status !== 200) {
          f.catalogError(answer, context);
          return;
        }
        assert.match(String(answer.headers['content-type']), /^text\/event-stream/, context);
        const events = sseEvents(dechunk(answer.text));
        assert.ok(answer.complete, `${context}: no live event`);
        for (const event of events.filter((e) => e.event === undefined && e.data !== undefined)) {
          assert.ok(own.has((JSON.parse(event.data as string) as { ch: string }).ch), `${context}: ${event.data}`);
        }
      }),
    );
  });

  it('answers a WebSocket handshake with 101 when every part of it is right, else with a catalog error', async () => {
    const f = fuzz();
    // Each part is right four times in five, so about one handshake in five is right throughout.
    const part = <T>(right: fc.Arbitrary<T>, wrong: fc.Arbitrary<T>) =>
      fc.oneof({ arbitrary: right, weight: 4 }, { arbitrary: wrong, weight: 1 });
    const validKey = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((bytes) => Buffer.from(bytes).toString('base64'));
    const handshake = fc.record({
      method: part(fc.constant('GET'), fc.constantFrom('POST', 'PUT', 'DELETE', 'OPTIONS')),
      connection: part(fc.constantFrom('Upgrade', 'keep-alive, Upgrade', 'upgrade'), fc.constantFrom('close', 'keep-alive', undefined)),
      upgrade: part(fc.constantFrom('websocket', 'WebSocket'), fc.constantFrom('websocket, h2c', 'h2c', '', 'web socket', undefined)),
      keys: part(
        validKey.map((key) => [key]),
        fc.constantFrom<string[]>(
          [],
          [''],
          ['short'],
          ['dGhlIHNhbXBsZSBub25jZQ'],
          ['x'.repeat(24)],
          ['dGhlIHNhbXBsZSBub25jZQ==', 'AAAAAAAAAAAAAAAAAAAAAA=='],
        ),
      ),
      version: part(fc.constantFrom('13', '8'), fc.constantFrom('12', '', 'abc', '13, 13', undefined)),
      protocol: part(fc.constantFrom(undefined, 'chat', 'chat, superchat'), fc.constantFrom('a b', ',', '', 'chat, chat', 'ch@t')),
      extensions: fc.constantFrom(undefined, 'permessage-deflate', 'permessage-deflate; client_max_window_bits', 'x;;;', 'garbage=='),
      origin: fc.constantFrom(undefined, 'https://app.example', 'null', 'https://evil.example'),
      query: part(
        fc.constant(undefined),
        fc.oneof(
          queryString([sid, ...cursors]),
          fc
            .tuple(fc.constantFrom(...cursors), cursorMutation)
            .map(([cursor, m]) => `cursor=${encodeURIComponent(mutateCursor(cursor, m))}`),
        ),
      ),
    });
    await f.run(
      'WebSocket handshakes',
      600,
      fc.asyncProperty(handshake, async (h) => {
        const headers: [string, string][] = [['Host', '127.0.0.1']];
        const add = (name: string, value: string | undefined): void => {
          if (value !== undefined) headers.push([name, value]);
        };
        add('Connection', h.connection);
        add('Upgrade', h.upgrade);
        for (const key of h.keys) add('Sec-WebSocket-Key', key);
        add('Sec-WebSocket-Version', h.version);
        add('Sec-WebSocket-Protocol', h.protocol);
        add('Sec-WebSocket-Extensions', h.extensions);
        add('Origin', h.origin);
        if (h.method !== 'GET') add('Content-Length', '0');
        const path = `/pns/ws?${h.query === undefined ? `sid=${sid}` : `sid=${sid}&${h.query}`}`;
        const { answer } = await rawExchange(f.base, requestHead(`${h.method} ${path} HTTP/1.1`, headers));
        const context = `${JSON.stringify(h)} → ${answer?.status} ${answer?.text.slice(0, 200)}`;
        assert.ok(answer, `${context}: no answer`);
        f.note(answer.status);
        const upgraded = /(^|,)\s*upgrade\s*(,|$)/i.test(h.connection ?? '') && h.upgrade !== undefined;
        const right =
          h.method === 'GET' &&
          upgraded &&
          h.upgrade?.toLowerCase() === 'websocket' &&
          h.keys.length === 1 &&
          /^[+/0-9A-Za-z]{22}==$/.test(h.keys[0] as string) &&
          (h.version === '13' || h.version === '8') &&
          [undefined, 'chat', 'chat, superchat'].includes(h.protocol);
        if (answer.status === 101) {
          assert.ok(right, `${context}: upgraded`);
          return;
        }
        assert.ok(!right || h.query !== undefined, `${context}: refused`);
        f.catalogError(answer, context);
      }),
    );
  });

  it('ignores or closes on any frame a client sends, and an open connection still delivers', async () => {
    const f = fuzz();
    let published = 0;
    await f.run(
      'WebSocket client frames',
      300,
      fc.asyncProperty(fc.array(clientFrame, { minLength: 1, maxLength: 4 }), async (frames) => {
        const head = requestHead(`GET /pns/ws?sid=${sid} HTTP/1.1`, [
          ['Host', '127.0.0.1'],
          ['Connection', 'Upgrade'],
          ['Upgrade', 'websocket'],
          ['Sec-WebSocket-Version', '13'],
          ['Sec-WebSocket-Key', randomBytes(16).toString('base64')],
        ]);
        const exchange = await rawExchange(f.base, head, { keep: true });
        assert.equal(exchange.answer?.status, 101, exchange.answer?.text);
        const socket = exchange.socket as Socket;
        let received = exchange.rest;
        let closed = false;
        socket.on('data', (chunk: Buffer) => {
          received = Buffer.concat([received, chunk]);
        });
        socket.on('close', () => {
          closed = true;
        });
        try {
          for (const frame of frames) socket.write(encodeFrame(frame));
          const context = `frames ${frames.map((frame) => `${frame.opcode}/${frame.payload.length}`).join(', ')}`;
          const id = `frames-${published++}`;
          // Whatever it did with the frames, the server has done by the time a publish's frame (or a close) comes.
          await new Promise((resolve) => setTimeout(resolve, 20));
          if (!closed) await f.publish([`user:${user}`], { id });
          const deadline = Date.now() + 3000;
          for (;;) {
            const { frames: answers, malformed } = decodeFrames(received);
            assert.ok(!malformed, `${context}: the server sent a masked or malformed frame`);
            const close = answers.find((frame) => frame.opcode === 8);
            if (close) {
              f.note(`close ${closeCode(close)}`);
              // A client's own close is echoed with its code; otherwise the code says what the client broke. After a
              // frame that lies about its length, the bytes that follow are read as other frames, a close among them.
              const echoed = frames.some((frame) => frame.opcode === 8 || frame.claimedLength !== undefined);
              assert.ok(echoed || [1002, 1007, 1009].includes(closeCode(close)), `${context}: close ${closeCode(close)}`);
              return;
            }
            const texts = answers.filter((frame) => frame.opcode === 1).map((frame) => frame.payload.toString('utf8'));
            if (texts.some((text) => text.includes(`"id":"${id}"`))) {
              f.note('delivered');
              return;
            }
            assert.ok(!closed, `${context}: closed without a close frame`);
            assert.ok(Date.now() < deadline, `${context}: neither closed nor delivered; got ${texts.join(' ').slice(0, 300)}`);
            await new Promise((resolve) => setTimeout(resolve, 5));
          }
        } finally {
          socket.destroy();
        }
      }),
    );
  });
});
