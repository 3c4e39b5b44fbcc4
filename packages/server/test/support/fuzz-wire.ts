// The wire side of the fuzz suites: HTTP exchanges on bare sockets (bytes no client library would send), and
// WebSocket frames written and read by hand, so a frame can be broken in any way the protocol allows to be broken.
import type { IncomingHttpHeaders } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Answer } from './bad-input-send.js';

const answerTimeoutMs = 10_000;

/** The head of an HTTP answer at the start of `bytes`, or undefined while it is incomplete. */
function parseHead(bytes: Buffer): { status: number; headers: IncomingHttpHeaders; bodyStart: number } | undefined {
  const headEnd = bytes.indexOf('\r\n\r\n');
  if (headEnd < 0) return undefined;
  const [statusLine = '', ...lines] = bytes.subarray(0, headEnd).toString('latin1').split('\r\n');
  const headers: IncomingHttpHeaders = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(/^HTTP\/1\.[01] (\d{3}) /.exec(statusLine)?.[1] ?? 0), headers, bodyStart: headEnd + 4 };
}

/** One HTTP answer with a Content-Length (or a 101) at the start of `bytes` and the bytes after it, once whole. */
function parseAnswer(bytes: Buffer): { answer: Answer; rest: Buffer } | undefined {
  const head = parseHead(bytes);
  if (!head) return undefined;
  const { status, headers, bodyStart } = head;
  // A 1xx has no body: a 101 is followed by the upgraded protocol, a 100 by the final answer.
  const length = status < 200 ? 0 : Number(headers['content-length'] ?? Number.NaN);
  if (!Number.isInteger(length)) return undefined; // a stream: see `rawStream`
  if (bytes.length < bodyStart + length) return undefined;
  const text = bytes.subarray(bodyStart, bodyStart + length).toString('utf8');
  return { answer: { status, headers, text }, rest: bytes.subarray(bodyStart + length) };
}

/**
 * Writes `data` to a fresh connection and reads a streamed answer (Server-Sent Events) until its body matches
 * `until`, or a whole answer with a Content-Length (a refusal) arrives, or the connection closes.
 */
export function rawStream(base: URL, data: string | Buffer, until: RegExp): Promise<Answer & { complete: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(base.port), base.hostname);
    let received = Buffer.alloc(0);
    let settled = false;
    const finish = (complete: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.removeAllListeners('data');
      socket.destroy();
      const head = parseHead(received);
      const whole = parseAnswer(received)?.answer;
      if (whole) resolve({ ...whole, complete: true });
      else if (head)
        resolve({ status: head.status, headers: head.headers, text: received.subarray(head.bodyStart).toString('utf8'), complete });
      else reject(new Error(`no answer: ${JSON.stringify(received.toString('latin1').slice(0, 200))}`));
    };
    const timer = setTimeout(() => finish(false), answerTimeoutMs);
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const head = parseHead(received);
      if (parseAnswer(received) || (head && until.test(received.subarray(head.bodyStart).toString('utf8')))) finish(true);
    });
    socket.on('error', () => {});
    socket.on('close', () => finish(false));
    socket.write(data);
  });
}

export interface RawExchange {
  /** The first answer, if one came before the connection closed. */
  answer: Answer | undefined;
  /** Everything received after that answer (more answers, or WebSocket frames). */
  rest: Buffer;
  /** Still open: the caller owns it (WebSocket tests keep using it); otherwise it has been destroyed. */
  socket: Socket | undefined;
}

/**
 * Writes `data` to a fresh connection and waits for the first whole answer, or for the connection to close
 * without one. With `keep`, an answered connection is handed back open.
 */
export function rawExchange(
  base: URL,
  data: string | Buffer,
  options: { keep?: boolean; endAfterWrite?: boolean } = {},
): Promise<RawExchange> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(base.port), base.hostname);
    let received = Buffer.alloc(0);
    let settled = false;
    const finish = (exchange: RawExchange): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.removeAllListeners('data');
      if (!exchange.socket) socket.destroy();
      resolve(exchange);
    };
    const timer = setTimeout(() => {
      socket.destroy();
      if (!settled)
        reject(new Error(`no answer and no close within ${answerTimeoutMs} ms; got ${received.toString('latin1').slice(0, 200)}`));
      settled = true;
    }, answerTimeoutMs);
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const parsed = parseAnswer(received);
      if (parsed) finish({ answer: parsed.answer, rest: parsed.rest, socket: options.keep ? socket : undefined });
    });
    socket.on('error', () => {}); // a reset after (or instead of) an answer: the close below tells
    socket.on('close', () => finish({ answer: parseAnswer(received)?.answer, rest: Buffer.alloc(0), socket: undefined }));
    socket.write(data);
    if (options.endAfterWrite) socket.end();
  });
}

/** The data of the whole chunks of a chunked body received so far (an open stream's last chunk may be cut). */
export function dechunk(body: string): string {
  const bytes = Buffer.from(body, 'utf8');
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = bytes.indexOf('\r\n', at);
    if (lineEnd < 0) break;
    const size = Number.parseInt(bytes.subarray(at, lineEnd).toString('latin1'), 16);
    if (!(size > 0) || bytes.length < lineEnd + 2 + size) break;
    parts.push(bytes.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(parts).toString('utf8');
}

/** Server-Sent Events in a stream's text: each event's fields (the last of each name). */
export function sseEvents(text: string): Record<string, string>[] {
  return text
    .split('\n\n')
    .filter((block) => block.trim() !== '')
    .map((block) =>
      Object.fromEntries(block.split('\n').map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 2)])),
    );
}

/** A request head from a request line and header pairs, sent as given (names, values and order). */
export function requestHead(requestLine: string, headers: readonly (readonly [string, string])[]): string {
  return `${requestLine}\r\n${headers.map(([name, value]) => `${name}: ${value}\r\n`).join('')}\r\n`;
}

// ---------------------------------------------------------------------------
// WebSocket frames (RFC 6455 section 5.2).

export interface ClientFrame {
  fin: boolean;
  /** The three reserved bits, as a number 0–7. */
  rsv: number;
  opcode: number;
  masked: boolean;
  payload: Buffer;
  /** A length to announce instead of the payload's own (a frame that lies about its size). */
  claimedLength?: bigint;
}

export function encodeFrame(frame: ClientFrame): Buffer {
  const length = frame.claimedLength ?? BigInt(frame.payload.length);
  const first = (frame.fin ? 0x80 : 0) | ((frame.rsv & 7) << 4) | (frame.opcode & 0x0f);
  const maskBit = frame.masked ? 0x80 : 0;
  let head: Buffer;
  if (length < 126n) head = Buffer.from([first, maskBit | Number(length)]);
  else if (length < 65_536n) {
    head = Buffer.from([first, maskBit | 126, 0, 0]);
    head.writeUInt16BE(Number(length), 2);
  } else {
    head = Buffer.alloc(10);
    head[0] = first;
    head[1] = maskBit | 127;
    head.writeBigUInt64BE(length, 2);
  }
  if (!frame.masked) return Buffer.concat([head, frame.payload]);
  const key = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  const masked = Buffer.from(frame.payload);
  for (let i = 0; i < masked.length; i++) masked[i] = (masked[i] as number) ^ (key[i % 4] as number);
  return Buffer.concat([head, key, masked]);
}

export interface ServerFrame {
  opcode: number;
  payload: Buffer;
}

/** The whole frames at the start of `bytes` (a server's frames are never masked) and what is left. */
export function decodeFrames(bytes: Buffer): { frames: ServerFrame[]; rest: Buffer; malformed: boolean } {
  const frames: ServerFrame[] = [];
  let at = 0;
  while (bytes.length - at >= 2) {
    const first = bytes[at] as number;
    const second = bytes[at + 1] as number;
    if (second & 0x80) return { frames, rest: bytes.subarray(at), malformed: true };
    let length = second & 0x7f;
    let offset = at + 2;
    if (length === 126) {
      if (bytes.length < offset + 2) break;
      length = bytes.readUInt16BE(offset);
      offset += 2;
    } else if (length === 127) {
      if (bytes.length < offset + 8) break;
      length = Number(bytes.readBigUInt64BE(offset));
      offset += 8;
    }
    if (bytes.length < offset + length) break;
    frames.push({ opcode: first & 0x0f, payload: bytes.subarray(offset, offset + length) });
    at = offset + length;
  }
  return { frames, rest: bytes.subarray(at), malformed: false };
}

/** The close code of a close frame's payload (1005, "no status", when it has none). */
export function closeCode(frame: ServerFrame): number {
  return frame.payload.length >= 2 ? frame.payload.readUInt16BE(0) : 1005;
}

/** The WebSocket upgrade headers a browser sends. */
export function upgradeHeaders(): [string, string][] {
  return [
    ['Host', '127.0.0.1'],
    ['Connection', 'Upgrade'],
    ['Upgrade', 'websocket'],
    ['Sec-WebSocket-Version', '13'],
    ['Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ=='],
  ];
}
