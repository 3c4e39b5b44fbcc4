// Bad input to HTTP itself (methods, paths, raw-socket requests), and the checks on the whole bad-input table.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { errorCodes } from '@pns/protocol';
import { rawRows, routeRows } from './support/bad-input-rows-http.js';
import { pollRows } from './support/bad-input-rows-poll.js';
import { publishRows } from './support/bad-input-rows-publish.js';
import { send } from './support/bad-input-send.js';
import { badInputSuite, coveredElsewhere, good, pollWith, publish, type Row, rowSuite } from './support/bad-input-table.js';

/** Every row of every bad-input test file (each file runs its own): a new bad-input-rows-*.ts module belongs here too. */
const rows: Row[] = [...pollRows, ...routeRows, ...publishRows, ...rawRows];

badInputSuite((base) => {
  describe('#the table', () => {
    it('has a control: the same requests, made valid, succeed', async () => {
      assert.equal((await send(base(), pollWith('ch=topic:news&comeFrom=control'))).status, 200);
      assert.equal((await send(base(), publish(good))).status, 200);
    });

    it('reaches every catalog code that no other suite covers', () => {
      const reached = new Set(rows.filter((row) => row.todo === undefined).map((row) => row.errorCode));
      const missing = errorCodes.filter((code) => !coveredElsewhere.has(code) && !reached.has(code));
      assert.deepEqual(missing, [], `catalog codes no row reaches: ${missing.join(', ')}`);
    });

    it('names each row once', () => {
      assert.equal(new Set(rows.map((row) => row.name)).size, rows.length);
    });
  });

  rowSuite('#routing', routeRows, base);
  rowSuite('#raw socket', rawRows, base);
});
