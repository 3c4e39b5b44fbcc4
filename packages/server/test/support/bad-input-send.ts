// The wire side of the bad-input tables: node's HTTP client for ordinary requests, a bare socket for broken ones.
import assert from 'node:assert/strict';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';

/** A request sent with node's HTTP client (the path goes out as given, so it may carry junk). */
export interface HttpRequestSpec {
  kind: 'http';
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
  /** Send the body with chunked transfer encoding instead of a Content-Length. */
  chunked?: boolean;
}

/** Bytes written as they are to a fresh TCP connection. */
export interface RawRequestSpec {
  kind: 'raw';
  data: string;
}

export type RequestSpec = HttpRequestSpec | RawRequestSpec;

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

const answerTimeoutMs = 10_000;

export function sendHttp(base: URL, spec: HttpRequestSpec): Promise<Answer> {
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

export function send(base: URL, spec: RequestSpec): Promise<Answer> {
  return spec.kind === 'raw' ? sendRaw(base, spec.data) : sendHttp(base, spec);
}
