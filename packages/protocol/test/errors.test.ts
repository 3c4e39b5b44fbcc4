import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ErrorCode, errorCatalog, errorCodes, isErrorCode, PnsError } from '../src/errors.js';

describe('errors', { timeout: 60_000 }, () => {
  describe('errorCatalog', () => {
    it('gives every code a 4xx or 5xx status and a message', () => {
      assert.ok(errorCodes.length > 0);
      for (const code of errorCodes) {
        const { status, message } = errorCatalog[code];
        assert.ok(Number.isInteger(status) && status >= 400 && status <= 599, `${code}: ${status}`);
        assert.ok(message.length > 0, code);
      }
    });

    it('lists every catalog key in errorCodes, once', () => {
      assert.deepEqual([...errorCodes].sort(), Object.keys(errorCatalog).sort());
      assert.equal(new Set(errorCodes).size, errorCodes.length);
    });

    it('maps the codes clients rely on to their statuses', () => {
      const expected: Partial<Record<ErrorCode, number>> = {
        BAD_REQUEST: 400,
        SESSION_INVALID: 401,
        SESSION_EXPIRED: 401,
        CHANNEL_FORBIDDEN: 403,
        ID_CONFLICT: 409,
        PAYLOAD_TOO_LARGE: 413,
        INTERNAL_ERROR: 500,
        BACKEND_UNAVAILABLE: 503,
        OVERLOADED: 503,
        SHUTTING_DOWN: 503,
      };
      for (const [code, status] of Object.entries(expected)) assert.equal(errorCatalog[code as ErrorCode].status, status, code);
    });
  });

  describe('#isErrorCode', () => {
    it('accepts every catalog code', () => {
      for (const code of errorCodes) assert.equal(isErrorCode(code), true, code);
    });

    it('rejects other values, inherited property names included', () => {
      for (const value of ['', 'bad_request', 'NOPE', 'toString', 'constructor', '__proto__', 'hasOwnProperty', 400, null, undefined, {}]) {
        assert.equal(isErrorCode(value), false, String(value));
      }
    });
  });

  describe('PnsError', () => {
    it('carries the code, the catalog status and no retryAfter by default', () => {
      for (const code of errorCodes) {
        const error = new PnsError(code);
        assert.ok(error instanceof Error);
        assert.equal(error.name, 'PnsError');
        assert.equal(error.code, code);
        assert.equal(error.status, errorCatalog[code].status);
        assert.equal(error.retryAfter, undefined);
        assert.equal(error.message, errorCatalog[code].message);
        assert.equal(error.cause, undefined);
      }
    });

    it('carries retryAfter and cause when given', () => {
      const cause = new Error('connection refused');
      const error = new PnsError('BACKEND_UNAVAILABLE', 'store down', { retryAfter: 2, cause });
      assert.equal(error.code, 'BACKEND_UNAVAILABLE');
      assert.equal(error.status, 503);
      assert.equal(error.retryAfter, 2);
      assert.equal(error.cause, cause);
      assert.equal(error.message, 'store down');
    });

    describe('#toBody', () => {
      it('gives the errorCode and message', () => {
        const error = new PnsError('ID_CONFLICT', 'taken');
        assert.deepEqual(error.toBody(), { errorCode: 'ID_CONFLICT', message: 'taken' });
        assert.deepEqual(new PnsError('NOT_FOUND').toBody(), { errorCode: 'NOT_FOUND', message: errorCatalog.NOT_FOUND.message });
      });

      it('serializes to JSON with exactly errorCode and message', () => {
        const body: unknown = JSON.parse(JSON.stringify(new PnsError('OVERLOADED', 'busy', { retryAfter: 1 }).toBody()));
        assert.deepEqual(body, { errorCode: 'OVERLOADED', message: 'busy' });
      });
    });
  });
});
