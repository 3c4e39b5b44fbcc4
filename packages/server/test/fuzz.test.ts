// Properties of bad input: any query string, any JSON-ish publish body gets a proper answer or a catalog error, never a 5xx.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { send } from './support/bad-input-send.js';
import {
  assertCatalogError,
  assertHealthy,
  assertPollAnswer,
  assertPublishAnswer,
  badInputSuite,
  emoji,
  get,
  nestedArrays,
  publish,
  sid,
} from './support/bad-input-table.js';
import { joinQuery } from './support/fuzz-arbitraries.js';

badInputSuite((base) => {
  describe('#properties', () => {
    const piece = fc.oneof(
      fc.constantFrom('%', '&', '=', '+', '?', '#', ',', ':', ';', '%ZZ', '%E0%A4%A', '%00', '%2C', '%26', '%3D', 'topic:', 'user:', emoji),
      fc.string({ unit: 'grapheme', maxLength: 6 }),
      fc.string({ unit: 'binary', maxLength: 4 }),
    );
    const text = fc.array(piece, { maxLength: 5 }).map((pieces) => pieces.join(''));
    const key = fc.oneof(
      { arbitrary: fc.constantFrom('sid', 'comeFrom', 'cursor', 'ch', 'hold', '__proto__', 'constructor', 'sid[]', 'ch[]'), weight: 3 },
      { arbitrary: text, weight: 1 },
    );
    /** Cursors that pass the prefix check and carry random JSON, some of it shaped like real positions. */
    const field = fc.oneof(fc.constantFrom('0', '1', '-1', '1e999', 'NaN', '9'.repeat(20)), fc.string({ maxLength: 70 }));
    const cursorJson = fc.oneof(
      fc.tuple(fc.array(field, { maxLength: 3 }), fc.array(fc.tuple(field, fc.oneof(fc.integer({ min: -1, max: 3 }), fc.double()), field))),
      fc.jsonValue({ maxDepth: 3 }),
    );
    const cursor = cursorJson.map((json) => `v1.${Buffer.from(JSON.stringify(json) ?? 'null').toString('base64url')}`);
    const value = fc.oneof(
      { arbitrary: fc.constantFrom(sid, 'topic:news', 'user:42', 'topic:news,user:42', '0', '-1', '1e3', 'v1.W10', 'v2.x', ''), weight: 2 },
      { arbitrary: cursor, weight: 1 },
      { arbitrary: text, weight: 3 },
    );

    it('answers any query string with a poll answer or a catalog error, never a 5xx', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(fc.tuple(key, value, fc.boolean()), { maxLength: 8 }), async (pairs) => {
          const query = joinQuery(pairs);
          const answer = await send(base(), get(`/pns/poll?${query}`));
          const context = `GET /pns/poll?${query} → ${answer.status} ${answer.text.slice(0, 200)}`;
          assert.ok(answer.status < 500, context);
          if (answer.status === 200) assertPollAnswer(answer, context);
          else assertCatalogError(answer, context);
        }),
        { numRuns: 200, interruptAfterTimeLimit: 60_000, markInterruptAsFailure: true },
      );
      await assertHealthy(base());
    });

    it('answers any JSON-ish publish body with ids or a catalog error, never a 5xx', async () => {
      const channel = fc.oneof(
        { arbitrary: fc.constantFrom('user:42', 'topic:news', 'user:prop'), weight: 4 },
        { arbitrary: fc.constantFrom('user:', 'topic:a b', 'foo', '', 'user:42,topic:news'), weight: 1 },
        { arbitrary: text, weight: 1 },
      );
      const message = fc.record(
        {
          to: fc.oneof(
            { arbitrary: channel, weight: 4 },
            { arbitrary: fc.array(channel, { maxLength: 4 }), weight: 2 },
            { arbitrary: fc.jsonValue({ maxDepth: 2 }), weight: 1 },
          ),
          type: fc.oneof(fc.integer(), fc.double(), fc.string({ maxLength: 70 }), fc.jsonValue({ maxDepth: 2 })),
          data: fc.jsonValue({ maxDepth: 5 }),
          ttl: fc.oneof(fc.integer({ min: -5, max: 4000 }), fc.double(), fc.jsonValue({ maxDepth: 1 })),
          id: fc.oneof(fc.uuid(), text, fc.jsonValue({ maxDepth: 1 })),
          extra: fc.jsonValue({ maxDepth: 2 }),
        },
        { requiredKeys: ['to', 'type'] },
      );
      const body = fc.oneof(
        { arbitrary: message.map((m) => JSON.stringify(m)), weight: 4 },
        { arbitrary: fc.array(message, { maxLength: 4 }).map((batch) => JSON.stringify(batch)), weight: 2 },
        { arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)), weight: 1 },
        { arbitrary: fc.json({ maxDepth: 3 }).map((json) => json.slice(0, Math.max(1, json.length - 1))), weight: 1 },
        { arbitrary: text, weight: 1 },
        {
          arbitrary: fc.constantFrom(
            '{"to":"user:42","type":1,"data":{"__proto__":{"x":1}}}',
            '{"to":"user:42","type":1,"data":{"constructor":{"prototype":{"x":1}}}}',
            '{"to":"user:42","type":1e999}',
            `{"to":"user:42","type":1,"data":${nestedArrays(5000)}}`,
          ),
          weight: 1,
        },
      );
      const contentType = fc.constantFrom(
        'application/json',
        'application/json; charset=utf-8',
        'APPLICATION/JSON',
        'text/plain',
        undefined,
      );
      await fc.assert(
        fc.asyncProperty(body, contentType, async (text, type) => {
          const answer = await send(base(), publish(text, { 'content-type': type }));
          const context = `POST /pns/publish (${type}) ${text.slice(0, 200)} → ${answer.status} ${answer.text.slice(0, 200)}`;
          assert.ok(answer.status < 500, context);
          if (answer.status === 200) assertPublishAnswer(answer, context);
          else assertCatalogError(answer, context);
        }),
        { numRuns: 200, interruptAfterTimeLimit: 60_000, markInterruptAsFailure: true },
      );
      await assertHealthy(base());
    });
  });
});
