/**
 * Subscriber of the held-request floors (raw net, node:http, Fastify), run in the bench's load generators:
 * one GET per subscriber on its own keep-alive agent, shaped like a pns held poll (token, hold), that the
 * server never answers. It counts as subscribed once the request is written; the tool's settle time lets
 * the server read it. A socket that closes or an answer that comes is reported as an error.
 */
import http from 'node:http';
import { createToken } from '@pns/publisher';
import type { LoadContext, SubscriberFactory } from '../target.js';
import { benchTokenTtl, pnsSecret } from '../targets/pns-config.js';

const connectTimeoutMs = 15_000;

let context: LoadContext = { holdSeconds: 3600, reportError: () => {} };

function hold(serverUrl: string, path: string): Promise<{ close(): void }> {
  const server = new URL(serverUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1, ...(context.localAddress ? { localAddress: context.localAddress } : {}) });
  return new Promise((resolve, reject) => {
    let open = false;
    let closed = false;
    // One report per subscriber: an error is followed by a close.
    const lost = (kind: string): void => {
      if (open && !closed) context.reportError(kind);
      closed = true;
    };
    const close = (): void => {
      closed = true;
      request.destroy();
      agent.destroy();
    };
    const request = http.get({ agent, hostname: server.hostname, port: server.port, path }, (response) => {
      response.resume();
      lost(`answered ${response.statusCode}`);
    });
    const timer = setTimeout(() => request.destroy(new Error('connect timeout')), connectTimeoutMs);
    request.on('finish', () => {
      clearTimeout(timer);
      open = true;
      resolve({ close });
    });
    request.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (open) lost(error.code ?? error.message.slice(0, 40));
      else {
        agent.destroy();
        reject(error);
      }
    });
    request.on('close', () => lost('closed'));
  });
}

export const factory: SubscriberFactory = {
  init(loadContext) {
    context = loadContext;
  },
  async subscribe(serverUrl, user) {
    const sid = await createToken({ secret: pnsSecret, user, topics: [], ttl: benchTokenTtl });
    return hold(serverUrl, `/pns/poll?sid=${sid}&hold=${context.holdSeconds}`);
  },
};
