// Arbitraries shared by the fuzz suites: junk text, query strings, mutations of real cursors, hostile JSON text,
// request headers and WebSocket frames. Each hostile input carries what pns must answer to it, where that is known.
// Session tokens have their own module, fuzz-tokens.ts.
import fc from 'fast-check';
import { emoji } from './bad-input-table.js';

/** JSON as base64url, as a cursor or a token carries it. */
export const part = (value: unknown): string => Buffer.from(JSON.stringify(value) ?? 'null').toString('base64url');

// ---------------------------------------------------------------------------
// Text.

const piece = fc.oneof(
  fc.constantFrom(
    '%',
    '&',
    '=',
    '+',
    '?',
    '#',
    ',',
    ':',
    ';',
    '.',
    '%ZZ',
    '%E0%A4%A',
    '%00',
    '%2C',
    '%26',
    '%3D',
    'topic:',
    'user:',
    emoji,
  ),
  fc.string({ unit: 'grapheme', maxLength: 6 }),
  fc.string({ unit: 'binary', maxLength: 4 }),
);
/** Short text with the characters that mean something in URLs, queries, channels and JSON. */
export const junkText = fc.array(piece, { maxLength: 5 }).map((pieces) => pieces.join(''));

/** Printable ASCII goes as is (so `%`, `&`, `=` keep their meaning); anything else is percent-encoded UTF-8. */
export function loosely(input: string): string {
  let out = '';
  for (const char of input) {
    const code = char.codePointAt(0) as number;
    if (code > 0x20 && code < 0x7f) out += char;
    else for (const byte of Buffer.from(char, 'utf8')) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/**
 * Query strings of a subscription (poll, SSE, WebSocket): the known keys and junk ones, values that mean
 * something (`known`: a good sid, real cursors, channels) and junk, loosely percent-encoded, in any order.
 */
export function queryString(known: readonly string[]): fc.Arbitrary<string> {
  const key = fc.oneof(
    { arbitrary: fc.constantFrom('sid', 'comeFrom', 'cursor', 'ch', 'hold', '__proto__', 'constructor', 'sid[]', 'ch[]', '_'), weight: 3 },
    { arbitrary: junkText, weight: 1 },
  );
  const value = fc.oneof(
    { arbitrary: fc.constantFrom(...known, 'topic:news', 'user:other', 'topic:news,topic:ops', '0', '-1', '1', '1e3', ''), weight: 3 },
    { arbitrary: junkText, weight: 3 },
  );
  return fc.array(fc.tuple(key, value, fc.boolean()), { maxLength: 8 }).map(joinQuery);
}

/** Pairs joined loosely encoded, `key=value` or, when `withEquals` is false and the value empty, a bare `key`. */
export function joinQuery(pairs: readonly (readonly [key: string, value: string, withEquals: boolean])[]): string {
  return pairs.map(([k, v, withEquals]) => (withEquals || v !== '' ? `${loosely(k)}=${loosely(v)}` : loosely(k))).join('&');
}

/** Valid channel names (docs/protocol.md section 2), never one of the isolation users (`iso.*`, see fuzz-suite.ts). */
export const channelName = fc.stringMatching(/^[A-Za-z0-9_.@|+=~:-]{1,24}$/).filter((name) => !name.startsWith('iso.'));

// ---------------------------------------------------------------------------
// Cursors: mutations of a real cursor, applied once the property has one.

export type CursorMutation =
  | { op: 'replace'; at: number; with: string }
  | { op: 'cut'; at: number }
  | { op: 'insert'; at: number; text: string }
  | { op: 'prefix'; prefix: string }
  | { op: 'json'; path: number[]; value: unknown }
  | { op: 'grow'; times: number };

const base64UrlChar = fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.split(''));
const cursorValue = fc.oneof(
  fc.constantFrom(0, -1, 1.5, 1e308, '0', '-1', '', 'x'.repeat(65), '99999999999999999', '1e3', '-', null, true, [], {}, ' ', 'm-'),
  fc.jsonValue({ maxDepth: 2 }),
  fc.string({ maxLength: 70 }),
);

export const cursorMutation: fc.Arbitrary<CursorMutation> = fc.oneof(
  fc.record({ op: fc.constant('replace' as const), at: fc.nat(), with: fc.oneof(base64UrlChar, fc.string({ maxLength: 2 })) }),
  fc.record({ op: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), text: fc.oneof(base64UrlChar, junkText) }),
  fc.record({ op: fc.constant('prefix' as const), prefix: fc.constantFrom('', 'v2.', 'v01.', 'V1.', 'v1', 'v99999.', 'v1..', 'v0.') }),
  fc.record({ op: fc.constant('json' as const), path: fc.array(fc.nat({ max: 70 }), { minLength: 1, maxLength: 3 }), value: cursorValue }),
  fc.record({ op: fc.constant('grow' as const), times: fc.integer({ min: 2, max: 80 }) }),
);

/** Sets `path` (indexes, taken modulo each array's length, one past the end appends) in a decoded cursor to `value`. */
function setAt(json: unknown, path: number[], value: unknown): unknown {
  const [head, ...rest] = path;
  if (head === undefined || !Array.isArray(json)) return value;
  const copy = [...json];
  const index = head % (copy.length + 1);
  copy[index] = rest.length === 0 ? value : setAt(copy[index], rest, value);
  return copy;
}

export function mutateCursor(cursor: string, mutation: CursorMutation): string {
  const at = (n: number): number => n % (cursor.length + 1);
  switch (mutation.op) {
    case 'replace':
      return cursor.slice(0, at(mutation.at)) + mutation.with + cursor.slice(at(mutation.at) + 1);
    case 'cut':
      return cursor.slice(0, at(mutation.at));
    case 'insert':
      return cursor.slice(0, at(mutation.at)) + mutation.text + cursor.slice(at(mutation.at));
    case 'prefix':
      return mutation.prefix + cursor.slice(3);
    case 'json': {
      const json = JSON.parse(Buffer.from(cursor.slice(3), 'base64url').toString('utf8')) as unknown;
      return `v1.${part(setAt(json, mutation.path, mutation.value))}`;
    }
    case 'grow': {
      // The same entry many times over: duplicates, and past the 64 channels a cursor may hold.
      const [epochs, entries] = JSON.parse(Buffer.from(cursor.slice(3), 'base64url').toString('utf8')) as [unknown, unknown[]];
      return `v1.${part([epochs, Array.from({ length: mutation.times }, () => entries).flat()])}`;
    }
  }
}

// ---------------------------------------------------------------------------
// JSON text: numbers JavaScript cannot hold, duplicate keys, prototype keys at any depth, deep nesting.

export const protoKeys = ['__proto__', '\\u005f_proto__', 'constructor', 'prototype'] as const;
const jsonKey = fc.oneof(
  { arbitrary: fc.constantFrom(...protoKeys, 'to', 'type', 'data', 'ttl', 'id', 'toString', 'valueOf', 'hasOwnProperty', ''), weight: 2 },
  { arbitrary: fc.string({ maxLength: 6 }).map((key) => JSON.stringify(key).slice(1, -1)), weight: 1 },
);
const hugeNumbers = [
  '1e400',
  '-1e400',
  '123456789012345678901234567890',
  '1e-400',
  '-0',
  '1E+2',
  '9007199254740993',
  `1${'0'.repeat(400)}`,
];
const jsonScalar = fc.oneof(
  fc.constantFrom(...hugeNumbers, 'null', 'true', 'false', '""', '"\\ud800"', '"\\u0000"', '"user:42"', '0', '70'),
  fc.jsonValue({ maxDepth: 0 }).map((value) => JSON.stringify(value)),
);
const deepText = fc
  .tuple(fc.oneof(fc.integer({ min: 60, max: 70 }), fc.integer({ min: 1000, max: 5000 })), fc.boolean())
  .map(([depth, arrays]) => (arrays ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)));

/** JSON text (not always valid JSON, on purpose only where `junk` is mixed in by the caller). */
export const jsonText: fc.Arbitrary<string> = fc.letrec<{ value: string; array: string; object: string }>((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, jsonScalar, tie('array'), tie('object'), deepText),
  array: fc.array(tie('value'), { maxLength: 4 }).map((items) => `[${items.join(',')}]`),
  object: fc
    .array(fc.tuple(jsonKey, tie('value')), { maxLength: 4 })
    .map((pairs) => `{${pairs.map(([key, value]) => `"${key}":${value}`).join(',')}}`),
})).value;

// ---------------------------------------------------------------------------
// Publish bodies: messages with every field right, wrong, missing or doubled, batches at and over the limits.

const recipient = fc.oneof(
  { arbitrary: channelName.map((name) => `user:fz.${name}`), weight: 4 },
  { arbitrary: channelName.map((name) => `topic:${name}`), weight: 1 },
  { arbitrary: fc.constantFrom('user:', 'topic:a b', 'foo', '', 'USER:x', 'user:iso'), weight: 1 },
);
const recipients = fc.oneof(
  recipient.map((c) => JSON.stringify(c)),
  fc.array(recipient, { maxLength: 4 }).map((list) => JSON.stringify(list)),
  fc.integer({ min: 99, max: 101 }).map((n) => JSON.stringify(Array.from({ length: n }, (_, i) => `user:fz.r${i}`))),
  jsonText,
);
const member = (key: string, value: fc.Arbitrary<string>) => value.map((text) => `"${key}":${text}`);
/** `arbitrary` one time in six, else undefined (fc.option's `freq` counts the other way: the odds of undefined). */
export const rarely = <T>(arbitrary: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> =>
  fc.oneof({ arbitrary: fc.constant(undefined), weight: 5 }, { arbitrary, weight: 1 });
/** One message's JSON text: `to` and `type` are there seven times in eight, the rest now and then. */
export const publishMessage = fc
  .tuple(
    fc.option(member('to', recipients), { freq: 8, nil: undefined }),
    fc.option(member('type', fc.oneof(fc.constantFrom('70', '"mail"', '1.5', '""', `"${'t'.repeat(65)}"`), jsonText)), {
      freq: 8,
      nil: undefined,
    }),
    fc.option(member('data', jsonText), { nil: undefined }),
    fc.option(member('ttl', fc.oneof(fc.constantFrom('1', '600', '3600', '3601', '0', '-1', '1.5', ...hugeNumbers), jsonText)), {
      nil: undefined,
    }),
    fc.option(
      member(
        'id',
        fc.oneof(
          fc.uuid().map((id) => `"${id}"`),
          jsonText,
        ),
      ),
      { nil: undefined },
    ),
    fc.array(fc.tuple(fc.constantFrom(...protoKeys, 'to', 'priority', 'TO', ''), jsonText), { maxLength: 2 }),
  )
  .map(([to, type, data, ttl, id, extra]) => {
    const members = [to, type, data, ttl, id, ...extra.map(([key, value]) => `"${key}":${value}`)];
    return `{${members.filter((m) => m !== undefined).join(',')}}`;
  });
const tiny = '{"to":"user:fz.batch","type":1}';
/** A publish body's text: a message, a batch, a batch of 998 to 1001, about 64 KiB, any JSON, or cut short. */
export const publishBody = fc.oneof(
  { arbitrary: publishMessage, weight: 5 },
  { arbitrary: fc.array(publishMessage, { maxLength: 4 }).map((list) => `[${list.join(',')}]`), weight: 2 },
  { arbitrary: fc.integer({ min: 998, max: 1001 }).map((n) => `[${Array(n).fill(tiny).join(',')}]`), weight: 1 },
  {
    arbitrary: fc.integer({ min: 65_400, max: 65_600 }).map((n) => `{"to":"user:fz.big","type":1,"data":"${'d'.repeat(n - 45)}"}`),
    weight: 1,
  },
  { arbitrary: jsonText, weight: 1 },
  { arbitrary: publishMessage.map((text) => text.slice(0, Math.max(1, text.length - 2))), weight: 1 },
);

// ---------------------------------------------------------------------------
// Request headers, each with what it may do to a request that is otherwise good.

/** `none`: the answer must be the same as without it; `breaks`: a catalog error; `maybe`: either. */
export type HeaderEffect = 'none' | 'breaks' | 'maybe';
export type HeaderPair = readonly [name: string, value: string];
export interface HeaderCase {
  pairs: HeaderPair[];
  effect: HeaderEffect;
}

const visible = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)), maxLength: 40 });
/** Bytes 0x80–0xff, written as latin1: HTTP calls them obs-text and lets them through. */
const obsText = fc.string({
  unit: fc.integer({ min: 0x80, max: 0xff }).map((code) => String.fromCharCode(code)),
  minLength: 1,
  maxLength: 20,
});
const headerName = fc.stringMatching(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,20}$/);
const ignoredNames = ['Accept', 'Accept-Encoding', 'Accept-Language', 'Cookie', 'User-Agent', 'Referer', 'Cache-Control', 'Pragma'];

const neutral = (pairs: HeaderPair[]): HeaderCase => ({ pairs, effect: 'none' });

const headerCase: fc.Arbitrary<HeaderCase> = fc.oneof(
  fc.tuple(headerName, fc.oneof(visible, obsText)).map(([name, value]) => neutral([[`X-${name}`, value]])),
  fc.tuple(fc.constantFrom(...ignoredNames), visible).map(([name, value]) => neutral([[name, value]])),
  fc
    .tuple(headerName, visible, fc.integer({ min: 2, max: 20 }))
    .map(([name, value, times]) => neutral(Array(times).fill([`X-${name}`, value]))),
  fc.integer({ min: 1000, max: 6000 }).map((size) => neutral([['X-Big', 'b'.repeat(size)]])),
  fc
    .oneof(fc.constantFrom('https://app.example', 'null', 'https://evil.example', '*', ''), visible)
    .map((origin) => neutral([['Origin', origin]])),
  fc
    .oneof(fc.constantFrom('1.2.3.4', '::1, 10.0.0.1', 'garbage', '', '1.2.3.4, , ,', '999.999.999.999', '[::1]:80', 'unknown'), visible)
    .map((value) => neutral([['X-Forwarded-For', value]])),
  visible.map((value) => neutral([['Forwarded', value]])),
  // What `curl --http2` sends: an offer to switch to h2c, which a server may ignore (RFC 9110 section 7.8).
  fc.constant(
    neutral([
      ['Connection', 'Upgrade, HTTP2-Settings'],
      ['Upgrade', 'h2c'],
      ['HTTP2-Settings', 'AAMAAABkAARAAAAAAAIAAAAA'],
    ]),
  ),
  visible.filter((value) => value.trim().toLowerCase() !== '100-continue').map((value) => neutral([['Expect', value]])),
  fc
    .oneof(fc.constantFrom('a b', '[::1', '', '127.0.0.1:99999', 'x'.repeat(300), 'ex ample.com:80'), visible)
    .map((host) => neutral([['Host', host]])),
  fc.constant(neutral([['Content-Length', '0']])),
  fc.constantFrom<HeaderCase>(
    { pairs: [['Bad Name', 'v']], effect: 'breaks' },
    { pairs: [['X(', 'v']], effect: 'breaks' },
    { pairs: [['Content-Length', 'abc']], effect: 'breaks' },
    {
      pairs: [
        ['Content-Length', '0'],
        ['Transfer-Encoding', 'chunked'],
      ],
      effect: 'breaks',
    },
    { pairs: [['X-Nul', 'a\0b']], effect: 'breaks' },
    { pairs: [['X-Cr', 'a\rb']], effect: 'maybe' },
    { pairs: [['X-Del', 'a\x7fb']], effect: 'maybe' },
    { pairs: [['X-Fold', 'a\r\n b']], effect: 'maybe' },
    { pairs: [['\u00dcml', 'v']], effect: 'breaks' },
  ),
);

/** Several header cases together: the worst effect wins; two Content-Lengths, even equal, may be refused (RFC 9112 6.3). */
export const headerCases = fc.array(headerCase, { minLength: 1, maxLength: 4 }).map((cases) => {
  const pairs = cases.flatMap((c) => c.pairs);
  const lengths = pairs.filter(([name]) => name === 'Content-Length').length;
  const effect: HeaderEffect = cases.some((c) => c.effect === 'breaks')
    ? 'breaks'
    : cases.some((c) => c.effect === 'maybe') || lengths > 1
      ? 'maybe'
      : 'none';
  return { pairs, effect };
});

// ---------------------------------------------------------------------------
// WebSocket frames a client may send after connecting.

const validText = fc.string({ unit: 'grapheme', maxLength: 200 }).map((text) => Buffer.from(text, 'utf8'));
/** Byte sequences that are not UTF-8: a lone 0xff, a bad continuation, an encoded surrogate, cut short, past U+10FFFF. */
export const invalidUtf8 = fc.constantFrom(
  Buffer.from([0xff]),
  Buffer.from([0xc3, 0x28]),
  Buffer.from([0xed, 0xa0, 0x80]),
  Buffer.from([0xf4, 0x90, 0x80, 0x80]),
  Buffer.from([0xe2, 0x82]),
);

/** Most frames are ones a client may send (which pns ignores); some break the protocol (which closes the connection). */
export const clientFrame = fc.record({
  fin: fc.oneof({ arbitrary: fc.constant(true), weight: 6 }, { arbitrary: fc.constant(false), weight: 1 }),
  rsv: fc.oneof({ arbitrary: fc.constant(0), weight: 20 }, { arbitrary: fc.integer({ min: 1, max: 7 }), weight: 1 }),
  opcode: fc.oneof(
    { arbitrary: fc.constantFrom(1, 2), weight: 12 },
    { arbitrary: fc.constantFrom(0, 9, 10), weight: 3 },
    { arbitrary: fc.constant(8), weight: 1 },
    { arbitrary: fc.constantFrom(3, 4, 5, 6, 7, 11, 12, 13, 14, 15), weight: 1 },
  ),
  masked: fc.oneof({ arbitrary: fc.constant(true), weight: 20 }, { arbitrary: fc.constant(false), weight: 1 }),
  payload: fc.oneof(
    { arbitrary: validText, weight: 8 },
    { arbitrary: invalidUtf8, weight: 1 },
    { arbitrary: fc.uint8Array({ maxLength: 120 }).map((bytes) => Buffer.from(bytes)), weight: 4 },
    { arbitrary: fc.integer({ min: 1000, max: 70_000 }).map((size) => Buffer.alloc(size, 0x61)), weight: 1 },
  ),
  // A frame that lies about its length, one in sixteen.
  claimedLength: fc.oneof(
    { arbitrary: fc.constant(undefined), weight: 15 },
    { arbitrary: fc.constantFrom(2n ** 63n - 1n, 2n ** 32n, 1025n, 70_000n, 3n), weight: 1 },
  ),
});
