/**
 * Socket.IO 4 peer server for the benchmark, run as its own Node.js process
 * (pinned by the driver with taskset).
 *
 * - transports: polling only (HTTP long polling of Engine.IO), or with
 *   `--transport websocket` WebSocket only (no polling, no upgrade);
 * - a client emits `join` with `{ user, topic? }` and an ack; the server joins
 *   it to the rooms `u:<user>` and `t:<topic>`, then acks;
 * - POST /publish `{ "to": "<room>", "payload": {...} }` emits `message` with
 *   the payload to the room and answers 204 (on the same HTTP server);
 * - pingInterval = the longest hold (a held poll is answered by a ping at the
 *   latest after that), pingTimeout 60 s: the only timer traffic of an idle
 *   client is one ping/pong per hold.
 *
 * Usage: node socketio-server.js --hold <seconds> [--port <n>] [--host <addr>] [--transport polling|websocket]
 * Prints `{"port": <n>}` on stdout once it listens.
 */
import http from 'node:http';
import { parseArgs } from 'node:util';
import { Server } from 'socket.io';
import { listenAndAnnounce } from './announce.js';

const { values } = parseArgs({
  options: {
    hold: { type: 'string', default: '120' },
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    transport: { type: 'string', default: 'polling' },
  },
});
if (values.transport !== 'polling' && values.transport !== 'websocket')
  throw new Error(`--transport ${values.transport}: polling or websocket`);
const transport = values.transport;
const holdMs = Math.round(Number(values.hold) * 1000);
const PING_TIMEOUT_MS = 60_000;
const MAX_BODY = 1 << 20;

interface JoinRequest {
  user?: unknown;
  topic?: unknown;
}

interface PublishRequest {
  to?: unknown;
  payload?: unknown;
}

const httpServer = http.createServer((request, response) => {
  if (request.method !== 'POST' || request.url !== '/publish') {
    response.writeHead(404).end();
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  request.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > MAX_BODY) {
      response.writeHead(413).end();
      request.destroy();
      return;
    }
    chunks.push(chunk);
  });
  request.on('end', () => {
    let body: PublishRequest;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as PublishRequest;
    } catch {
      response.writeHead(400).end();
      return;
    }
    if (typeof body.to !== 'string' || body.payload === undefined) {
      response.writeHead(400).end();
      return;
    }
    io.to(body.to).emit('message', body.payload);
    response.writeHead(204).end();
  });
});

const io = new Server(httpServer, {
  transports: [transport],
  perMessageDeflate: false,
  allowUpgrades: false,
  pingInterval: holdMs,
  pingTimeout: PING_TIMEOUT_MS,
  serveClient: false,
});

io.on('connection', (socket) => {
  socket.on('join', (request: JoinRequest, ack?: (ok: boolean) => void) => {
    if (typeof request?.user !== 'string') {
      ack?.(false);
      return;
    }
    const rooms = [`u:${request.user}`];
    if (typeof request.topic === 'string') rooms.push(`t:${request.topic}`);
    socket.join(rooms);
    ack?.(true);
  });
});

listenAndAnnounce(httpServer, Number(values.port), values.host as string, () => io.close());
