import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PnsError } from '@pns/protocol';
import { BrokerUnavailableError } from '../src/broker/broker.js';
import { toPnsError } from '../src/http/errors.js';
import { redactUrl } from '../src/http/request-rules.js';

describe('toPnsError', { timeout: 10_000 }, () => {
  it('keeps a PnsError as it is', () => {
    const error = new PnsError('ID_CONFLICT');
    assert.equal(toPnsError(error), error);
  });

  it('maps framework errors by code and by status', () => {
    assert.equal(toPnsError({ code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 }).code, 'PAYLOAD_TOO_LARGE');
    assert.equal(toPnsError({ code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE', statusCode: 415 }).code, 'UNSUPPORTED_MEDIA_TYPE');
    assert.equal(toPnsError({ statusCode: 400, message: 'Unexpected token\nin JSON' }).message, 'Unexpected token in JSON');
  });

  it('maps an unavailable broker to BACKEND_UNAVAILABLE with Retry-After', () => {
    const error = toPnsError(new BrokerUnavailableError('down'));
    assert.equal(error.code, 'BACKEND_UNAVAILABLE');
    assert.equal(error.retryAfter, 5);
  });

  it('turns anything unexpected into INTERNAL_ERROR without its text', () => {
    const error = toPnsError(new TypeError('secret internals at /src/file.ts:12'));
    assert.equal(error.code, 'INTERNAL_ERROR');
    assert.equal(error.status, 500);
    assert.ok(!error.message.includes('internals'));
    assert.equal(toPnsError(undefined).code, 'INTERNAL_ERROR');
  });
});

describe('redactUrl', { timeout: 10_000 }, () => {
  it('removes the sid wherever it stands in the query', () => {
    assert.equal(redactUrl('/pns/poll?sid=abc.def&comeFrom=1003'), '/pns/poll?sid=[redacted]&comeFrom=1003');
    assert.equal(redactUrl('/pns/poll?hold=1&sid=abc'), '/pns/poll?hold=1&sid=[redacted]');
    assert.equal(redactUrl('/healthz'), '/healthz');
  });
});
