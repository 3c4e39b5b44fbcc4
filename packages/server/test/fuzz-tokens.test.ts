// Fuzzing session tokens: good ones of every accepted algorithm, ones with exactly one flaw (wrong or confused
// algorithm, alg none, bad signature, expired, nbf ahead, huge or malformed claims) and garbage, on every endpoint
// that takes one. Each must get exactly its verdict: a subscription, SESSION_INVALID or SESSION_EXPIRED.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import fc from 'fast-check';
import { sendHttp } from './support/bad-input-send.js';
import { get } from './support/bad-input-table.js';
import { type Fuzz, fuzzPublishKey, fuzzSuite } from './support/fuzz-suite.js';
import { type HostileToken, hostileToken } from './support/fuzz-tokens.js';
import { rawExchange, rawStream, requestHead, upgradeHeaders } from './support/fuzz-wire.js';

/** The own user of a token the resolver accepts (read back from its claims). */
function subjectOf(token: string): string {
  return (JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { sub: string }).sub;
}

function context(token: HostileToken, where: string): string {
  return `${token.kind} on ${where} (${token.token.length} chars): ${token.token.slice(0, 120)}…`;
}

/** A refusal must carry the token's verdict, with its status. */
function assertVerdict(fuzz: Fuzz, answer: Parameters<Fuzz['catalogError']>[0], token: HostileToken, where: string): void {
  const what = context(token, where);
  assert.notEqual(token.subscribes, 'ok', `${what}: refused with ${answer.status} ${answer.text.slice(0, 200)}`);
  assert.equal(fuzz.catalogError(answer, what), token.subscribes, `${what}: ${answer.text}`);
}

fuzzSuite('tokens', (fuzz) => {
  it('GET /pns/poll gets each token’s verdict; a good one polls its own channel only', async () => {
    const f = fuzz();
    await f.run(
      'tokens on GET /pns/poll',
      1000,
      fc.asyncProperty(hostileToken(f.keys), async (token) => {
        const answer = await sendHttp(f.base, get(`/pns/poll?sid=${encodeURIComponent(token.token)}`));
        f.note(answer.status);
        if (answer.status !== 200) return assertVerdict(f, answer, token, 'poll');
        assert.equal(token.subscribes, 'ok', `${context(token, 'poll')}: accepted`);
        const body = JSON.parse(answer.text) as { msg: { ch: string }[] };
        for (const message of body.msg) assert.equal(message.ch, `user:${subjectOf(token.token)}`);
      }),
    );
  });

  it('GET /pns/sse and /pns/ws get the same verdicts; a good token’s stream starts and stays', async () => {
    const f = fuzz();
    await f.run(
      'tokens on GET /pns/sse and /pns/ws',
      600,
      fc.asyncProperty(hostileToken(f.keys), fc.boolean(), async (token, sse) => {
        const sid = encodeURIComponent(token.token);
        if (sse) {
          const head = requestHead(`GET /pns/sse?sid=${sid} HTTP/1.1`, [
            ['Host', '127.0.0.1'],
            ['Accept', 'text/event-stream'],
          ]);
          const answer = await rawStream(f.base, head, /event: (live|end)\n/);
          f.note(`sse ${answer.status}`);
          if (answer.status !== 200) return assertVerdict(f, answer, token, 'sse');
          assert.equal(token.subscribes, 'ok', `${context(token, 'sse')}: accepted`);
          // A token good for longer than a timer can wait must not end its stream at once.
          assert.match(answer.text, /event: live\n/, `${context(token, 'sse')}: ${answer.text.slice(0, 300)}`);
          return;
        }
        const exchange = await rawExchange(f.base, requestHead(`GET /pns/ws?sid=${sid} HTTP/1.1`, upgradeHeaders()));
        assert.ok(exchange.answer, `${context(token, 'ws')}: no answer`);
        f.note(`ws ${exchange.answer.status}`);
        if (exchange.answer.status !== 101) return assertVerdict(f, exchange.answer, token, 'ws');
        assert.equal(token.subscribes, 'ok', `${context(token, 'ws')}: accepted`);
      }),
    );
  });

  it('POST /pns/revoke with a token as `sid` gets the resolver’s verdict; a revoked token is refused after', async () => {
    const f = fuzz();
    await f.run(
      'tokens on POST /pns/revoke',
      600,
      fc.asyncProperty(hostileToken(f.keys), async (token) => {
        const answer = await sendHttp(f.base, {
          kind: 'http',
          method: 'POST',
          path: '/pns/revoke',
          headers: { authorization: `Bearer ${fuzzPublishKey}`, 'content-type': 'application/json' },
          body: JSON.stringify({ sid: token.token }),
        });
        const what = context(token, 'revoke');
        f.note(answer.status);
        if (token.resolves === 'SESSION_INVALID') {
          assert.equal(f.catalogError(answer, what), 'BAD_REQUEST', what);
          return;
        }
        assert.equal(answer.status, 200, `${what}: ${answer.text}`);
        assert.deepEqual(JSON.parse(answer.text), { revoked: true });
        if (token.subscribes !== 'ok') return;
        const poll = await sendHttp(f.base, get(`/pns/poll?sid=${encodeURIComponent(token.token)}`));
        assert.equal(f.catalogError(poll, `${what}, then a poll`), 'SESSION_EXPIRED');
      }),
    );
  });
});
