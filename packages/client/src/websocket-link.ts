import { isPollAnswer, type StreamEnd, type StreamHandlers, type StreamLink, type StreamTarget, streamUrl } from './stream-link.js';

/** pns's close codes (protocol.md section 13) and what each means for the client. */
const closeCodes: Record<number, StreamEnd> = {
  1001: { kind: 'shutdown' },
  4000: { kind: 'superseded' },
  4001: { kind: 'expired' },
  4002: { kind: 'backend' },
  4008: { kind: 'slow' },
};

/** `GET /pns/ws`: every text frame is a poll answer; the first one comes once the client is caught up. */
export function openWebSocketLink(WebSocketClass: typeof WebSocket, target: StreamTarget, handlers: StreamHandlers): StreamLink {
  // WebSocket needs an absolute ws: or wss: URL; `url` may be relative to the page (`/push`).
  const absolute = new URL(target.base, globalThis.location?.href).href.replace(/\/+$/, '').replace(/^http/, 'ws');
  const socket = new WebSocketClass(streamUrl(target, '/pns/ws', absolute));
  let live = false;
  let ended = false;
  const end = (how: StreamEnd): void => {
    if (ended) return;
    ended = true;
    socket.onmessage = null;
    socket.onclose = null;
    socket.close();
    handlers.end(how);
  };
  socket.onmessage = (event: MessageEvent) => {
    let body: unknown;
    try {
      body = typeof event.data === 'string' ? JSON.parse(event.data) : undefined;
    } catch {
      body = undefined;
    }
    if (!isPollAnswer(body)) return end({ kind: 'closed' }); // not pns: something in between speaks WebSocket
    if (!live) {
      live = true;
      const heartbeat = (body as { heartbeat?: unknown }).heartbeat;
      handlers.live(typeof heartbeat === 'number' && heartbeat > 0 ? heartbeat : 0);
    }
    handlers.answer(body);
  };
  socket.onclose = (event: CloseEvent) => end(closeCodes[event.code] ?? { kind: 'closed' });
  socket.onerror = () => undefined; // a close event follows
  return {
    close: () => {
      ended = true;
      socket.onmessage = null;
      socket.onclose = null;
      socket.close();
    },
  };
}
