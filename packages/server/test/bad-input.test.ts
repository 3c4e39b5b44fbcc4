import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type ErrorCode, errorCatalog, errorCodes, isErrorCode } from '@pns/protocol';
import fc from 'fast-check';
import { startTestServer, type TestServer, testPublishKey, testSecret } from './support/harness.js';

/** A request sent with node's HTTP client (the path goes out as given, so it may carry junk). */
interface HttpRequestSpec {
  kind: 'http';
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
  /** Send the body with chunked transfer encoding instead of a Content-Length. */
  chunked?: boolean;
}

/** Bytes written as they are to a fresh TCP connection. */
interface RawRequestSpec {
  kind: 'raw';
  data: string;
}

type RequestSpec = HttpRequestSpec | RawRequestSpec;

interface Row {
  name: string;
  request: RequestSpec;
  status: number;
  errorCode: ErrorCode;
  /** The Allow header a 405 must carry. */
  allow?: string;
  /** Set while the row fails because of a known bug in src/. */
  todo?: string;
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/** Codes other suites reach (failures, limits, shutdown, idempotency, timeouts). */
const coveredElsewhere = new Set<ErrorCode>([
  'INTERNAL_ERROR',
  'BACKEND_UNAVAILABLE',
  'OVERLOADED',
  'SHUTTING_DOWN',
  'ID_CONFLICT',
  'REQUEST_TIMEOUT',
]);

const answerTimeoutMs = 10_000;
const stackTrace = /\n\s+at\s|\bat\s+\S+\s+\(|\.[cm]?[jt]s:\d+|node_modules|file:\/\//;

// ---------------------------------------------------------------------------
// Tokens, signed here with node:crypto so any header or claim can be forged.

const nowSeconds = Math.floor(Date.now() / 1000);

function base64UrlJson(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function jwt(claims: Record<string, unknown>, options: { secret?: string; header?: Record<string, unknown> } = {}): string {
  const header = options.header ?? { alg: 'HS256', typ: 'JWT' };
  const signed = `${base64UrlJson(header)}.${base64UrlJson(claims)}`;
  const algorithm = header.alg === 'HS512' ? 'sha512' : 'sha256';
  const signature =
    header.alg === 'none'
      ? ''
      : createHmac(algorithm, options.secret ?? testSecret)
          .update(signed)
          .digest('base64url');
  return `${signed}.${signature}`;
}

const validClaims = { sub: '42', topics: ['news'], iat: nowSeconds, exp: nowSeconds + 3600 };
const sid = jwt(validClaims);

function withoutClaim(name: keyof typeof validClaims): Record<string, unknown> {
  const claims: Record<string, unknown> = { ...validClaims };
  delete claims[name];
  return claims;
}

function tampered(token: string): string {
  const [header, , signature] = token.split('.');
  return `${header}.${base64UrlJson({ ...validClaims, sub: '1' })}.${signature}`;
}

// ---------------------------------------------------------------------------
// Request builders.

function get(path: string, headers: Record<string, string> = {}): HttpRequestSpec {
  return { kind: 'http', method: 'GET', path, headers };
}

function poll(query: string): HttpRequestSpec {
  return get(`/pns/poll?${query}`);
}

/** A poll with a valid sid and no hold, plus `query`. */
function pollWith(query: string): HttpRequestSpec {
  return poll(`sid=${sid}&hold=0&${query}`);
}

function method(name: string, path: string): HttpRequestSpec {
  return { kind: 'http', method: name, path, headers: {}, ...(name === 'GET' || name === 'DELETE' ? {} : { body: '' }) };
}

const authorized = { authorization: `Bearer ${testPublishKey}`, 'content-type': 'application/json' };

/** A publish with the right key and content type; `body` is sent as is when a string, else as JSON. */
function publish(body: unknown, headers: Record<string, string | undefined> = {}): HttpRequestSpec {
  const merged: Record<string, string> = {};
  for (const [name, value] of Object.entries({ ...authorized, ...headers })) if (value !== undefined) merged[name] = value;
  return {
    kind: 'http',
    method: 'POST',
    path: '/pns/publish',
    headers: merged,
    body: typeof body === 'string' ? body : JSON.stringify(body),
  };
}

const good = { to: 'user:42', type: 70, data: { subject: 'hi' } };

function raw(data: string): RawRequestSpec {
  return { kind: 'raw', data };
}

function nestedArrays(depth: number): string {
  return '['.repeat(depth) + ']'.repeat(depth);
}

function nestedObjects(depth: number): string {
  return '{"a":'.repeat(depth) + 'null' + '}'.repeat(depth);
}

const emoji = '\u{1F600}';
const fortyChannels = Array.from({ length: 40 }, (_, i) => `topic:t${i}`);

// ---------------------------------------------------------------------------
// The table.

const pollRows: Row[] = [
  { name: 'poll without sid', request: poll('hold=0'), status: 400, errorCode: 'BAD_REQUEST' },
  { name: 'poll with no query at all', request: get('/pns/poll'), status: 400, errorCode: 'BAD_REQUEST' },
  { name: 'empty sid', request: poll('sid=&hold=0'), status: 400, errorCode: 'BAD_REQUEST' },
  { name: 'sid given twice', request: poll(`sid=${sid}&sid=${sid}&hold=0`), status: 400, errorCode: 'BAD_REQUEST' },
  { name: 'garbage sid', request: poll('sid=garbage&hold=0'), status: 401, errorCode: 'SESSION_INVALID' },
  { name: 'sid of 5000 characters', request: poll(`sid=${'a'.repeat(5000)}&hold=0`), status: 401, errorCode: 'SESSION_INVALID' },
  { name: 'sid of three empty parts', request: poll('sid=..&hold=0'), status: 401, errorCode: 'SESSION_INVALID' },
  {
    name: 'JWT signed with another secret',
    request: poll(`sid=${jwt(validClaims, { secret: 'another-secret-0123456789' })}&hold=0`),
    status: 401,
    errorCode: 'SESSION_INVALID',
  },
  {
    name: 'alg none token',
    request: poll(`sid=${jwt(validClaims, { header: { alg: 'none', typ: 'JWT' } })}&hold=0`),
    status: 401,
    errorCode: 'SESSION_INVALID',
  },
  {
    name: 'HS512 token (only HS256 is accepted)',
    request: poll(`sid=${jwt(validClaims, { header: { alg: 'HS512', typ: 'JWT' } })}&hold=0`),
    status: 401,
    errorCode: 'SESSION_INVALID',
  },
  { name: 'token with a tampered payload', request: poll(`sid=${tampered(sid)}&hold=0`), status: 401, errorCode: 'SESSION_INVALID' },
  {
    name: 'expired token',
    request: poll(`sid=${jwt({ ...validClaims, iat: nowSeconds - 7200, exp: nowSeconds - 3600 })}&hold=0`),
    status: 401,
    errorCode: 'SESSION_EXPIRED',
  },
  { name: 'token without exp', request: poll(`sid=${jwt(withoutClaim('exp'))}&hold=0`), status: 401, errorCode: 'SESSION_INVALID' },
  {
    name: 'token whose exp is a string',
    request: poll(`sid=${jwt({ ...validClaims, exp: 'tomorrow' })}&hold=0`),
    status: 401,
    errorCode: 'SESSION_INVALID',
  },
  {
    name: 'token not valid before an hour from now',
    request: poll(`sid=${jwt({ ...validClaims, nbf: nowSeconds + 3600 })}&hold=0`),
    status: 401,
    errorCode: 'SESSION_INVALID',
  },
  { name: 'token without sub', request: poll(`sid=${jwt(withoutClaim('sub'))}&hold=0`), status: 401, errorCode: 'SESSION_INVALID' },
  {
    name: 'token whose sub has a space',
    request: poll(`sid=${jwt({ ...validClaims, sub: 'a b' })}&hold=0`),
    status: 401,
    errorCode: 'SESSION_INVALID',
  },
  {
    name: 'token whose sub is empty',
    request: poll(`sid=${jwt({ ...validClaims, sub: '' })}&hold=0`),
    status: 401,
    errorCode: 'SESSION_INVALID',
  },
  {
    name: 'token whose sub is a number',
    request: poll(`sid=${jwt({ ...validClaims, sub: 42 })}&hold=0`),
    status: 401,
    errorCode: 'SESSION_INVALID',
  },
  {
    name: 'token whose sub is 129 characters',
    request: poll(`sid=${jwt({ ...validClaims, sub: 'u'.repeat(129) })}&hold=0`),
    status: 401,
    errorCode: 'SESSION_INVALID',
  },
  {
    name: 'token whose topics claim is a string',
    request: poll(`sid=${jwt({ ...validClaims, topics: 'news' })}&hold=0`),
    status: 401,
    errorCode: 'SESSION_INVALID',
  },
  { name: 'hold=abc', request: poll(`sid=${sid}&hold=abc`), status: 400, errorCode: 'BAD_REQUEST' },
  { name: 'hold= (empty)', request: poll(`sid=${sid}&hold=`), status: 400, errorCode: 'BAD_REQUEST' },
  { name: 'hold=%20 (blank)', request: poll(`sid=${sid}&hold=%20`), status: 400, errorCode: 'BAD_REQUEST' },
  { name: 'hold=Infinity', request: poll(`sid=${sid}&hold=Infinity`), status: 400, errorCode: 'BAD_REQUEST' },
  { name: 'hold=1e999', request: poll(`sid=${sid}&hold=1e999`), status: 400, errorCode: 'BAD_REQUEST' },
  { name: 'hold=NaN', request: poll(`sid=${sid}&hold=NaN`), status: 400, errorCode: 'BAD_REQUEST' },
  { name: 'hold given twice', request: poll(`sid=${sid}&hold=0&hold=0`), status: 400, errorCode: 'BAD_REQUEST' },
  { name: 'garbage cursor', request: pollWith('cursor=garbage'), status: 400, errorCode: 'BAD_REQUEST' },
  { name: 'cursor v1. with bad base64', request: pollWith('cursor=v1.a'), status: 400, errorCode: 'BAD_REQUEST' },
  { name: 'cursor v1. with base64 symbols', request: pollWith('cursor=v1.%2B%2F%3D%3D'), status: 400, errorCode: 'BAD_REQUEST' },
  {
    name: 'cursor of base64 non-JSON',
    request: pollWith(`cursor=v1.${Buffer.from('not json at all').toString('base64url')}`),
    status: 400,
    errorCode: 'BAD_REQUEST',
  },
  {
    name: 'cursor of JSON that is not positions',
    request: pollWith(`cursor=v1.${Buffer.from('{"user:42":1}').toString('base64url')}`),
    status: 400,
    errorCode: 'BAD_REQUEST',
  },
  {
    name: 'cursor of an array of the wrong shape',
    request: pollWith(`cursor=v1.${Buffer.from('[["nope","e","1"]]').toString('base64url')}`),
    status: 400,
    errorCode: 'BAD_REQUEST',
  },
  { name: 'cursor of 5000 characters', request: pollWith(`cursor=v1.${'A'.repeat(4997)}`), status: 400, errorCode: 'BAD_REQUEST' },
  { name: 'cursor given twice', request: pollWith('cursor=v1.W10&cursor=v1.W10'), status: 400, errorCode: 'BAD_REQUEST' },
  { name: 'ch=foo', request: pollWith('ch=foo'), status: 400, errorCode: 'BAD_REQUEST' },
  { name: 'ch=topic: (empty name)', request: pollWith('ch=topic:'), status: 400, errorCode: 'BAD_REQUEST' },
  { name: 'ch=group:x (unknown kind)', request: pollWith('ch=group:x'), status: 400, errorCode: 'BAD_REQUEST' },
  { name: 'ch=user:other', request: pollWith('ch=user:other'), status: 403, errorCode: 'CHANNEL_FORBIDDEN' },
  { name: 'ch=topic:notallowed', request: pollWith('ch=topic:notallowed'), status: 403, errorCode: 'CHANNEL_FORBIDDEN' },
  {
    name: 'an allowed and a forbidden channel',
    request: pollWith('ch=topic:news&ch=topic:notallowed'),
    status: 403,
    errorCode: 'CHANNEL_FORBIDDEN',
  },
  { name: '40 channels, comma-separated', request: pollWith(`ch=${fortyChannels.join(',')}`), status: 400, errorCode: 'BAD_REQUEST' },
  {
    name: '40 channels, one ch each',
    request: pollWith(fortyChannels.map((ch) => `ch=${ch}`).join('&')),
    status: 400,
    errorCode: 'BAD_REQUEST',
  },
  { name: 'comeFrom of 100 characters', request: pollWith(`comeFrom=${'c'.repeat(100)}`), status: 400, errorCode: 'BAD_REQUEST' },
  { name: 'comeFrom given twice', request: pollWith('comeFrom=a&comeFrom=b'), status: 400, errorCode: 'BAD_REQUEST' },
  {
    name: 'comeFrom of 40 percent-encoded emoji (80 UTF-16 units)',
    request: pollWith(`comeFrom=${encodeURIComponent(emoji.repeat(40))}`),
    status: 400,
    errorCode: 'BAD_REQUEST',
  },
  { name: 'sid=%ZZ', request: poll('sid=%ZZ&hold=0'), status: 401, errorCode: 'SESSION_INVALID' },
  { name: 'sid=%00', request: poll('sid=%00&hold=0'), status: 401, errorCode: 'SESSION_INVALID' },
  { name: 'hold=%ZZ', request: poll(`sid=${sid}&hold=%ZZ`), status: 400, errorCode: 'BAD_REQUEST' },
  { name: 'ch=%E0%A4%A (truncated UTF-8)', request: pollWith('ch=%E0%A4%A'), status: 400, errorCode: 'BAD_REQUEST' },
  { name: 'ch=topic:%ZZ', request: pollWith('ch=topic:%ZZ'), status: 400, errorCode: 'BAD_REQUEST' },
  { name: 'ch=topic:news%00', request: pollWith('ch=topic:news%00'), status: 400, errorCode: 'BAD_REQUEST' },
  { name: 'ch=topic:%C0%AF (overlong UTF-8)', request: pollWith('ch=topic:%C0%AF'), status: 400, errorCode: 'BAD_REQUEST' },
  {
    name: 'ch=topic:<percent-encoded emoji>',
    request: pollWith(`ch=topic:${encodeURIComponent(emoji)}`),
    status: 400,
    errorCode: 'BAD_REQUEST',
  },
  { name: 'ch=topic:<latin-1 byte>', request: pollWith('ch=topic:\u00e9'), status: 400, errorCode: 'BAD_REQUEST' },
  { name: 'only separators: &&==&', request: poll('&&==&'), status: 400, errorCode: 'BAD_REQUEST' },
];

const routeRows: Row[] = [
  { name: 'POST /pns/poll', request: method('POST', `/pns/poll?sid=${sid}`), status: 405, errorCode: 'METHOD_NOT_ALLOWED', allow: 'GET' },
  { name: 'PUT /pns/poll', request: method('PUT', '/pns/poll'), status: 405, errorCode: 'METHOD_NOT_ALLOWED', allow: 'GET' },
  { name: 'DELETE /pns/poll', request: method('DELETE', '/pns/poll'), status: 405, errorCode: 'METHOD_NOT_ALLOWED', allow: 'GET' },
  { name: 'OPTIONS /pns/poll', request: method('OPTIONS', '/pns/poll'), status: 405, errorCode: 'METHOD_NOT_ALLOWED', allow: 'GET' },
  { name: 'GET /pns/publish', request: method('GET', '/pns/publish'), status: 405, errorCode: 'METHOD_NOT_ALLOWED', allow: 'POST' },
  { name: 'PUT /pns/publish', request: method('PUT', '/pns/publish'), status: 405, errorCode: 'METHOD_NOT_ALLOWED', allow: 'POST' },
  { name: 'PATCH /pns/publish', request: method('PATCH', '/pns/publish'), status: 405, errorCode: 'METHOD_NOT_ALLOWED', allow: 'POST' },
  { name: 'DELETE /pns/publish', request: method('DELETE', '/pns/publish'), status: 405, errorCode: 'METHOD_NOT_ALLOWED', allow: 'POST' },
  { name: 'POST /healthz', request: method('POST', '/healthz'), status: 405, errorCode: 'METHOD_NOT_ALLOWED', allow: 'GET' },
  { name: 'PUT /readyz', request: method('PUT', '/readyz'), status: 405, errorCode: 'METHOD_NOT_ALLOWED', allow: 'GET' },
  { name: 'DELETE /metrics', request: method('DELETE', '/metrics'), status: 405, errorCode: 'METHOD_NOT_ALLOWED', allow: 'GET' },
  { name: 'GET /', request: get('/'), status: 404, errorCode: 'NOT_FOUND' },
  { name: 'GET /pns', request: get('/pns'), status: 404, errorCode: 'NOT_FOUND' },
  { name: 'GET /pns/', request: get('/pns/'), status: 404, errorCode: 'NOT_FOUND' },
  { name: 'GET /pns/poll/ (trailing slash)', request: get(`/pns/poll/?sid=${sid}`), status: 404, errorCode: 'NOT_FOUND' },
  { name: 'GET //pns/poll (double slash)', request: get(`//pns/poll?sid=${sid}`), status: 404, errorCode: 'NOT_FOUND' },
  { name: 'GET /PNS/POLL (case)', request: get(`/PNS/POLL?sid=${sid}`), status: 404, errorCode: 'NOT_FOUND' },
  { name: 'GET /pns/unknown', request: get('/pns/unknown'), status: 404, errorCode: 'NOT_FOUND' },
  { name: 'POST /pns/publish/extra', request: { ...publish(good), path: '/pns/publish/extra' }, status: 404, errorCode: 'NOT_FOUND' },
  { name: 'GET /favicon.ico', request: get('/favicon.ico'), status: 404, errorCode: 'NOT_FOUND' },
  { name: 'GET /%2e%2e/etc/passwd', request: get('/%2e%2e/etc/passwd'), status: 404, errorCode: 'NOT_FOUND' },
  { name: 'GET /healthz/', request: get('/healthz/'), status: 404, errorCode: 'NOT_FOUND' },
  {
    name: 'GET /%ZZ (malformed percent-encoding in the path)',
    request: get('/%ZZ'),
    status: 400,
    errorCode: 'BAD_REQUEST',
  },
  {
    name: 'GET /pns/poll%ZZ (malformed percent-encoding next to a route)',
    request: get(`/pns/poll%ZZ?sid=${sid}`),
    status: 400,
    errorCode: 'BAD_REQUEST',
  },
];

const tooLargeBody = JSON.stringify({ ...good, data: 'x'.repeat(70 * 1024) });

const publishRows: Row[] = [
  { name: 'publish without a key', request: publish(good, { authorization: undefined }), status: 401, errorCode: 'PUBLISH_UNAUTHORIZED' },
  {
    name: 'publish with a wrong key',
    request: publish(good, { authorization: 'Bearer wrong-key-0123456789' }),
    status: 401,
    errorCode: 'PUBLISH_UNAUTHORIZED',
  },
  {
    name: 'publish with the key as Basic auth',
    request: publish(good, { authorization: `Basic ${Buffer.from(`x:${testPublishKey}`).toString('base64')}` }),
    status: 401,
    errorCode: 'PUBLISH_UNAUTHORIZED',
  },
  {
    name: 'publish with "Bearer" and no key',
    request: publish(good, { authorization: 'Bearer ' }),
    status: 401,
    errorCode: 'PUBLISH_UNAUTHORIZED',
  },
  {
    name: 'publish with the key and trailing junk',
    request: publish(good, { authorization: `Bearer ${testPublishKey} x` }),
    status: 401,
    errorCode: 'PUBLISH_UNAUTHORIZED',
  },
  {
    name: 'publish with a wrong key and invalid JSON (the key is checked first)',
    request: publish('{', { authorization: 'Bearer wrong-key-0123456789' }),
    status: 401,
    errorCode: 'PUBLISH_UNAUTHORIZED',
  },
  {
    name: 'publish with a wrong key and a body over 64 KiB (the key is checked first)',
    request: publish(tooLargeBody, { authorization: 'Bearer wrong-key-0123456789' }),
    status: 401,
    errorCode: 'PUBLISH_UNAUTHORIZED',
  },
  {
    name: 'content type text/plain',
    request: publish(good, { 'content-type': 'text/plain' }),
    status: 415,
    errorCode: 'UNSUPPORTED_MEDIA_TYPE',
  },
  {
    name: 'content type application/xml',
    request: publish('<to>user:42</to>', { 'content-type': 'application/xml' }),
    status: 415,
    errorCode: 'UNSUPPORTED_MEDIA_TYPE',
  },
  {
    name: 'content type form-urlencoded',
    request: publish('to=user:42&type=70', { 'content-type': 'application/x-www-form-urlencoded' }),
    status: 415,
    errorCode: 'UNSUPPORTED_MEDIA_TYPE',
  },
  {
    name: 'content type application/jsonx',
    request: publish(good, { 'content-type': 'application/jsonx' }),
    status: 415,
    errorCode: 'UNSUPPORTED_MEDIA_TYPE',
  },
  { name: 'no content type', request: publish(good, { 'content-type': undefined }), status: 415, errorCode: 'UNSUPPORTED_MEDIA_TYPE' },
  { name: 'empty body', request: publish(''), status: 400, errorCode: 'BAD_REQUEST' },
  { name: 'blank body', request: publish('   '), status: 400, errorCode: 'BAD_REQUEST' },
  { name: 'invalid JSON', request: publish('{"to":'), status: 400, errorCode: 'BAD_REQUEST' },
  { name: 'single-quoted JSON', request: publish("{'to':'user:42','type':70}"), status: 400, errorCode: 'BAD_REQUEST' },
  { name: 'JSON null', request: publish('null'), status: 400, errorCode: 'BAD_REQUEST' },
  { name: 'JSON string', request: publish('"hello"'), status: 400, errorCode: 'BAD_REQUEST' },
  { name: 'JSON number', request: publish('42'), status: 400, errorCode: 'BAD_REQUEST' },
  {
    name: '__proto__ key at the top',
    request: publish('{"__proto__":{"polluted":true},"to":"user:42","type":70}'),
    status: 400,
    errorCode: 'BAD_REQUEST',
  },
  {
    name: '__proto__ key in data',
    request: publish('{"to":"user:42","type":70,"data":{"__proto__":{"polluted":true}}}'),
    status: 400,
    errorCode: 'BAD_REQUEST',
  },
  {
    name: 'constructor.prototype keys at the top',
    request: publish('{"constructor":{"prototype":{"polluted":true}},"to":"user:42","type":70}'),
    status: 400,
    errorCode: 'BAD_REQUEST',
  },
  {
    name: 'constructor.prototype keys in data',
    request: publish('{"to":"user:42","type":70,"data":{"constructor":{"prototype":{"polluted":true}}}}'),
    status: 400,
    errorCode: 'BAD_REQUEST',
  },
  {
    name: 'data nested 65 arrays deep',
    request: publish(`{"to":"user:42","type":70,"data":${nestedArrays(65)}}`),
    status: 400,
    errorCode: 'BAD_REQUEST',
  },
  {
    name: 'data of 10 000 nested arrays',
    request: publish(`{"to":"user:42","type":70,"data":${nestedArrays(10_000)}}`),
    status: 400,
    errorCode: 'BAD_REQUEST',
  },
  {
    name: 'data of 10 000 nested objects',
    request: publish(`{"to":"user:42","type":70,"data":${nestedObjects(10_000)}}`),
    status: 400,
    errorCode: 'BAD_REQUEST',
  },
  {
    name: 'to of 10 000 nested arrays',
    request: publish(`{"to":${nestedArrays(10_000)},"type":70}`),
    status: 400,
    errorCode: 'BAD_REQUEST',
  },
  {
    name: 'body of 100 000 nested arrays (over 64 KiB)',
    request: publish(`{"to":"user:42","type":70,"data":${nestedArrays(100_000)}}`),
    status: 413,
    errorCode: 'PAYLOAD_TOO_LARGE',
  },
  { name: 'type 1e400', request: publish('{"to":"user:42","type":1e400}'), status: 400, errorCode: 'BAD_REQUEST' },
  { name: 'type -1e400', request: publish('{"to":"user:42","type":-1e400}'), status: 400, errorCode: 'BAD_REQUEST' },
  { name: 'ttl 1e400', request: publish('{"to":"user:42","type":70,"ttl":1e400}'), status: 400, errorCode: 'BAD_REQUEST' },
  { name: 'ttl 1e20', request: publish('{"to":"user:42","type":70,"ttl":1e20}'), status: 400, errorCode: 'BAD_REQUEST' },
  { name: 'an unknown key', request: publish({ ...good, priority: 'high' }), status: 400, errorCode: 'BAD_REQUEST' },
  { name: 'TO instead of to', request: publish({ TO: 'user:42', type: 70 }), status: 400, errorCode: 'BAD_REQUEST' },
  { name: 'to missing', request: publish({ type: 70 }), status: 400, errorCode: 'BAD_REQUEST' },
  { name: 'to=foo', request: publish({ ...good, to: 'foo' }), status: 400, errorCode: 'BAD_REQUEST' },
  { name: 'to=user: (empty id)', request: publish({ ...good, to: 'user:' }), status: 400, errorCode: 'BAD_REQUEST' },
  { name: 'to=user:a b', request: publish({ ...good, to: 'user:a b' }), status: 400, errorCode: 'BAD_REQUEST' },
  {
    name: 'to with a 129-character id',
    request: publish({ ...good, to: `user:${'u'.repeat(129)}` }),
    status: 400,
    errorCode: 'BAD_REQUEST',
  },
  { name: 'to a number', request: publish({ ...good, to: 42 }), status: 400, errorCode: 'BAD_REQUEST' },
  { name: 'to null', request: publish({ ...good, to: null }), status: 400, errorCode: 'BAD_REQUEST' },
  { name: 'to an empty array', request: publish({ ...good, to: [] }), status: 400, errorCode: 'BAD_REQUEST' },
  {
    name: 'to 101 recipients',
    request: publish({ ...good, to: Array.from({ length: 101 }, (_, i) => `user:${i}`) }),
    status: 400,
    errorCode: 'BAD_REQUEST',
  },
  { name: 'to with one bad recipient', request: publish({ ...good, to: ['user:1', 'nobody'] }), status: 400, errorCode: 'BAD_REQUEST' },
  { name: 'type missing', request: publish({ to: 'user:42' }), status: 400, errorCode: 'BAD_REQUEST' },
  { name: 'type an object', request: publish({ ...good, type: { n: 70 } }), status: 400, errorCode: 'BAD_REQUEST' },
  { name: 'type an array', request: publish({ ...good, type: [70] }), status: 400, errorCode: 'BAD_REQUEST' },
  { name: 'type null', request: publish({ ...good, type: null }), status: 400, errorCode: 'BAD_REQUEST' },
  { name: 'type a boolean', request: publish({ ...good, type: true }), status: 400, errorCode: 'BAD_REQUEST' },
  { name: 'type an empty string', request: publish({ ...good, type: '' }), status: 400, errorCode: 'BAD_REQUEST' },
  { name: 'type of 65 characters', request: publish({ ...good, type: 't'.repeat(65) }), status: 400, errorCode: 'BAD_REQUEST' },
  { name: 'ttl 0', request: publish({ ...good, ttl: 0 }), status: 400, errorCode: 'BAD_REQUEST' },
  { name: 'ttl -1', request: publish({ ...good, ttl: -1 }), status: 400, errorCode: 'BAD_REQUEST' },
  { name: 'ttl 1.5', request: publish({ ...good, ttl: 1.5 }), status: 400, errorCode: 'BAD_REQUEST' },
  { name: 'ttl over the maximum (3601)', request: publish({ ...good, ttl: 3601 }), status: 400, errorCode: 'BAD_REQUEST' },
  { name: 'ttl a string', request: publish({ ...good, ttl: '60' }), status: 400, errorCode: 'BAD_REQUEST' },
  { name: 'id with spaces', request: publish({ ...good, id: 'my id' }), status: 400, errorCode: 'BAD_REQUEST' },
  { name: 'id with a tab', request: publish({ ...good, id: 'my\tid' }), status: 400, errorCode: 'BAD_REQUEST' },
  { name: 'id of 129 characters', request: publish({ ...good, id: 'i'.repeat(129) }), status: 400, errorCode: 'BAD_REQUEST' },
  { name: 'id empty', request: publish({ ...good, id: '' }), status: 400, errorCode: 'BAD_REQUEST' },
  { name: 'id a number', request: publish({ ...good, id: 7 }), status: 400, errorCode: 'BAD_REQUEST' },
  { name: 'id non-ASCII', request: publish({ ...good, id: 'caf\u00e9' }), status: 400, errorCode: 'BAD_REQUEST' },
  { name: 'empty batch', request: publish([]), status: 400, errorCode: 'BAD_REQUEST' },
  {
    name: 'batch of 1001 messages',
    request: publish(Array.from({ length: 1001 }, () => ({ to: 'user:42', type: 1 }))),
    status: 400,
    errorCode: 'BAD_REQUEST',
  },
  {
    name: 'batch with one bad member',
    request: publish([good, { ...good, type: {} }, good]),
    status: 400,
    errorCode: 'BAD_REQUEST',
  },
  { name: 'batch nested in a batch', request: publish([[good]]), status: 400, errorCode: 'BAD_REQUEST' },
  { name: 'body over 64 KiB', request: publish(tooLargeBody), status: 413, errorCode: 'PAYLOAD_TOO_LARGE' },
  {
    name: 'body over 64 KiB, chunked',
    request: { ...publish(tooLargeBody), chunked: true },
    status: 413,
    errorCode: 'PAYLOAD_TOO_LARGE',
  },
];

const host = 'Host: 127.0.0.1\r\n';
const rawPublishHead = `POST /pns/publish HTTP/1.1\r\n${host}Authorization: Bearer ${testPublishKey}\r\nContent-Type: application/json\r\nConnection: close\r\n`;

const rawRows: Row[] = [
  {
    name: 'headers over 16 KiB',
    request: raw(`GET /healthz HTTP/1.1\r\n${host}X-Big: ${'a'.repeat(20 * 1024)}\r\nConnection: close\r\n\r\n`),
    status: 431,
    errorCode: 'HEADERS_TOO_LARGE',
  },
  {
    name: '1500 small headers (over 16 KiB together)',
    request: raw(
      `GET /healthz HTTP/1.1\r\n${host}${Array.from({ length: 1500 }, (_, i) => `X-Header-${i}: value-${i}\r\n`).join('')}Connection: close\r\n\r\n`,
    ),
    status: 431,
    errorCode: 'HEADERS_TOO_LARGE',
  },
  {
    name: 'request line over 16 KiB',
    request: raw(`GET /pns/poll?sid=${'a'.repeat(20 * 1024)} HTTP/1.1\r\n${host}Connection: close\r\n\r\n`),
    status: 431,
    errorCode: 'HEADERS_TOO_LARGE',
  },
  { name: 'garbage request line', request: raw('GARBAGE\r\n\r\n'), status: 400, errorCode: 'BAD_REQUEST' },
  { name: 'binary junk', request: raw('\x00\x01\x02\xff\r\n\r\n'), status: 400, errorCode: 'BAD_REQUEST' },
  { name: 'unknown HTTP version', request: raw(`GET /healthz HTTP/9.9\r\n${host}\r\n`), status: 400, errorCode: 'BAD_REQUEST' },
  {
    name: 'header name with a space',
    request: raw(`GET /healthz HTTP/1.1\r\n${host}Bad Header: x\r\n\r\n`),
    status: 400,
    errorCode: 'BAD_REQUEST',
  },
  {
    name: 'raw emoji bytes in the query',
    request: raw(`GET /pns/poll?sid=${sid}&hold=0&ch=topic:${emoji} HTTP/1.1\r\n${host}Connection: close\r\n\r\n`),
    status: 400,
    errorCode: 'BAD_REQUEST',
  },
  { name: 'Content-Length: abc', request: raw(`${rawPublishHead}Content-Length: abc\r\n\r\n{}`), status: 400, errorCode: 'BAD_REQUEST' },
  {
    name: 'Content-Length and Transfer-Encoding together',
    request: raw(`${rawPublishHead}Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n`),
    status: 400,
    errorCode: 'BAD_REQUEST',
  },
  {
    name: 'invalid chunk size',
    request: raw(`${rawPublishHead}Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`),
    status: 400,
    errorCode: 'BAD_REQUEST',
  },
  {
    name: 'Content-Length of 1 MB announced, nothing sent',
    request: raw(`${rawPublishHead}Content-Length: 1000000\r\n\r\n`),
    status: 413,
    errorCode: 'PAYLOAD_TOO_LARGE',
  },
  {
    name: 'CONNECT /pns/poll',
    request: raw(`CONNECT /pns/poll HTTP/1.1\r\n${host}Connection: close\r\n\r\n`),
    status: 405,
    errorCode: 'METHOD_NOT_ALLOWED',
    allow: 'GET',
  },
  {
    name: 'HTTP/1.1 request without a Host header',
    request: raw('GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n'),
    status: 400,
    errorCode: 'BAD_REQUEST',
  },
];

const rows: Row[] = [...pollRows, ...routeRows, ...publishRows, ...rawRows];

// ---------------------------------------------------------------------------
// Clients: node's HTTP client for ordinary requests, a bare socket for broken ones.

function sendHttp(base: URL, spec: HttpRequestSpec): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (error: Error | undefined, answer?: Answer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) reject(error);
      else resolve(answer as Answer);
    };
    const headers: Record<string, string> = { ...spec.headers };
    if (spec.body !== undefined && !spec.chunked) headers['content-length'] = String(Buffer.byteLength(spec.body));
    const timer = setTimeout(() => {
      req.destroy();
      finish(new Error(`no answer within ${answerTimeoutMs} ms`));
    }, answerTimeoutMs);
    const req = httpRequest(
      { host: base.hostname, port: base.port, method: spec.method, path: spec.path, headers, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          finish(undefined, { status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', (error) => finish(error));
      },
    );
    // An answer may come (and the socket close) before the whole body was written: that error is not the answer.
    req.on('error', (error) => setTimeout(() => finish(error), 200));
    if (spec.body !== undefined) {
      if (spec.chunked) {
        for (let offset = 0; offset < spec.body.length; offset += 8192) req.write(spec.body.slice(offset, offset + 8192));
      } else req.write(spec.body);
    }
    req.end();
  });
}

function parseRawAnswer(bytes: Buffer): Answer {
  const headEnd = bytes.indexOf('\r\n\r\n');
  assert.ok(headEnd > 0, `no HTTP answer in ${JSON.stringify(bytes.toString('latin1').slice(0, 200))}`);
  const [statusLine = '', ...headerLines] = bytes.subarray(0, headEnd).toString('latin1').split('\r\n');
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
  assert.ok(status, `bad status line ${JSON.stringify(statusLine)}`);
  const headers: IncomingHttpHeaders = {};
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = bytes.subarray(headEnd + 4);
  if (headers['transfer-encoding'] === 'chunked') {
    const parts: Buffer[] = [];
    let rest = body;
    for (let i = 0; i < 10_000; i++) {
      const lineEnd = rest.indexOf('\r\n');
      const size = Number.parseInt(rest.subarray(0, lineEnd).toString('latin1'), 16);
      if (!(size > 0)) break;
      parts.push(rest.subarray(lineEnd + 2, lineEnd + 2 + size));
      rest = rest.subarray(lineEnd + 2 + size + 2);
    }
    body = Buffer.concat(parts);
  } else if (headers['content-length'] !== undefined) {
    body = body.subarray(0, Number(headers['content-length']));
  }
  return { status: Number(status[1]), headers, text: body.toString('utf8') };
}

function sendRaw(base: URL, data: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(base.port), base.hostname);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new Error(`connection not closed within ${answerTimeoutMs} ms; got ${Buffer.concat(chunks).toString('latin1').slice(0, 200)}`),
      );
    }, answerTimeoutMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => {}); // a reset after the answer is fine; a missing answer fails in the parse
    socket.on('close', () => {
      clearTimeout(timer);
      try {
        resolve(parseRawAnswer(Buffer.concat(chunks)));
      } catch (error) {
        reject(error);
      }
    });
    socket.write(Buffer.from(data, 'utf8'));
  });
}

function send(base: URL, spec: RequestSpec): Promise<Answer> {
  return spec.kind === 'raw' ? sendRaw(base, spec.data) : sendHttp(base, spec);
}

// ---------------------------------------------------------------------------
// Checks shared by the table and the properties.

function assertCatalogError(answer: Answer, context: string): { errorCode: ErrorCode; message: string } {
  let body: unknown;
  try {
    body = JSON.parse(answer.text);
  } catch {
    assert.fail(`${context}: body is not JSON: ${JSON.stringify(answer.text.slice(0, 300))}`);
  }
  assert.ok(body !== null && typeof body === 'object' && !Array.isArray(body), `${context}: body is not an object: ${answer.text}`);
  assert.deepEqual(Object.keys(body).sort(), ['errorCode', 'message'], `${context}: body keys: ${answer.text}`);
  const { errorCode, message } = body as { errorCode: unknown; message: unknown };
  assert.equal(typeof message, 'string', `${context}: message is not a string`);
  assert.ok(isErrorCode(errorCode), `${context}: ${JSON.stringify(errorCode)} is not a catalog code`);
  assert.equal(answer.status, errorCatalog[errorCode].status, `${context}: status ${answer.status} is not the catalog's for ${errorCode}`);
  assert.doesNotMatch(answer.text, stackTrace, `${context}: body shows internals: ${answer.text}`);
  assert.match(String(answer.headers['content-type']), /^application\/json/i, `${context}: content type`);
  return { errorCode, message: message as string };
}

function assertPollAnswer(answer: Answer, context: string): void {
  const body = JSON.parse(answer.text) as Record<string, unknown>;
  assert.equal(typeof body.c, 'number', `${context}: c`);
  assert.ok(Array.isArray(body.msg), `${context}: msg`);
  assert.equal(body.c, body.msg.length, `${context}: c counts msg`);
  assert.equal(typeof body.cursor, 'string', `${context}: cursor`);
  for (const key of Object.keys(body)) assert.ok(['c', 'msg', 'cursor', 'gap', 'superseded'].includes(key), `${context}: key ${key}`);
}

function assertPublishAnswer(answer: Answer, context: string): void {
  const body = JSON.parse(answer.text) as Record<string, unknown>;
  assert.deepEqual(Object.keys(body), ['ids'], `${context}: keys`);
  assert.ok(Array.isArray(body.ids) && body.ids.length > 0, `${context}: ids`);
  for (const id of body.ids) assert.equal(typeof id, 'string', `${context}: id`);
}

async function assertHealthy(base: URL): Promise<void> {
  const health = await sendHttp(base, get('/healthz'));
  assert.equal(health.status, 200);
  assert.deepEqual(JSON.parse(health.text), { status: 'ok' });
}

// ---------------------------------------------------------------------------

describe('bad input', { timeout: 120_000 }, () => {
  let t: TestServer;
  let base: URL;
  before(async () => {
    // No hold: a valid poll answers at once, so nothing here waits on a hold.
    t = await startTestServer({ holdSeconds: '0', maxHoldSeconds: '0' });
    base = new URL(t.url);
  });
  after(() => t.close());

  describe('#the table', () => {
    it('has a control: the same requests, made valid, succeed', async () => {
      assert.equal((await send(base, pollWith('ch=topic:news&comeFrom=control'))).status, 200);
      assert.equal((await send(base, publish(good))).status, 200);
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

  const groups: [string, Row[]][] = [
    ['#GET /pns/poll', pollRows],
    ['#routing', routeRows],
    ['#POST /pns/publish', publishRows],
    ['#raw socket', rawRows],
  ];
  for (const [group, groupRows] of groups) {
    describe(group, () => {
      for (const row of groupRows) {
        it(`${row.name} → ${row.status} ${row.errorCode}`, row.todo === undefined ? {} : { todo: row.todo }, async () => {
          const answer = await send(base, row.request);
          assert.equal(answer.status, row.status, `status; body: ${answer.text.slice(0, 300)}`);
          const { errorCode } = assertCatalogError(answer, row.name);
          assert.equal(errorCode, row.errorCode);
          if (row.allow !== undefined) assert.equal(answer.headers.allow, row.allow);
          await assertHealthy(base);
        });
      }
    });
  }

  describe('#batch atomicity', () => {
    it('stores nothing of a batch refused for one bad member', async () => {
      const user = 'batch-user';
      const batchSid = jwt({ ...validClaims, sub: user });
      const start = await send(base, poll(`sid=${batchSid}&hold=0&comeFrom=atomicity`));
      assert.equal(start.status, 200);
      const cursor = (JSON.parse(start.text) as { cursor: string }).cursor;

      const refused = await send(
        base,
        publish([
          { to: `user:${user}`, type: 1, data: 'first', id: 'atomic-first' },
          { to: `user:${user}`, type: 1, data: 'bad', ttl: -1 },
          { to: `user:${user}`, type: 1, data: 'last', id: 'atomic-last' },
        ]),
      );
      assert.equal(refused.status, 400);
      assert.equal(assertCatalogError(refused, 'refused batch').errorCode, 'BAD_REQUEST');

      // A later message shows the reading position works, and that it is all there is.
      assert.equal((await send(base, publish({ to: `user:${user}`, type: 1, data: 'sentinel' }))).status, 200);
      const read = await send(base, poll(`sid=${batchSid}&hold=0&cursor=${cursor}`));
      assert.equal(read.status, 200);
      assert.deepEqual(
        (JSON.parse(read.text) as { msg: { data: unknown }[] }).msg.map((message) => message.data),
        ['sentinel'],
      );
      // Nor was any id of the refused batch recorded: reusing one for other content is not a conflict.
      const reuse = await send(base, publish({ to: `user:${user}`, type: 2, data: 'other', id: 'atomic-first' }));
      assert.equal(reuse.status, 200);
      assert.deepEqual(JSON.parse(reuse.text), { ids: ['atomic-first'] });
    });
  });

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

    /** Printable ASCII goes as is (so `%`, `&`, `=` keep their meaning); anything else is percent-encoded UTF-8. */
    function loosely(input: string): string {
      let out = '';
      for (const char of input) {
        const code = char.codePointAt(0) as number;
        if (code > 0x20 && code < 0x7f) out += char;
        else for (const byte of Buffer.from(char, 'utf8')) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
      }
      return out;
    }

    it('answers any query string with a poll answer or a catalog error, never a 5xx', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(fc.tuple(key, value, fc.boolean()), { maxLength: 8 }), async (pairs) => {
          const query = pairs.map(([k, v, withEquals]) => (withEquals || v !== '' ? `${loosely(k)}=${loosely(v)}` : loosely(k))).join('&');
          const answer = await send(base, get(`/pns/poll?${query}`));
          const context = `GET /pns/poll?${query} → ${answer.status} ${answer.text.slice(0, 200)}`;
          assert.ok(answer.status < 500, context);
          if (answer.status === 200) assertPollAnswer(answer, context);
          else assertCatalogError(answer, context);
        }),
        { numRuns: 200, interruptAfterTimeLimit: 60_000, markInterruptAsFailure: true },
      );
      await assertHealthy(base);
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
          const answer = await send(base, publish(text, { 'content-type': type }));
          const context = `POST /pns/publish (${type}) ${text.slice(0, 200)} → ${answer.status} ${answer.text.slice(0, 200)}`;
          assert.ok(answer.status < 500, context);
          if (answer.status === 200) assertPublishAnswer(answer, context);
          else assertCatalogError(answer, context);
        }),
        { numRuns: 200, interruptAfterTimeLimit: 60_000, markInterruptAsFailure: true },
      );
      await assertHealthy(base);
    });
  });
});
