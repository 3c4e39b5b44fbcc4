/**
 * Socket.IO subscriber for the load generator: socket.io-client 4 with one
 * transport only (polling here; WebSocket in socketio-ws-subscriber.ts),
 * one Engine.IO connection per subscriber
 * (`forceNew`, no multiplexing of subscribers over one connection). On every
 * (re)connection it emits `join` with its user and topic and the server acks
 * once the socket is in the rooms; `subscribe()` resolves on the first ack.
 * (Rooms do not survive a reconnection to a new session, hence the re-join;
 * what is emitted while a client is away is not kept for it: Socket.IO's
 * connection state recovery is off, as it is by default.)
 *
 * Polling connections: socket.io-client's default in Node.js (`agent: false`) is a
 * new connection per request. Here the subscribers share a few keep-alive
 * ReuseAgents (AgentPool): a subscriber's polls reuse one connection, and its
 * short POSTs (join, pong, close) borrow idle pooled ones, so a subscriber
 * holds one connection rather than two (one per subscriber would not fit
 * 15,000 subscribers in one process's 20,000 descriptors). A ReuseAgent also
 * keeps a poll cut by a stopping server from hanging in xmlhttprequest-ssl's
 * retry on reused sockets (see reuse-agent.ts): the client sees the error and
 * reconnects, as with the default agent.
 */
import { io, type ManagerOptions, type Socket } from 'socket.io-client';
import { AgentPool } from '../peers-servers/reuse-agent.js';
import type { BenchPayload, LoadContext, SubscriberFactory } from '../target.js';

export function socketioUserRoom(user: string): string {
  return `u:${user}`;
}

export function socketioTopicRoom(topic: string): string {
  return `t:${topic}`;
}

const JOIN_TIMEOUT_MS = 120_000;

export type SocketioTransport = 'polling' | 'websocket';

/** Where one load generator's subscribers connect from: the shared polling agents, or a bound address. */
interface Connections {
  /** socket.io-client options for the next subscriber's connection. */
  next(): Partial<ManagerOptions>;
}

/** Polling: the subscribers share a few keep-alive ReuseAgents (see above). */
function pollingConnections(localAddress: string | undefined): Connections {
  const agents = new AgentPool(localAddress);
  // engine.io-client passes `agent` to its Node.js XMLHttpRequest; its type says string | boolean.
  return { next: () => ({ transports: ['polling'], upgrade: false, agent: agents.take() as unknown as string }) };
}

/** WebSocket: one connection per subscriber (ws, through engine.io-client), bound to `localAddress` when given. */
function websocketConnections(localAddress: string | undefined): Connections {
  // engine.io-client hands `localAddress` on to ws; socket.io-client's option types do not list it.
  const options = { transports: ['websocket'], upgrade: false, ...(localAddress ? { localAddress } : {}) };
  return { next: () => options };
}

/** The Socket.IO subscriber factory for one transport. */
export function socketioSubscriberFactory(transport: SocketioTransport): SubscriberFactory {
  const connectionsFor = transport === 'polling' ? pollingConnections : websocketConnections;
  let connections = connectionsFor(undefined);
  let reportError: (kind: string) => void = () => {};
  return {
    init(context: LoadContext) {
      connections = connectionsFor(context.localAddress);
      reportError = context.reportError;
    },

    subscribe(serverUrl, user, topic, onMessage) {
      return new Promise((resolve, reject) => {
        const socket: Socket = io(serverUrl, {
          ...connections.next(),
          forceNew: true,
          multiplex: false,
          reconnection: true,
          // 100 ms doubling up to 1 s with ±50 % jitter, like the other subscribers.
          reconnectionDelay: 100,
          reconnectionDelayMax: 1_000,
          randomizationFactor: 0.5,
          timeout: JOIN_TIMEOUT_MS,
        });
        let joined = false;
        const close = () => socket.close();
        const timer = setTimeout(() => {
          if (joined) return;
          close();
          reject(new Error(`socket.io: ${user} not joined after ${JOIN_TIMEOUT_MS} ms`));
        }, JOIN_TIMEOUT_MS);
        socket.on('message', (payload: BenchPayload) => onMessage(payload));
        socket.io.on('reconnect_attempt', () => reportError('reconnect'));
        socket.on('connect', () => {
          socket.emit('join', { user, topic }, (ok: boolean) => {
            if (!ok) {
              clearTimeout(timer);
              close();
              reject(new Error(`socket.io: join refused for ${user}`));
              return;
            }
            if (joined) return;
            joined = true;
            clearTimeout(timer);
            resolve({ close });
          });
        });
      });
    },
  };
}

export const factory: SubscriberFactory = socketioSubscriberFactory('polling');
