/**
 * Socket.IO 4 as a benchmark target: bench/src/peers-servers/socketio-server.ts
 * in its own Node.js process pinned to the server core, polling transport only,
 * one room per user (`u:<user>`) and per topic (`t:<topic>`). Publishing goes
 * through the server's HTTP endpoint POST /publish `{to, payload}`, which emits
 * to the room (Socket.IO has no HTTP publish API of its own; an in-process emit
 * behind one HTTP request is what an application server would do).
 */
import { posterOf, startPeerServer } from '../peers-servers/peer-process.js';
import type { BenchPayload, StartedServer, Target, TargetOptions } from '../target.js';
import { socketioTopicRoom, socketioUserRoom } from './socketio-subscriber.js';

const SERVER_SCRIPT = new URL('../peers-servers/socketio-server.js', import.meta.url);

export const socketioTarget: Target = {
  name: 'socket.io',
  subscriberModule: './socketio-subscriber.js',

  start: (options: TargetOptions) => startPeerServer(SERVER_SCRIPT, options),

  async publishToUser(server: StartedServer, user: string, payload: BenchPayload): Promise<void> {
    await posterOf(server).post('/publish', JSON.stringify({ to: socketioUserRoom(user), payload }));
  },

  async publishToTopic(server: StartedServer, topic: string, payload: BenchPayload): Promise<void> {
    await posterOf(server).post('/publish', JSON.stringify({ to: socketioTopicRoom(topic), payload }));
  },
};

/** The same target under the name bench/src/targets/index.ts expects. */
export const socketIoTarget: Target = socketioTarget;
