/**
 * Socket.IO 4 over WebSocket as a benchmark target: the same peer server as
 * the `socket.io` target (bench/src/peers-servers/socketio-server.ts, its own
 * process pinned to the server core, one room per user and per topic,
 * POST /publish), started with `--transport websocket`: WebSocket only, and
 * clients that connect with `transports: ['websocket']`.
 */
import { startPeerServer } from '../peers-servers/peer-process.js';
import type { Target } from '../target.js';
import { socketioTarget } from './socketio.js';

const SERVER_SCRIPT = new URL('../peers-servers/socketio-server.js', import.meta.url);

export const socketioWsTarget: Target = {
  ...socketioTarget,
  name: 'socket.io-ws',
  subscriberModule: './socketio-ws-subscriber.js',
  start: (options) => startPeerServer(SERVER_SCRIPT, options, ['--transport', 'websocket']),
};
