import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  channelKey,
  type DecodedCursor,
  decodeCursor,
  encodeCursor,
  idKey,
  maxCursorChannels,
  maxCursorLength,
  maxCursorRecent,
  type StreamPosition,
} from '../src/cursor.js';

const channelNameChars = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.@|+=~:-'];
const printableAscii = fc.integer({ min: 0x21, max: 0x7e }).map((code) => String.fromCharCode(code));

/** A valid channel (`user:` or `topic:` plus a valid name), short enough that a few fit in one cursor. */
const channelArb = fc
  .tuple(fc.constantFrom('user', 'topic'), fc.string({ unit: fc.constantFrom(...channelNameChars), minLength: 1, maxLength: 40 }))
  .map(([kind, name]) => `${kind}:${name}`);
/** A valid epoch or offset: 1 to 20 printable ASCII characters (JSON-escaped ones included). */
const fieldArb = fc.string({ unit: printableAscii, minLength: 1, maxLength: 20 });
const positionsArb = fc
  .uniqueArray(fc.tuple(channelArb, fieldArb, fieldArb), { selector: ([channel]) => channel, maxLength: 8 })
  .map((entries) => new Map<string, StreamPosition>(entries.map(([channel, epoch, offset]) => [channel, { epoch, offset }])));

/** A `v1.` cursor around any JSON text. */
const v1 = (json: string): string => `v1.${Buffer.from(json, 'utf8').toString('base64url')}`;

/** Positions by channel name, as a decoded cursor holds them: by channel key. */
const byKey = (positions: Map<string, StreamPosition>): [string, StreamPosition][] =>
  [...positions].map(([channel, position]) => [channelKey(channel), position]);

function positionsOf(decoded: DecodedCursor): [string, StreamPosition][] {
  assert.equal(decoded.kind, 'positions');
  return decoded.kind === 'positions' ? [...decoded.positions] : [];
}

describe('cursor', { timeout: 60_000 }, () => {
  describe('#encodeCursor', () => {
    it('round-trips any valid positions through decodeCursor, in order', () => {
      fc.assert(
        fc.property(positionsArb, (positions) => {
          const cursor = encodeCursor(positions);
          assert.match(cursor, /^v1\.[A-Za-z0-9_-]*$/);
          assert.ok(cursor.length <= maxCursorLength);
          assert.deepEqual(positionsOf(decodeCursor(cursor)), byKey(positions));
        }),
        { numRuns: 300 },
      );
    });

    it('round-trips the keys of recently delivered ids, keeping the last maxCursorRecent', () => {
      const positions = new Map([['user:42', { epoch: 'r1', offset: '1795665451094-999' }]]);
      const keys = Array.from({ length: maxCursorRecent + 3 }, (_, i) => idKey(`message-${i}`));
      const decoded = decodeCursor(encodeCursor(positions, keys));
      assert.equal(decoded.kind, 'positions');
      assert.deepEqual(decoded.kind === 'positions' && decoded.recent, keys.slice(3));
      const plain = decodeCursor(encodeCursor(positions));
      assert.deepEqual(plain.kind === 'positions' && plain.recent, []);
    });

    it('gives a cursor within maxCursorLength for maxCursorChannels Redis positions and maxCursorRecent keys', () => {
      const positions = new Map<string, StreamPosition>();
      for (let i = 0; i < maxCursorChannels; i++) positions.set(`topic:${i}`, { epoch: 'rAbCdEfGh', offset: '1795665451094-999' });
      const keys = Array.from({ length: maxCursorRecent }, (_, i) => idKey(`a-long-message-id-${i}`));
      const cursor = encodeCursor(positions, keys);
      assert.ok(cursor.length <= maxCursorLength, `${cursor.length} characters`);
      assert.equal(decodeCursor(cursor).kind, 'positions');
    });

    it('round-trips no positions at all', () => {
      assert.deepEqual(positionsOf(decodeCursor(encodeCursor(new Map()))), []);
    });

    it('round-trips a typical cursor', () => {
      const positions = new Map([
        ['user:42', { epoch: 'mAbC_12-xy', offset: '1234' }],
        ['topic:news', { epoch: 'mAbC_12-xy', offset: '0' }],
      ]);
      assert.deepEqual(positionsOf(decodeCursor(encodeCursor(positions))), byKey(positions));
    });

    it('gives a cursor decodeCursor accepts for maxCursorChannels channels of the longest valid names', () => {
      const positions = new Map<string, StreamPosition>();
      for (let i = 0; i < maxCursorChannels; i++) {
        positions.set(`topic:${String(i).padStart(2, '0')}${'n'.repeat(126)}`, { epoch: 'mAbCdEfGh', offset: '1234567890' });
      }
      assert.deepEqual(positionsOf(decodeCursor(encodeCursor(positions))), byKey(positions));
    });
  });

  describe('#channelKey', () => {
    it('is stable, short and lowercase base 36', () => {
      assert.equal(channelKey('user:42'), channelKey('user:42'));
      assert.match(channelKey(`topic:${'x'.repeat(128)}`), /^[0-9a-z]{1,11}$/);
    });

    it('differs between channels (no collision among 100 000 names)', () => {
      const keys = new Set<string>();
      for (let i = 0; i < 100_000; i++) keys.add(channelKey(`user:${i}`));
      assert.equal(keys.size, 100_000);
    });
  });

  describe('#decodeCursor', () => {
    it('accepts insignificant JSON whitespace', () => {
      assert.deepEqual(positionsOf(decodeCursor(v1(' [ ["e"] , [ ["k1" , 0, "7"] ] ] '))), [['k1', { epoch: 'e', offset: '7' }]]);
    });

    it("answers 'malformed' for text no version could have produced", () => {
      for (const cursor of ['', 'garbage', 'v1', 'V1.W10', '1.W10', 'v1.W10=', 'v1.a b', 'v1.a+b/c', 'v12345.W10', 'v.W10']) {
        assert.deepEqual(decodeCursor(cursor), { kind: 'malformed' }, cursor);
      }
    });

    it("answers 'malformed' for a v1 body that is not base64url", () => {
      assert.deepEqual(decodeCursor('v1.A'), { kind: 'malformed' });
      assert.deepEqual(decodeCursor('v1.AAAAA'), { kind: 'malformed' });
    });

    it("answers 'malformed' for a v1 body that is not JSON", () => {
      assert.deepEqual(decodeCursor('v1.'), { kind: 'malformed' });
      assert.deepEqual(decodeCursor(v1('[["e"],[["k","0","1"]]')), { kind: 'malformed' });
      assert.deepEqual(decodeCursor(v1('not json')), { kind: 'malformed' });
    });

    it("answers 'malformed' for JSON that is not [[epochs], [[key, epoch index, offset]]]", () => {
      const bodies = [
        '{"k":["e","1"]}',
        '"k"',
        '42',
        'null',
        '[null]',
        '[["e"]]',
        '[["e"],[["k",0,"1"]],[]]',
        '[["e"],["k",0,"1"]]',
        '[["e"],[["k",0]]]',
        '[["e"],[["k",0,"1","extra"]]]',
        '[["e"],[{"0":"k","1":0,"2":"1"}]]',
        '[["e"],[["k",0,1]]]',
        '[["e"],[["k","0","1"]]]',
        '[["e"],[["k",1,"1"]]]',
        '[["e"],[["k",-1,"1"]]]',
        '[["e"],[["k",0.5,"1"]]]',
        '[[1],[["k",0,"1"]]]',
        '[["e"],[[1,0,"1"]]]',
        '[["e"],[["k",0,"1"]],"k"]',
        '[["e"],[["k",0,"1"]],[1]]',
        '[["e"],[["k",0,"1"]],["K"]]',
        `[["e"],[["k",0,"1"]],${JSON.stringify(Array.from({ length: 33 }, (_, i) => `k${i}`))}]`,
        '[["e"],[["k",0,"1"]],["a"],[]]',
      ];
      for (const body of bodies) assert.deepEqual(decodeCursor(v1(body)), { kind: 'malformed' }, body);
    });

    it("answers 'malformed' for a channel key given twice", () => {
      assert.deepEqual(decodeCursor(v1('[["e"],[["k",0,"1"],["k",0,"2"]]]')), { kind: 'malformed' });
    });

    it("answers 'malformed' for an invalid channel key", () => {
      for (const key of ['', 'K', 'a b', 'x'.repeat(12), 'user:1', 'é']) {
        assert.deepEqual(decodeCursor(v1(JSON.stringify([['e'], [[key, 0, '1']]]))), { kind: 'malformed' }, key);
      }
    });

    it("answers 'malformed' for an invalid epoch or offset", () => {
      for (const field of ['', 'a b', 'x'.repeat(65), 'tab\there', 'é']) {
        assert.deepEqual(decodeCursor(v1(JSON.stringify([[field], [['k', 0, '1']]]))), { kind: 'malformed' }, `epoch ${field}`);
        assert.deepEqual(decodeCursor(v1(JSON.stringify([['e'], [['k', 0, field]]]))), { kind: 'malformed' }, `offset ${field}`);
      }
      assert.equal(decodeCursor(v1(JSON.stringify([['x'.repeat(64)], [['k', 0, 'y'.repeat(64)]]]))).kind, 'positions');
    });

    it("answers 'malformed' for more than maxCursorChannels channels", () => {
      const entries = (count: number): string =>
        JSON.stringify([['e'], Array.from({ length: count }, (_, index) => [`k${index}`, 0, '1'])]);
      assert.equal(decodeCursor(v1(entries(maxCursorChannels))).kind, 'positions');
      assert.deepEqual(decodeCursor(v1(entries(maxCursorChannels + 1))), { kind: 'malformed' });
    });

    it("answers 'malformed' for a cursor longer than maxCursorLength", () => {
      const body = '[["e"],[["k",0,"1"]]]';
      // base64 turns 3 bytes into 4 characters: pad the JSON to the most bytes that still fit.
      const fits = v1(' '.repeat(Math.floor(((maxCursorLength - 'v1.'.length) * 3) / 4) - body.length) + body);
      assert.ok(fits.length <= maxCursorLength);
      assert.equal(decodeCursor(fits).kind, 'positions');
      const tooLong = v1(' '.repeat(maxCursorLength) + body);
      assert.ok(tooLong.length > maxCursorLength);
      assert.deepEqual(decodeCursor(tooLong), { kind: 'malformed' });
      assert.deepEqual(decodeCursor(`v2.${'A'.repeat(maxCursorLength)}`), { kind: 'malformed' });
    });

    it("answers 'unknown-version' for a well-formed cursor of another version", () => {
      for (const cursor of ['v2.xxx', 'v2.', 'v0.W10', 'v10.abc_-', 'v9999.W10']) {
        assert.deepEqual(decodeCursor(cursor), { kind: 'unknown-version' }, cursor);
      }
    });

    it('never throws, whatever the input', () => {
      const base64urlChar = fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_');
      const input = fc.oneof(
        fc.string({ maxLength: 200 }),
        fc.string({ unit: base64urlChar, maxLength: 200 }).map((body) => `v1.${body}`),
        fc.jsonValue().map((value) => v1(JSON.stringify(value))),
      );
      fc.assert(
        fc.property(input, (cursor) => {
          const decoded = decodeCursor(cursor);
          assert.ok(['positions', 'unknown-version', 'malformed'].includes(decoded.kind));
          if (cursor.startsWith('v1.')) assert.notEqual(decoded.kind, 'unknown-version');
        }),
        { numRuns: 500 },
      );
    });
  });
});
