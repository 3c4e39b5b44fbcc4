/**
 * Faye subscriber for the load generator: faye.Client (Bayeux) with the
 * long-polling transport only (`websocket` and `eventsource` disabled), one
 * client per subscriber, subscribed to `/user/<user>` and, when given,
 * `/topic/<topic>`. `subscribe()` resolves when the server acknowledged every
 * subscription (the Subscription promises resolved). After a server restart
 * the client handshakes again and re-subscribes by itself.
 *
 * Connections: faye's Node transport sends every request through
 * http.globalAgent (it takes no agent option). One agent shared by thousands
 * of clients searches arrays of thousands of sockets on every request, and its
 * re-polls, sent from the previous answer's 'end' handler, would open new
 * connections (see ReuseAgent). So this module hands each client one of a few
 * shared keep-alive ReuseAgents (AgentPool), bound to the load generator's
 * source address, by wrapping the transport's request options
 * (`_buildParams`); the Bayeux traffic is unchanged.
 */
import type http from 'node:http';
import { createRequire } from 'node:module';
import { AgentPool } from '../peers-servers/reuse-agent.js';
import type { BenchPayload, LoadContext, SubscriberFactory } from '../target.js';

/** The part of faye's (untyped) client API used here. */
interface FayeSubscription extends PromiseLike<unknown> {
  cancel(): void;
}
interface FayeClient {
  readonly _dispatcher: object;
  disable(feature: string): void;
  on(event: 'transport:down' | 'transport:up', listener: () => void): void;
  subscribe(channel: string, callback: (data: unknown) => void): FayeSubscription;
  disconnect(): void;
}
interface FayeModule {
  Client: new (endpoint: string, options?: Record<string, unknown>) => FayeClient;
}

/** faye's Node.js long-polling transport (src/transport/node_http.js): the part wrapped here. */
interface NodeHttpTransport {
  readonly _dispatcher: object;
}
interface NodeHttpClass {
  prototype: { _buildParams(this: NodeHttpTransport, content: Buffer): http.RequestOptions };
}

const require = createRequire(import.meta.url);
const faye = require('faye') as FayeModule;
const NodeHttp = require('faye/src/transport/node_http') as NodeHttpClass;

/** The agents of this load generator's clients (bound to LoadContext.localAddress). */
let pool = new AgentPool(undefined);
/** Each client's agent, by the client's dispatcher (which its transports know). */
const agents = new WeakMap<object, http.Agent>();

function agentOf(dispatcher: object): http.Agent {
  let agent = agents.get(dispatcher);
  if (agent === undefined) {
    agent = pool.take();
    agents.set(dispatcher, agent);
  }
  return agent;
}

const buildParams = NodeHttp.prototype._buildParams;
NodeHttp.prototype._buildParams = function (this: NodeHttpTransport, content: Buffer): http.RequestOptions {
  const params = buildParams.call(this, content);
  if (params.agent === undefined) params.agent = agentOf(this._dispatcher);
  return params;
};

/** One channel segment: characters outside Bayeux's channel grammar are written as `$hh`. */
function segment(id: string): string {
  return id.replace(/[^A-Za-z0-9\-_!~()@]/g, (c) => `$${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

export function fayeUserChannel(user: string): string {
  return `/user/${segment(user)}`;
}

export function fayeTopicChannel(topic: string): string {
  return `/topic/${segment(topic)}`;
}

const SUBSCRIBE_TIMEOUT_MS = 120_000;
/** Seconds between retries after a failed request (Faye's default is 5 s; the other subscribers back off to 1 s). */
const RETRY_SECONDS = 1;

let reportError: (kind: string) => void = () => {};

export const factory: SubscriberFactory = {
  init(context: LoadContext) {
    pool = new AgentPool(context.localAddress);
    reportError = context.reportError;
  },

  async subscribe(serverUrl, user, topic, onMessage) {
    const client = new faye.Client(`${serverUrl}/faye`, { retry: RETRY_SECONDS });
    client.disable('websocket');
    client.disable('eventsource');
    let closed = false;
    client.on('transport:down', () => {
      if (!closed) reportError('transport down');
    });
    const close = () => {
      closed = true;
      client.disconnect();
    };
    const deliver = (data: unknown) => onMessage(data as BenchPayload);
    const channels = topic === undefined ? [fayeUserChannel(user)] : [fayeUserChannel(user), fayeTopicChannel(topic)];
    const subscriptions = channels.map((channel) => client.subscribe(channel, deliver));
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        Promise.all(subscriptions.map((s) => Promise.resolve(s))),
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`faye: ${user} not subscribed after ${SUBSCRIBE_TIMEOUT_MS} ms`)),
            SUBSCRIBE_TIMEOUT_MS,
          );
        }),
      ]);
    } catch (error) {
      close();
      throw error;
    } finally {
      clearTimeout(timer);
    }
    return { close };
  },
};
