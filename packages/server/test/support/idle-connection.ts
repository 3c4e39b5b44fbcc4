// A raw keep-alive connection for tests that need a request on a connection that is already open (a server that
// drains answers those differently from new connections).
import net from 'node:net';
import { waitFor } from './harness.js';

export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** A keep-alive connection that has already served one request: a request on it is not a new connection. */
export interface OpenConnection {
  request(path: string, headers?: Record<string, string>): Promise<RawAnswer>;
  close(): void;
}

/** Opens a raw connection to `base` and sends `GET /healthz` on it, so that it is open and idle. */
export async function openIdleConnection(base: string): Promise<OpenConnection> {
  const { hostname, port } = new URL(base);
  const socket = net.connect(Number(port), hostname);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.on('error', () => {});
  let buffer = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
  });
  /** The next whole answer (head + Content-Length body) on the socket. */
  const answer = async (): Promise<RawAnswer> => {
    let parsed: RawAnswer | undefined;
    await waitFor(
      () => {
        const headEnd = buffer.indexOf('\r\n\r\n');
        if (headEnd === -1) return false;
        const [statusLine = '', ...lines] = buffer.subarray(0, headEnd).toString('latin1').split('\r\n');
        const headers: Record<string, string> = {};
        for (const line of lines) headers[line.slice(0, line.indexOf(':')).toLowerCase()] = line.slice(line.indexOf(':') + 1).trim();
        const length = Number(headers['content-length'] ?? 0);
        if (buffer.length < headEnd + 4 + length) return false;
        parsed = {
          status: Number(statusLine.split(' ')[1]),
          headers,
          body: buffer.subarray(headEnd + 4, headEnd + 4 + length).toString('utf8'),
        };
        buffer = buffer.subarray(headEnd + 4 + length);
        return true;
      },
      5000,
      'an answer on the open connection',
    );
    return parsed as RawAnswer;
  };
  const send = (path: string, headers: Record<string, string>): Promise<RawAnswer> => {
    const lines = [`GET ${path} HTTP/1.1`, 'Host: 127.0.0.1', ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`)];
    socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    return answer();
  };
  const health = await send('/healthz', {});
  if (health.status !== 200) throw new Error(`GET /healthz answered ${health.status}`);
  return { request: (path, headers = {}) => send(path, headers), close: () => socket.destroy() };
}
