// What every bad-input row is and gets: the row type, the shared request builders and checks, and the row runner.
// The rows themselves live in bad-input-rows-*.ts, one module per area, so the catalog-coverage test can see them all.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { type ErrorCode, errorCatalog, isErrorCode } from '@pns/protocol';
import { type Answer, type HttpRequestSpec, type RawRequestSpec, type RequestSpec, send, sendHttp } from './bad-input-send.js';
import { startTestServer, type TestServer, testPublishKey, testSecret } from './harness.js';

export interface Row {
  name: string;
  request: RequestSpec;
  status: number;
  errorCode: ErrorCode;
  /** The Allow header a 405 must carry. */
  allow?: string;
  /** Set while the row fails because of a known bug in src/. */
  todo?: string;
}

/** Codes other suites reach (failures, limits, shutdown, idempotency, timeouts, the dashboard's key, the publish rate in publish-rate.test.ts). */
export const coveredElsewhere = new Set<ErrorCode>([
  'ADMIN_UNAUTHORIZED',
  'TOO_MANY_CONNECTIONS',
  'INTERNAL_ERROR',
  'BACKEND_UNAVAILABLE',
  'OVERLOADED',
  'SHUTTING_DOWN',
  'ID_CONFLICT',
  'REQUEST_TIMEOUT',
  'RATE_LIMITED',
]);

const stackTrace = /\n\s+at\s|\bat\s+\S+\s+\(|\.[cm]?[jt]s:\d+|node_modules|file:\/\//;

// ---------------------------------------------------------------------------
// Tokens, signed here with node:crypto so any header or claim can be forged.

export const nowSeconds = Math.floor(Date.now() / 1000);

function base64UrlJson(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

export function jwt(claims: Record<string, unknown>, options: { secret?: string; header?: Record<string, unknown> } = {}): string {
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

export const validClaims = { sub: '42', topics: ['news'], iat: nowSeconds, exp: nowSeconds + 3600 };
export const sid = jwt(validClaims);

export function withoutClaim(name: keyof typeof validClaims): Record<string, unknown> {
  const claims: Record<string, unknown> = { ...validClaims };
  delete claims[name];
  return claims;
}

export function tampered(token: string): string {
  const [header, , signature] = token.split('.');
  return `${header}.${base64UrlJson({ ...validClaims, sub: '1' })}.${signature}`;
}

// ---------------------------------------------------------------------------
// Request builders.

export function get(path: string, headers: Record<string, string> = {}): HttpRequestSpec {
  return { kind: 'http', method: 'GET', path, headers };
}

export function poll(query: string): HttpRequestSpec {
  return get(`/pns/poll?${query}`);
}

/** A poll with a valid sid and no hold, plus `query`. */
export function pollWith(query: string): HttpRequestSpec {
  return poll(`sid=${sid}&hold=0&${query}`);
}

export function method(name: string, path: string): HttpRequestSpec {
  return { kind: 'http', method: name, path, headers: {}, ...(name === 'GET' || name === 'DELETE' ? {} : { body: '' }) };
}

const authorized = { authorization: `Bearer ${testPublishKey}`, 'content-type': 'application/json' };

/** A publish with the right key and content type; `body` is sent as is when a string, else as JSON. */
export function publish(body: unknown, headers: Record<string, string | undefined> = {}): HttpRequestSpec {
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

export const good = { to: 'user:42', type: 70, data: { subject: 'hi' } };

export function raw(data: string): RawRequestSpec {
  return { kind: 'raw', data };
}

export function nestedArrays(depth: number): string {
  return '['.repeat(depth) + ']'.repeat(depth);
}

export function nestedObjects(depth: number): string {
  return '{"a":'.repeat(depth) + 'null' + '}'.repeat(depth);
}

export const emoji = '\u{1F600}';

// ---------------------------------------------------------------------------
// Checks shared by the table and the properties.

export function assertCatalogError(answer: Answer, context: string): { errorCode: ErrorCode; message: string } {
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

export function assertPollAnswer(answer: Answer, context: string): void {
  const body = JSON.parse(answer.text) as Record<string, unknown>;
  assert.equal(typeof body.c, 'number', `${context}: c`);
  assert.ok(Array.isArray(body.msg), `${context}: msg`);
  assert.equal(body.c, body.msg.length, `${context}: c counts msg`);
  assert.equal(typeof body.cursor, 'string', `${context}: cursor`);
  for (const key of Object.keys(body)) assert.ok(['c', 'msg', 'cursor', 'gap', 'superseded'].includes(key), `${context}: key ${key}`);
}

export function assertPublishAnswer(answer: Answer, context: string): void {
  const body = JSON.parse(answer.text) as Record<string, unknown>;
  assert.deepEqual(Object.keys(body), ['ids'], `${context}: keys`);
  assert.ok(Array.isArray(body.ids) && body.ids.length > 0, `${context}: ids`);
  for (const id of body.ids) assert.equal(typeof id, 'string', `${context}: id`);
}

export async function assertHealthy(base: URL): Promise<void> {
  const health = await sendHttp(base, get('/healthz'));
  assert.equal(health.status, 200);
  assert.equal((JSON.parse(health.text) as { status?: unknown }).status, 'ok');
}

// ---------------------------------------------------------------------------
// The runner.

/**
 * The `bad input` suite of one test file: a server of its own with no hold (a valid poll answers at once,
 * so nothing here waits on a hold), whose URL `body`'s tests get from `base()`.
 */
export function badInputSuite(body: (base: () => URL) => void): void {
  describe('bad input', { timeout: 120_000 }, () => {
    let t: TestServer;
    let base: URL;
    before(async () => {
      t = await startTestServer({ holdSeconds: '0', maxHoldSeconds: '0' });
      base = new URL(t.url);
    });
    after(() => t.close());
    body(() => base);
  });
}

/** One test per row: the row's status and catalog code (and Allow header), in a catalog-shaped body, and a server still healthy. */
export function rowSuite(group: string, rows: Row[], base: () => URL): void {
  describe(group, () => {
    for (const row of rows) {
      it(`${row.name} → ${row.status} ${row.errorCode}`, row.todo === undefined ? {} : { todo: row.todo }, async () => {
        const answer = await send(base(), row.request);
        assert.equal(answer.status, row.status, `status; body: ${answer.text.slice(0, 300)}`);
        const { errorCode } = assertCatalogError(answer, row.name);
        assert.equal(errorCode, row.errorCode);
        if (row.allow !== undefined) assert.equal(answer.headers.allow, row.allow);
        await assertHealthy(base());
      });
    }
  });
}
