/** Floor of a held request on Fastify 5 (the framework pns serves its other routes with): a route that never replies. */
import Fastify, { type FastifyReply } from 'fastify';
import { listenAndAnnounce } from './announce.js';

const held = new Set<FastifyReply>();
const app = Fastify({ logger: false });

// Not async, and never calls reply.send: Fastify leaves the request open.
app.get('/pns/poll', (request, reply) => {
  held.add(reply);
  request.raw.on('close', () => held.delete(reply));
});

// ready() builds the router; app.server then serves it without Fastify's own listen().
await app.ready();
listenAndAnnounce(app.server);
