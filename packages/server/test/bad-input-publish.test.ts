// Bad input to POST /pns/publish: each row of the publish table gets a catalog error and leaves the server healthy,
// and a batch refused for one member leaves nothing of itself behind.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { publishRows } from './support/bad-input-rows-publish.js';
import { send } from './support/bad-input-send.js';
import { assertCatalogError, badInputSuite, jwt, poll, publish, rowSuite, validClaims } from './support/bad-input-table.js';

badInputSuite((base) => {
  rowSuite('#POST /pns/publish', publishRows, base);

  describe('#batch atomicity', () => {
    it('stores nothing of a batch refused for one bad member', async () => {
      const user = 'batch-user';
      const batchSid = jwt({ ...validClaims, sub: user });
      const start = await send(base(), poll(`sid=${batchSid}&hold=0&comeFrom=atomicity`));
      assert.equal(start.status, 200);
      const cursor = (JSON.parse(start.text) as { cursor: string }).cursor;

      const refused = await send(
        base(),
        publish([
          { to: `user:${user}`, type: 1, data: 'first', id: 'atomic-first' },
          { to: `user:${user}`, type: 1, data: 'bad', ttl: -1 },
          { to: `user:${user}`, type: 1, data: 'last', id: 'atomic-last' },
        ]),
      );
      assert.equal(refused.status, 400);
      assert.equal(assertCatalogError(refused, 'refused batch').errorCode, 'BAD_REQUEST');

      // A later message shows the reading position works, and that it is all there is.
      assert.equal((await send(base(), publish({ to: `user:${user}`, type: 1, data: 'sentinel' }))).status, 200);
      const read = await send(base(), poll(`sid=${batchSid}&hold=0&cursor=${cursor}`));
      assert.equal(read.status, 200);
      assert.deepEqual(
        (JSON.parse(read.text) as { msg: { data: unknown }[] }).msg.map((message) => message.data),
        ['sentinel'],
      );
      // Nor was any id of the refused batch recorded: reusing one for other content is not a conflict.
      const reuse = await send(base(), publish({ to: `user:${user}`, type: 2, data: 'other', id: 'atomic-first' }));
      assert.equal(reuse.status, 200);
      assert.deepEqual(JSON.parse(reuse.text), { ids: ['atomic-first'] });
    });
  });
});
