/**
 * The least a node:http long-poll server can do per message, speaking enough of pns's protocol for the
 * same client: POST /pns/publish `{"to":"user:<u>",…}` answers the one held GET of that user (or keeps
 * the message until it polls); GET /pns/poll?sid=<token> reads the user from the token's payload (no
 * signature check), answers at once when `hold=0` or a message waits, else holds. Answers are pns-shaped
 * JSON: `{"c":…,"msg":[…],"cursor":"x"}`.
 */
import http from 'node:http';
import { listenAndAnnounce } from './announce.js';

const held = new Map<string, http.ServerResponse>();
const pending = new Map<string, string[]>();

function answer(response: http.ServerResponse, messages: string[]): void {
  const body = `{"c":${messages.length},"msg":[${messages.join(',')}],"cursor":"x"}`;
  response.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  response.end(body);
}

function publish(request: http.IncomingMessage, response: http.ServerResponse): void {
  let body = '';
  request.setEncoding('utf8');
  request.on('data', (chunk: string) => {
    body += chunk;
  });
  request.on('end', () => {
    let message: { to?: unknown };
    try {
      message = JSON.parse(body) as { to?: unknown };
    } catch {
      response.writeHead(400).end();
      return;
    }
    if (typeof message.to !== 'string' || !message.to.startsWith('user:')) {
      response.writeHead(400).end();
      return;
    }
    const user = message.to.slice('user:'.length);
    const json = JSON.stringify(message);
    const waiting = held.get(user);
    if (waiting) {
      held.delete(user);
      answer(waiting, [json]);
    } else pending.set(user, [...(pending.get(user) ?? []), json]);
    response.writeHead(200, { 'content-type': 'application/json', 'content-length': 2 });
    response.end('{}');
  });
}

function userOfToken(sid: string | null): string | undefined {
  try {
    const payload = JSON.parse(Buffer.from(sid?.split('.')[1] ?? '', 'base64url').toString('utf8')) as { sub?: unknown };
    return typeof payload.sub === 'string' ? payload.sub : undefined;
  } catch {
    return undefined;
  }
}

function poll(url: string, response: http.ServerResponse): void {
  const query = new URLSearchParams(url.slice(url.indexOf('?') + 1));
  const user = userOfToken(query.get('sid'));
  if (user === undefined) {
    response.writeHead(401).end();
    return;
  }
  const waiting = pending.get(user);
  if (query.get('hold') === '0' || waiting) {
    pending.delete(user);
    answer(response, waiting ?? []);
    return;
  }
  // One held poll per user: a newer one replaces (and answers) the older.
  const older = held.get(user);
  if (older) answer(older, []);
  held.set(user, response);
  response.on('close', () => {
    if (held.get(user) === response) held.delete(user);
  });
}

const server = http.createServer((request, response) => {
  const url = request.url ?? '/';
  if (request.method === 'POST' && url.startsWith('/pns/publish')) publish(request, response);
  else if (request.method === 'GET' && url.startsWith('/pns/poll?')) poll(url, response);
  else response.writeHead(404).end();
});

listenAndAnnounce(server);
