// Fuzzing GET /pns/poll: random query strings, mutations of real cursors taken from real answers, and hostile
// headers on an otherwise good poll. Every answer is a poll answer carrying only the poll's own channels, or a
// catalog error; headers that HTTP lets a server ignore change nothing.
import assert from 'node:assert/strict';
import { before, it } from 'node:test';
import fc from 'fast-check';
import { type Answer, sendHttp } from './support/bad-input-send.js';
import { assertPollAnswer, get } from './support/bad-input-table.js';
import { cursorMutation, headerCases, mutateCursor, queryString } from './support/fuzz-arbitraries.js';
import { allowedOrigin, type Fuzz, fuzzSuite, ownChannels } from './support/fuzz-suite.js';
import { rawExchange, requestHead } from './support/fuzz-wire.js';

const user = 'fuzz.poll';
const own = ownChannels(user);

/** A 200 is a poll answer whose messages are all on the poll's own channels; anything else is a catalog error. */
function assertOwnAnswer(f: Fuzz, answer: Answer, context: string): void {
  f.note(answer.status);
  if (answer.status !== 200) {
    f.catalogError(answer, context);
    return;
  }
  assertPollAnswer(answer, context);
  for (const message of (JSON.parse(answer.text) as { msg: { ch: string }[] }).msg) {
    assert.ok(own.has(message.ch), `${context}: a message of ${message.ch}`);
  }
}

fuzzSuite('poll', (fuzz) => {
  let sid = '';
  let cursors: string[] = [];

  before(async () => {
    ({ sid, cursors } = await fuzz().realCursors(user));
  });

  it('answers any query string with a poll answer of its own channels or a catalog error', async () => {
    const f = fuzz();
    await f.run(
      'query strings',
      1000,
      fc.asyncProperty(queryString([sid, `user:${user}`, ...cursors]), fc.boolean(), async (query, withSid) => {
        // Half the queries carry the good sid first, so that what follows is judged after the token.
        const path = `/pns/poll?${withSid ? `sid=${sid}&` : ''}${query}`;
        const answer = await sendHttp(f.base, get(path));
        assertOwnAnswer(f, answer, `GET ${path} → ${answer.status} ${answer.text.slice(0, 200)}`);
      }),
    );
  });

  it('answers a mutated real cursor with a poll answer of its own channels or BAD_REQUEST', async () => {
    const f = fuzz();
    const asked = fc.constantFrom('', '&ch=topic:news', '&ch=topic:ops,topic:news', '&ch=user:fuzz.poll');
    await f.run(
      'mutated cursors',
      1000,
      fc.asyncProperty(fc.constantFrom(...cursors), cursorMutation, asked, async (cursor, mutation, ch) => {
        const mutated = mutateCursor(cursor, mutation);
        const path = `/pns/poll?sid=${sid}&hold=0${ch}&cursor=${encodeURIComponent(mutated)}`;
        const answer = await sendHttp(f.base, get(path));
        const context = `cursor ${JSON.stringify(mutated).slice(0, 300)} → ${answer.status} ${answer.text.slice(0, 200)}`;
        assert.ok(answer.status === 200 || answer.status === 400, context);
        assertOwnAnswer(f, answer, context);
      }),
    );
  });

  it('answers a good poll with hostile headers as without them, or with a catalog error when they break HTTP', async () => {
    const f = fuzz();
    await f.run(
      'hostile headers',
      600,
      fc.asyncProperty(headerCases, async ({ pairs, effect }) => {
        const host: [string, string][] = pairs.some(([name]) => name === 'Host') ? [] : [['Host', '127.0.0.1']];
        const head = requestHead(`GET /pns/poll?sid=${sid}&hold=0 HTTP/1.1`, [...host, ...pairs]);
        const { answer } = await rawExchange(f.base, Buffer.from(head, 'latin1'));
        const context = `${effect} ${JSON.stringify(pairs).slice(0, 400)} → ${answer?.status} ${answer?.text.slice(0, 200)}`;
        assert.ok(answer, `${context}: no answer`);
        if (head.length > 16 * 1024) {
          f.note(answer.status);
          assert.equal(f.catalogError(answer, context), 'HEADERS_TOO_LARGE', context);
          return;
        }
        if (effect === 'breaks') assert.notEqual(answer.status, 200, context);
        if (effect === 'none') assert.equal(answer.status, 200, context);
        assertOwnAnswer(f, answer, context);
        const origins = pairs.filter(([name]) => name === 'Origin').map(([, value]) => value);
        if (answer.status === 200 && origins.length === 1 && origins[0] === allowedOrigin) {
          assert.equal(answer.headers['access-control-allow-origin'], allowedOrigin, context);
        }
      }),
    );
  });
});
