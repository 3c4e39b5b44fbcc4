import http from 'node:http';
import type { Socket } from 'node:net';
import cors from '@fastify/cors';
import { PnsError } from '@pns/protocol';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest, LogController } from 'fastify';
import type { Logger } from 'pino';
import type { ServerConfig } from '../config/options.js';
import { opsPaths } from '../ops/ops-routes.js';
import { toPnsError, writeRawError } from './errors.js';
import type { RawRoutes } from './raw-routes.js';
import { admissionRefusal, closesConnection, isUnexpected, redactUrl, requestLogLevel } from './request-rules.js';
import { PnsIncomingMessage } from './upgrade-offer.js';

export interface AppOptions {
  config: ServerConfig;
  logger: Logger;
  isDraining(): boolean;
  openConnections(): number;
  /** Served by node:http before the framework sees the request. */
  rawRoutes: RawRoutes;
}

function sendError(reply: FastifyReply, error: PnsError): void {
  if (error.retryAfter !== undefined) reply.header('retry-after', String(error.retryAfter));
  reply.code(error.status).type('application/json; charset=utf-8').send(error.toBody());
}

/** Answers a malformed request that never reached a route (bad request line, oversized headers, timeouts). */
function answerClientError(error: NodeJS.ErrnoException, socket: Socket): void {
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const code =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? 'HEADERS_TOO_LARGE'
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? 'REQUEST_TIMEOUT'
        : 'BAD_REQUEST';
  writeRawError(socket, new PnsError(code));
}

/**
 * Publishers' paths are not refused at the connection cap: a publish is what answers the held polls, and a flood
 * of browsers must not stop it (their own key check follows at once).
 */
const publisherPaths = new Set(['/pns/publish', '/pns/revoke']);

/** The Fastify instance with every cross-cutting rule: errors, limits, draining, CORS, logs. */
export async function createApp(options: AppOptions): Promise<FastifyInstance> {
  const { config, logger, rawRoutes } = options;
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // One line per request from the onResponse hook below, with the sid redacted.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.maxBodyBytes,
    serverFactory: (frameworkHandler) => {
      const serve: http.RequestListener = (request, response) => {
        if (!rawRoutes.dispatch(request, response)) frameworkHandler(request, response);
      };
      const requestTimeoutMs = config.requestTimeoutSeconds * 1000;
      const server = http.createServer(
        {
          // Node would answer a request without Host with an empty 400; let it through to a catalog answer instead.
          requireHostHeader: false,
          IncomingMessage: PnsIncomingMessage,
          // Node looks for requests past their timeout this often (30 s by default, however short the timeout).
          connectionsCheckingInterval: Math.min(30_000, Math.max(250, requestTimeoutMs / 4)),
        },
        serve,
      );
      // Node answers an Expect other than 100-continue itself, with an empty 417 outside the catalog. HTTP lets a
      // server ignore an expectation it does not know (RFC 9110 section 10.1.1): the request is served as usual.
      server.on('checkExpectation', serve);
      server.keepAliveTimeout = config.keepAliveSeconds * 1000;
      // Limits how long a client may take to send its request (slowloris, a slow publish body), not how
      // long a held poll waits for its answer.
      server.requestTimeout = requestTimeoutMs;
      server.headersTimeout = requestTimeoutMs;
      // Upgrades (WebSocket) never reach a framework: node:http hands them to this event.
      server.on('upgrade', (request, socket, head) => rawRoutes.dispatchUpgrade(request, socket, head));
      return server;
    },
    return503OnClosing: false,
    exposeHeadRoutes: false,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    clientErrorHandler: answerClientError,
    // Errors Fastify raises before routing (a path with broken percent-encoding) get catalog bodies too.
    frameworkErrors: (error, _request, reply) => sendError(reply, toPnsError(error)),
    routerOptions: { ignoreDuplicateSlashes: false },
  });

  // JSON is UTF-8 (RFC 8259). Fastify's parser decodes a body leniently, so a publish with bytes that are not UTF-8
  // was stored with U+FFFD in their place: other data than was sent. The same parser, fed strictly.
  const json = app.getDefaultJsonParser('error', 'error');
  const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    let text: string;
    try {
      text = utf8.decode(body as Buffer);
    } catch {
      done(new PnsError('BAD_REQUEST', 'The body is not valid UTF-8.'), undefined);
      return;
    }
    json(request, text, done);
  });

  /** Paths and their methods, for 405 answers. */
  const routeMethods = new Map<string, string[]>(rawRoutes.paths().map((path) => [path, ['GET']]));
  // CONNECT never reaches a route: Node hands it to this event, or closes the socket without a word.
  app.server.on('connect', (request: { url?: string }, socket: Socket) => {
    const allowed = routeMethods.get((request.url ?? '').split('?', 1)[0] as string);
    if (allowed) writeRawError(socket, new PnsError('METHOD_NOT_ALLOWED'), { Allow: allowed.join(', ') });
    else writeRawError(socket, new PnsError('NOT_FOUND'));
  });

  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    routeMethods.set(route.url, [...(routeMethods.get(route.url) ?? []), ...methods]);
  });

  if (config.corsOrigins.length > 0) {
    // The CORS plugin answers an OPTIONS request that is not a whole preflight (no Origin, or no
    // Access-Control-Request-Method) with a text/plain 400 of its own; this hook, added first, runs first. It
    // answers by itself: the plugin's OPTIONS route predates the error handler below, so a throw would not reach it.
    app.addHook('onRequest', async (request, reply) => {
      if (request.method === 'OPTIONS' && (!request.headers.origin || !request.headers['access-control-request-method'])) {
        sendError(
          reply,
          new PnsError('BAD_REQUEST', 'An OPTIONS request must be a CORS preflight, with Origin and Access-Control-Request-Method.'),
        );
        return reply;
      }
    });
  }

  // Registered before the hooks below, whose refusals (OVERLOADED, SHUTTING_DOWN) a browser on another
  // origin must be able to read, Retry-After included; otherwise it sees a network error.
  await app.register(cors, {
    origin: config.corsOrigins.length > 0 ? config.corsOrigins : false,
    methods: ['GET', 'POST'],
    exposedHeaders: ['Retry-After'],
    maxAge: 600,
  });

  const admission = { isDraining: options.isDraining, openConnections: options.openConnections, maxConnections: config.maxConnections };
  app.addHook('onRequest', async (request) => {
    const path = request.url.split('?', 1)[0] as string;
    const refusal = admissionRefusal(
      request.raw,
      admission,
      opsPaths.has(path) ? 'always' : publisherPaths.has(path) ? 'from the connection cap' : undefined,
    );
    if (refusal) throw refusal;
  });

  // Nothing pns answers may be cached: every answer depends on the moment it is given.
  app.addHook('onSend', async (_request, reply) => {
    reply.header('cache-control', 'no-store');
  });

  app.addHook('onResponse', async (request: FastifyRequest, reply: FastifyReply) => {
    const level = requestLogLevel(reply.statusCode, false);
    if (!logger.isLevelEnabled(level)) return;
    request.log[level](
      { method: request.method, url: redactUrl(request.url), status: reply.statusCode, ms: Math.round(reply.elapsedTime) },
      'request',
    );
  });

  app.setErrorHandler((error, request, reply) => {
    const pnsError = toPnsError(error);
    if (isUnexpected(pnsError)) request.log.error({ err: error, url: redactUrl(request.url), code: pnsError.code }, 'request failed');
    if (closesConnection(pnsError)) reply.header('connection', 'close');
    sendError(reply, pnsError);
  });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?', 1)[0] as string;
    const allowed = routeMethods.get(path);
    if (allowed && !allowed.includes(request.method)) {
      reply.header('allow', allowed.join(', '));
      sendError(reply, new PnsError('METHOD_NOT_ALLOWED'));
      return;
    }
    sendError(reply, new PnsError('NOT_FOUND'));
  });

  return app;
}
