// Fuzzing POST /pns/publish and POST /pns/revoke: JSON bodies with deep nesting, numbers JavaScript cannot hold,
// duplicate keys, prototype keys at any depth, wrong types everywhere, batches and recipient lists at and over
// their limits, invalid UTF-8; and raw requests with any Content-Type and a Content-Length that lies. What pns
// stores comes back exactly as sent, or it is refused and nothing is stored.
import assert from 'node:assert/strict';
import { before, it } from 'node:test';
import fc from 'fast-check';
import type { Answer } from './support/bad-input-send.js';
import {
  channelName,
  invalidUtf8,
  jsonText,
  junkText,
  protoKeys,
  publishBody,
  publishMessage,
  rarely,
} from './support/fuzz-arbitraries.js';
import { type Fuzz, fuzzPublishKey, fuzzSuite } from './support/fuzz-suite.js';
import { rawExchange, requestHead } from './support/fuzz-wire.js';

const maxBodyBytes = 65_536;
const maxDepth = 64;

/** Every object and array in `value` with its depth (1 for `value` itself), without recursion: bodies nest 5000 deep. */
function* containers(value: unknown): Generator<[object, number]> {
  const stack: [unknown, number][] = [[value, 1]];
  for (let item = stack.pop(); item; item = stack.pop()) {
    const [node, level] = item;
    if (node === null || typeof node !== 'object') continue;
    yield [node, level];
    for (const child of Object.values(node)) stack.push([child, level + 1]);
  }
}

/** A key `__proto__` anywhere, or a `constructor` holding a `prototype`: what the JSON parser refuses. */
function poisoned(value: unknown): boolean {
  for (const [node] of containers(value)) {
    if (Object.hasOwn(node, '__proto__')) return true;
    const inner = Object.hasOwn(node, 'constructor') ? (node as { constructor: unknown }).constructor : undefined;
    if (inner !== null && typeof inner === 'object' && Object.hasOwn(inner, 'prototype')) return true;
  }
  return false;
}

function depth(value: unknown): number {
  let deepest = 0;
  for (const [, level] of containers(value)) deepest = Math.max(deepest, level);
  return deepest;
}

function hasNonFinite(value: unknown): boolean {
  if (typeof value === 'number') return !Number.isFinite(value);
  for (const [node] of containers(value))
    if (Object.values(node).some((child) => typeof child === 'number' && !Number.isFinite(child))) return true;
  return false;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The body as JSON, if it is UTF-8 and JSON. */
function parsed(body: Buffer): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(utf8.decode(body)) };
  } catch {
    return { ok: false };
  }
}

/** A POST of `body` as JSON with the publish key, on a bare socket (the body's bytes go out as they are). */
async function post(f: Fuzz, path: string, body: Buffer): Promise<Answer | undefined> {
  const head = requestHead(`POST ${path} HTTP/1.1`, [
    ['Host', '127.0.0.1'],
    ['Authorization', `Bearer ${fuzzPublishKey}`],
    ['Content-Type', 'application/json'],
    ['Content-Length', String(body.length)],
  ]);
  return (await rawExchange(f.base, Buffer.concat([Buffer.from(head, 'latin1'), body]))).answer;
}

fuzzSuite('publish', (fuzz) => {
  const rtUser = 'fuzz.rt';
  let rtSid = '';
  let cursor = '';
  let published = 0;

  before(async () => {
    rtSid = fuzz().sid(rtUser);
    cursor = ((await (await fetch(`${fuzz().url}/pns/poll?sid=${rtSid}&hold=0`)).json()) as { cursor: string }).cursor;
  });

  /** What `user:fuzz.rt` got since the last call, and the answer's text. */
  async function received(f: Fuzz): Promise<{ messages: { id: string; data: unknown }[]; text: string }> {
    const answer = await fetch(`${f.url}/pns/poll?sid=${rtSid}&hold=0&cursor=${encodeURIComponent(cursor)}`);
    assert.equal(answer.status, 200);
    const text = await answer.text();
    const body = JSON.parse(text) as { cursor: string; msg: { id: string; data: unknown }[] };
    cursor = body.cursor;
    return { messages: body.msg, text };
  }

  it('answers any JSON-ish publish body with one id per message or a catalog error; prototype keys are refused', async () => {
    const f = fuzz();
    await f.run(
      'publish bodies',
      1000,
      fc.asyncProperty(publishBody, rarely(invalidUtf8), async (text, bad) => {
        // Invalid UTF-8 goes inside a string, where a lenient decoder would let it through.
        const body =
          bad === undefined
            ? Buffer.from(text)
            : Buffer.from(`{"to":"user:fz.utf8","type":1,"data":"a${Buffer.from(bad).toString('latin1')}b"}`, 'latin1');
        const answer = await post(f, '/pns/publish', body);
        const context = `${body.toString('utf8').slice(0, 300)} (${body.length} bytes) → ${answer?.status} ${answer?.text.slice(0, 200)}`;
        assert.ok(answer, `${context}: no answer`);
        f.note(answer.status);
        const json = parsed(body);
        if (answer.status === 200) {
          assert.ok(json.ok && !poisoned(json.value) && body.length <= maxBodyBytes, `${context}: accepted`);
          const { ids } = JSON.parse(answer.text) as { ids: string[] };
          assert.equal(ids.length, Array.isArray(json.value) ? json.value.length : 1, context);
          return;
        }
        const code = f.catalogError(answer, context);
        if (body.length > maxBodyBytes) assert.equal(code, 'PAYLOAD_TOO_LARGE', context);
        else if (!json.ok || poisoned(json.value)) assert.equal(code, 'BAD_REQUEST', context);
      }),
    );
  });

  it('stores data exactly as sent, or refuses it and stores nothing (prototype keys, numbers a double cannot hold)', async () => {
    const f = fuzz();
    const data = fc.oneof(
      { arbitrary: jsonText.map((text) => Buffer.from(text)), weight: 4 },
      { arbitrary: fc.jsonValue({ maxDepth: 4 }).map((value) => Buffer.from(JSON.stringify(value))), weight: 4 },
      { arbitrary: invalidUtf8.map((bytes) => Buffer.from([0x22, 0x61, ...bytes, 0x62, 0x22])), weight: 1 },
    );
    await f.run(
      'data round trip',
      600,
      fc.asyncProperty(data, async (bytes) => {
        // Fixed width, so that a body's size does not depend on how many cases ran before it (a replay starts at 0).
        const id = `rt-${String(published++).padStart(6, '0')}`;
        const body = Buffer.concat([Buffer.from(`{"to":"user:${rtUser}","type":"rt","id":"${id}","data":`), bytes, Buffer.from('}')]);
        const answer = await post(f, '/pns/publish', body);
        const context = `data ${bytes.toString('latin1').slice(0, 300)} → ${answer?.status} ${answer?.text.slice(0, 200)}`;
        assert.ok(answer, `${context}: no answer`);
        f.note(answer.status);
        const json = parsed(bytes);
        const value = json.ok ? json.value : undefined;
        const refusable = !json.ok || poisoned(value) || depth(value) > maxDepth || hasNonFinite(value) || body.length > maxBodyBytes;
        const { messages: got, text } = await received(f);
        if (answer.status !== 200) {
          const code = f.catalogError(answer, context);
          assert.ok(refusable, `${context}: refused`);
          // The size is checked before the body is read; pns refuses prototype keys rather than storing them, so what
          // it stores is always what was sent.
          if (body.length > maxBodyBytes) assert.equal(code, 'PAYLOAD_TOO_LARGE', context);
          else if (poisoned(value)) assert.equal(code, 'BAD_REQUEST', context);
          assert.deepEqual(got, [], `${context}: refused, yet stored`);
          return;
        }
        assert.ok(!refusable, `${context}: accepted`);
        assert.deepEqual(
          got.map((message) => message.id),
          [id],
          context,
        );
        // Byte for byte, as JSON writes what JSON read: key order, duplicates (the last wins), escapes; data comes last.
        assert.ok(text.includes(`"data":${JSON.stringify(value)}}`), `${context}: delivered ${text.slice(0, 300)}`);
        assert.equal(JSON.stringify(got[0]?.data), JSON.stringify(value), context);
      }),
    );
  });

  it('answers any revoke body with {"revoked": true} or a catalog error', async () => {
    const f = fuzz();
    const body = fc.oneof(
      channelName.map((user) => JSON.stringify({ user: `fz.${user}` })),
      junkText.map((sid) => JSON.stringify({ sid })),
      fc.constantFrom(
        '{"user":42}',
        '{"user":null}',
        '{"user":["a"]}',
        '{"sid":{}}',
        '{"user":"a","sid":"b"}',
        '{"user":"a","x":1}',
        '[]',
        '""',
      ),
      fc.tuple(fc.constantFrom(...protoKeys), jsonText).map(([key, value]) => `{"user":"fz.p","${key}":${value}}`),
      jsonText.map((value) => `{"user":${value}}`),
      jsonText,
    );
    await f.run(
      'revoke bodies',
      500,
      fc.asyncProperty(body, async (text) => {
        const answer = await post(f, '/pns/revoke', Buffer.from(text));
        const context = `${text.slice(0, 300)} → ${answer?.status} ${answer?.text.slice(0, 200)}`;
        assert.ok(answer, `${context}: no answer`);
        f.note(answer.status);
        if (answer.status === 200) assert.deepEqual(JSON.parse(answer.text), { revoked: true }, context);
        else f.catalogError(answer, context);
        const json = parsed(Buffer.from(text));
        const value = json.ok ? (json.value as Record<string, unknown>) : undefined;
        if (value && !poisoned(value) && Object.keys(value).length === 1 && typeof value.user === 'string' && /^fz\./.test(value.user)) {
          assert.equal(answer.status, 200, context);
        }
      }),
    );
  });

  it('answers any Content-Type and any framing of a body, with a Content-Length that may lie', async () => {
    const f = fuzz();
    const contentType = fc.oneof(
      fc.constantFrom('application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON', 'application/json;charset=latin1'),
      fc.constantFrom(
        'text/plain',
        'application/x-www-form-urlencoded',
        'application/jsonx',
        'multipart/form-data; boundary=x',
        '',
        'application/json, text/plain',
      ),
      junkText.map((text) => text.replace(/[^\x20-\x7e]/g, '')),
    );
    const framing = fc.oneof(
      fc.record({ kind: fc.constant('length' as const), delta: fc.integer({ min: -5, max: 5 }) }),
      fc.constant({ kind: 'chunked' as const, delta: 0 }),
      fc.constant({ kind: 'bad chunk' as const, delta: 0 }),
      fc.constant({ kind: 'none' as const, delta: 0 }),
      fc.constant({ kind: 'both' as const, delta: 0 }),
      fc.record({
        kind: fc.constant('length text' as const),
        delta: fc.constant(0),
        text: fc.constantFrom('abc', '-1', '1e3', '0x10', '99999999999999999999'),
      }),
    );
    const body = fc.oneof(fc.constant('{"to":"user:fz.raw","type":1}'), publishMessage, jsonText);
    await f.run(
      'raw framing and Content-Type',
      500,
      fc.asyncProperty(contentType, framing, body, async (type, frame, text) => {
        const bytes = Buffer.from(text);
        const headers: [string, string][] = [['Content-Type', type]];
        let payload = bytes;
        if (frame.kind === 'length') headers.push(['Content-Length', String(Math.max(0, bytes.length + frame.delta))]);
        if (frame.kind === 'length text') headers.push(['Content-Length', frame.text]);
        if (frame.kind === 'chunked' || frame.kind === 'both' || frame.kind === 'bad chunk') {
          headers.push(['Transfer-Encoding', 'chunked']);
          const size = frame.kind === 'bad chunk' ? 'zz' : bytes.length.toString(16);
          payload = Buffer.concat([Buffer.from(`${size}\r\n`), bytes, Buffer.from('\r\n0\r\n\r\n')]);
        }
        if (frame.kind === 'both') headers.push(['Content-Length', String(payload.length)]);
        if (frame.kind === 'none') headers.push(['Connection', 'close']);
        const head = requestHead('POST /pns/publish HTTP/1.1', [
          ['Host', '127.0.0.1'],
          ['Authorization', `Bearer ${fuzzPublishKey}`],
          ...headers,
        ]);
        // A body shorter than announced is followed by the end of the client's side, as a client that gives up does.
        const short = frame.kind === 'length' && frame.delta > 0;
        const { answer } = await rawExchange(
          f.base,
          Buffer.concat([Buffer.from(head, 'latin1'), frame.kind === 'none' ? Buffer.alloc(0) : payload]),
          {
            endAfterWrite: short,
          },
        );
        const context = `${JSON.stringify(headers)} ${text.slice(0, 200)} → ${answer?.status} ${answer?.text.slice(0, 200)}`;
        f.note(answer?.status ?? 'closed');
        if (!answer) {
          assert.ok(short, `${context}: no answer`);
          return;
        }
        if (answer.status === 200) {
          assert.match(type, /^application\/json\s*(;|$)/i, `${context}: accepted`);
          return;
        }
        const code = f.catalogError(answer, context);
        if (['both', 'bad chunk', 'length text'].includes(frame.kind)) assert.equal(code, 'BAD_REQUEST', context);
      }),
    );
  });
});
