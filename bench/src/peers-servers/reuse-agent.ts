/**
 * A keep-alive http.Agent for long-poll clients in the load generator that
 * really reuses its connections.
 *
 * A poll loop sends its next request from the previous response's 'end'
 * handler. Node.js returns that response's socket to the agent's free pool
 * only on the next tick ("after user-added end handlers have a chance to
 * run"), so a request made right there finds no free socket and the agent
 * opens a new connection: every delivered message would cost a TCP
 * connection (and a TIME_WAIT), and the server an accept. Browsers reuse the
 * connection. This agent hands a request its socket one event-loop turn later
 * (the way a queued request waits for a socket), when the previous socket is
 * free again. socket.io-client's and faye's Node transports poll this way and
 * cannot be changed, so their subscribers get these agents. (The Nchan
 * subscriber, whose loop is ours, uses one single-socket agent per subscriber
 * instead, where the next poll simply waits in the agent's queue.)
 * maxFreeSockets is raised from 256 so that idle pooled connections are not
 * closed after a burst (the servers close idle keep-alive connections anyway).
 *
 * Requests it serves report `reusedSocket` false, as they do with socket.io-client's
 * default (`agent: false`, a new connection per request). xmlhttprequest-ssl 2.1
 * (socket.io-client's Node XMLHttpRequest) answers ECONNRESET on a reused socket by
 * re-creating the request and never ending it: nothing is sent and the XHR waits
 * for ever. When a server stops, every held poll on a kept-alive connection fails
 * that way ("socket hang up"); if the retry then connects to the restarted server,
 * the client never learns that its session is gone (scenario D) until its heartbeat
 * runs out. With the flag off the error reaches engine.io-client, which reconnects.
 * (Node.js itself does not read the flag; the faye client does not either.)
 */
import http from 'node:http';
import { clientKeepAliveMsecs } from '../target.js';

type AddRequest = (this: http.Agent, request: http.ClientRequest, ...rest: unknown[]) => void;

export class ReuseAgent extends http.Agent {
  constructor(options: http.AgentOptions = {}) {
    super({ keepAlive: true, keepAliveMsecs: clientKeepAliveMsecs, scheduling: 'lifo', maxFreeSockets: 65_536, ...options });
  }
}

const addRequest = (http.Agent.prototype as unknown as { addRequest: AddRequest }).addRequest;

Object.defineProperty(ReuseAgent.prototype, 'addRequest', {
  value(this: http.Agent, request: http.ClientRequest, ...rest: unknown[]) {
    setImmediate(() => addRequest.call(this, request, ...rest));
  },
});

type ReuseSocket = (this: http.Agent, socket: unknown, request: http.ClientRequest) => void;

const reuseSocket = (http.Agent.prototype as unknown as { reuseSocket: ReuseSocket }).reuseSocket;

Object.defineProperty(ReuseAgent.prototype, 'reuseSocket', {
  value(this: http.Agent, socket: unknown, request: http.ClientRequest) {
    reuseSocket.call(this, socket, request);
    request.reusedSocket = false;
  },
});

/** A ReuseAgent bound to `localAddress` when given. */
export function reuseAgent(localAddress: string | undefined, options: http.AgentOptions = {}): ReuseAgent {
  return new ReuseAgent(localAddress === undefined ? options : { ...options, localAddress });
}

/**
 * A few ReuseAgents shared round-robin by the subscribers of one load
 * generator. Sharing lets a subscriber's short POSTs (beside its held poll)
 * borrow an idle pooled connection instead of keeping a second one per
 * subscriber (descriptors and ephemeral ports are bounded per process); several
 * agents keep the socket arrays an agent searches on every request short.
 */
export class AgentPool {
  private readonly agents: ReuseAgent[];
  private turn = 0;

  constructor(localAddress: string | undefined, size = 16) {
    this.agents = Array.from({ length: size }, () => reuseAgent(localAddress));
  }

  /** The agent for the next subscriber. */
  take(): ReuseAgent {
    const agent = this.agents[this.turn] as ReuseAgent;
    this.turn = (this.turn + 1) % this.agents.length;
    return agent;
  }
}
