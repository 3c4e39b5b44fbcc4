// The bad-input rows for HTTP itself: methods and paths, and requests broken below HTTP (sent on a bare socket).
import { emoji, get, good, method, publish, type Row, raw, sid } from './bad-input-table.js';
import { testPublishKey } from './harness.js';

export const routeRows: Row[] = [
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

const host = 'Host: 127.0.0.1\r\n';
const rawPublishHead = `POST /pns/publish HTTP/1.1\r\n${host}Authorization: Bearer ${testPublishKey}\r\nContent-Type: application/json\r\nConnection: close\r\n`;

export const rawRows: Row[] = [
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
