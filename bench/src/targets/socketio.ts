/**
 * Socket.IO 4 as a benchmark target: bench/src/peers-servers/socketio-server.ts
 * in its own Node.js process pinned to the server core, polling transport only,
 * one room per user (`u:<user>`) and per topic (`t:<topic>`). Publishing goes
 * through the server's HTTP endpoint POST /publish `{to, payload}`, which emits
 * to the room (Socket.IO has no HTTP publish API of its own; an in-process emit
 * behind one HTTP request is what an application server would do).
 */
import { JsonPoster, startNodePeer, stopProcess } from '../peers-servers/peer-process.js';
import type { BenchPayload, StartedServer, Target, TargetOptions } from '../target.js';
import { socketioTopicRoom, socketioUserRoom } from './socketio-subscriber.js';

const SERVER_SCRIPT = new URL('../peers-servers/socketio-server.js', import.meta.url);

const posters = new WeakMap<StartedServer, JsonPoster>();

function posterOf(server: StartedServer): JsonPoster {
  const poster = posters.get(server);
  if (poster === undefined) throw new Error('not a server started by socketioTarget');
  return poster;
}

export const socketioTarget: Target = {
  name: 'socket.io',
  subscriberModule: './socketio-subscriber.js',

  async start(options: TargetOptions): Promise<StartedServer> {
    const args = ['--hold', String(options.holdSeconds), '--port', String(options.port ?? 0)];
    const { child, port } = await startNodePeer(SERVER_SCRIPT, args, options.cpu);
    const url = `http://127.0.0.1:${port}`;
    const poster = new JsonPoster(url);
    const server: StartedServer = {
      url,
      pids: [child.pid ?? 0],
      async stop() {
        poster.close();
        await stopProcess(child, 'SIGTERM', 10_000);
      },
    };
    posters.set(server, poster);
    return server;
  },

  async publishToUser(server: StartedServer, user: string, payload: BenchPayload): Promise<void> {
    await posterOf(server).post('/publish', JSON.stringify({ to: socketioUserRoom(user), payload }));
  },

  async publishToTopic(server: StartedServer, topic: string, payload: BenchPayload): Promise<void> {
    await posterOf(server).post('/publish', JSON.stringify({ to: socketioTopicRoom(topic), payload }));
  },
};

/** The same target under the name bench/src/targets/index.ts expects. */
export const socketIoTarget: Target = socketioTarget;
