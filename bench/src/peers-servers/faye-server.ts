/**
 * Faye peer server for the benchmark, run as its own Node.js process (pinned
 * by the driver with taskset): a faye.NodeAdapter mounted at /faye with the
 * in-memory engine. Clients long-poll (`/meta/connect` is held for `timeout`
 * seconds, the longest hold). Publishers POST Bayeux publish messages to /faye
 * directly (Faye accepts a publish without a client id), so there is no extra
 * endpoint.
 *
 * Usage: node faye-server.js --hold <seconds> [--port <n>] [--host <addr>]
 * Prints `{"port": <n>}` on stdout once it listens.
 */

import http from 'node:http';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { listenAndAnnounce } from './announce.js';

/** The part of faye's (untyped) API this server uses. */
interface FayeNodeAdapter {
  attach(server: http.Server): void;
  close(): void;
}
interface FayeModule {
  NodeAdapter: new (options: { mount: string; timeout: number }) => FayeNodeAdapter;
}

const faye = createRequire(import.meta.url)('faye') as FayeModule;

const { values } = parseArgs({
  options: {
    hold: { type: 'string', default: '120' },
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
  },
});

const bayeux = new faye.NodeAdapter({ mount: '/faye', timeout: Number(values.hold) });
const httpServer = http.createServer((_request, response) => {
  response.writeHead(404).end();
});
bayeux.attach(httpServer);

listenAndAnnounce(httpServer, Number(values.port), values.host as string, () => bayeux.close());
