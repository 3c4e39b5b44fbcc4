import { IncomingMessage } from 'node:http';

/** Whether an `Upgrade` header asks for WebSocket (it is a list: `websocket`, `h2c, websocket`, …). */
export function offersWebSocket(upgrade: string | undefined): boolean {
  return (upgrade ?? '').split(',').some((protocol) => protocol.trim().toLowerCase() === 'websocket');
}

const offered = Symbol('upgrade offered');

/**
 * node:http's request class with one rule changed: which requests leave HTTP for the server's `upgrade` event.
 * Node 20 sends there every request that offers an upgrade (`Connection: upgrade` with an `Upgrade` header) once
 * anything listens for upgrades, whatever it offers: `curl --http2` offers h2c on each request, and so its
 * publishes, polls and health checks were answered NOT_FOUND by the WebSocket route. Node's parser sets
 * `upgrade` before the head is read and reads it back after, so a getter decides per request: WebSocket
 * offers (and CONNECT) go to their events, any other offer is ignored, as RFC 9110 section 7.8 allows, and
 * the request is served as plain HTTP/1.1.
 */
export class PnsIncomingMessage extends IncomingMessage {}

Object.defineProperty(PnsIncomingMessage.prototype, 'upgrade', {
  get(this: PnsIncomingMessage & { [offered]?: boolean }): boolean {
    return this[offered] === true && (this.method === 'CONNECT' || offersWebSocket(this.headers.upgrade));
  },
  set(this: PnsIncomingMessage & { [offered]?: boolean }, value: boolean) {
    this[offered] = value === true;
  },
});
