import { randomBytes } from 'node:crypto';
import { type AddressInfo, Server as NetServer } from 'node:net';
import { hostname } from 'node:os';
import type { FastifyInstance } from 'fastify';
import { type Logger, pino } from 'pino';
import { dashboardAccess, dashboardAssets, registerAdminRoutes } from './admin/admin-routes.js';
import { AdminStats } from './admin/admin-stats.js';
import { LocalNodeBoard } from './admin/node-board.js';
import { NodeSampler } from './admin/node-sampler.js';
import { BearerKeyVerifier } from './auth/bearer-key.js';
import { jwksKeys } from './auth/jwks-keys.js';
import { JwtSessionResolver } from './auth/jwt-session-resolver.js';
import { MemoryRevocations, RevocationCheckingResolver, sidDigest } from './auth/revocations.js';
import type { SessionResolver } from './auth/session-resolver.js';
import type { Broker } from './broker/broker.js';
import { type Storage, storageFromConfig } from './broker/broker-from-config.js';
import type { ServerConfig } from './config/options.js';
import { DemoMailbox } from './demo/demo-mailbox.js';
import { registerDemoRoutes, webmailAssets } from './demo/demo-routes.js';
import { createApp } from './http/app.js';
import { clientAddressOf } from './http/client-address.js';
import { registerPublishRoute } from './http/publish-route.js';
import { PublishRateLimiter } from './http/rate-limiter.js';
import { RawRoutes } from './http/raw-routes.js';
import { registerRevokeRoute } from './http/revoke-route.js';
import { type ClientPositionStore, MemoryClientPositionStore } from './hub/client-positions.js';
import { Hub } from './hub/hub.js';
import { PnsMetrics } from './ops/metrics.js';
import { registerOpsRoutes } from './ops/ops-routes.js';
import { longPollTransport } from './transports/long-poll.js';
import { MessageRenderer } from './transports/render.js';
import { createSseTransport } from './transports/sse.js';
import type { Transport } from './transports/transport.js';
import { createWebSocketTransport } from './transports/websocket.js';
import { PageAssets } from './web/page-assets.js';

export interface PnsServerParts {
  logger?: Logger;
  broker?: Broker;
  sessions?: SessionResolver;
  clientPositions?: ClientPositionStore;
  transports?: Transport[];
}

export interface PnsServer {
  readonly config: ServerConfig;
  readonly app: FastifyInstance;
  readonly hub: Hub;
  readonly broker: Broker;
  readonly metrics: PnsMetrics;
  readonly logger: Logger;
  /** Starts listening; resolves with the base URL (`http://host:port`). */
  listen(): Promise<string>;
  /**
   * Graceful shutdown: refuses new requests with SHUTTING_DOWN, answers every
   * held poll over the drain window, then closes everything.
   */
  shutdown(): Promise<void>;
}

/** The composition root: every part of a pns node is made and wired here, and only here. */
export async function createPnsServer(config: ServerConfig, parts: PnsServerParts = {}): Promise<PnsServer> {
  const logger = parts.logger ?? pino({ level: config.logLevel, base: { service: 'pns' } });
  // Bookkeeping outlives the longest ttl and two holds, so a client that keeps polling never sees a false gap.
  const positionLifetimeMs = config.retentionSeconds * 1000 + config.maxHoldSeconds * 2000;
  // A broker given by a test comes without a store of its own: positions then stay in memory.
  const metrics = new PnsMetrics();
  const storage = parts.broker ? undefined : await storageFromConfig(config, logger, metrics, positionLifetimeMs);
  const broker = parts.broker ?? (storage as Storage).broker;
  // Messages carry Redis's time (`ts`): their delivery latency is measured on that clock, not this node's.
  const clock = storage?.clock ?? Date.now;
  let draining = false;
  let openConnections = 0;
  const isDraining = (): boolean => draining;
  const hub = new Hub(
    broker,
    {
      pageLimit: config.pageLimit,
      maxPerSession: config.maxPollsPerSession,
      maxPerUser: config.maxConnectionsPerUser,
      maxPerAddress: config.maxConnectionsPerAddress,
    },
    {
      changed: (transport, delta) => metrics.heldConnections.inc({ transport }, delta),
      delivered: (subscription, delivery) => {
        const now = clock();
        metrics.delivered.inc({ transport: subscription.spec.transport }, delivery.entries.length);
        for (const entry of delivery.entries) metrics.deliveryLatency.observe(Math.max(0, now - entry.message.ts) / 1000);
      },
    },
  );
  metrics.countHubEntries(() => hub.stats());
  const rawRoutes = new RawRoutes({
    logger,
    corsOrigins: config.corsOrigins,
    isDraining,
    openConnections: () => openConnections,
    maxConnections: config.maxConnections,
  });
  const tokenSessions =
    parts.sessions ??
    storage?.sessions ??
    new JwtSessionResolver({
      secrets: config.secrets,
      jwks: config.jwks && jwksKeys(config.jwks),
      issuer: config.jwtIssuer,
      audience: config.jwtAudience,
    });
  const revocations = storage?.revocations ?? new MemoryRevocations({ keepUserRevocationMs: config.revocationSeconds * 1000 });
  // Every node ends its own connections of a revoked session, wherever the revoke was asked.
  revocations.onRevoked(({ user, sidDigest: digest }) => {
    hub.revoke(user, digest === undefined ? undefined : (sessionKey) => sidDigest(sessionKey) === digest);
  });
  // Notices missed while Redis was away: every live session on this node is checked again.
  revocations.onResync(() => {
    for (const session of hub.liveSessions()) {
      revocations.isRevoked(session, session.sessionKey).then(
        (revoked) => {
          if (revoked) hub.revoke(session.userId, (sessionKey) => sessionKey === session.sessionKey);
        },
        () => undefined, // Redis away again: the next resync checks them
      );
    }
  });
  const sessions = new RevocationCheckingResolver(tokenSessions, revocations);
  const context = {
    config,
    hub,
    rawRoutes,
    sessions,
    clientPositions:
      parts.clientPositions ??
      storage?.clientPositions ??
      new MemoryClientPositionStore({ maxEntries: config.clientPositions, ttlMs: positionLifetimeMs }),
    renderer: new MessageRenderer(),
    metrics,
    clientAddress: clientAddressOf(config.trustedProxies),
    startedAt: Date.now(),
  };
  // Transports add their raw routes before the app is made: its 405 answers list them.
  const transports = parts.transports ?? [longPollTransport, createSseTransport(), createWebSocketTransport()];
  for (const transport of transports) transport.register(context);
  const app = await createApp({ config, logger, isDraining, openConnections: () => openConnections, rawRoutes });
  app.server.on('connection', (socket) => {
    openConnections++;
    metrics.openConnections.inc();
    socket.once('close', () => {
      openConnections--;
      metrics.openConnections.dec();
    });
  });
  registerOpsRoutes(app, { metrics, isDraining });
  let adminStats: AdminStats | undefined;
  if (dashboardAccess(config) !== 'closed') {
    // The suffix tells apart processes that share a host name and a pid (containers all run as pid 1).
    const node = `${hostname()}:${process.pid}-${randomBytes(2).toString('hex')}`;
    // Its uptime is shown as a sample's time minus its start: both on the shared clock.
    const sampler = new NodeSampler(metrics, node, context.startedAt + clock() - Date.now());
    adminStats = new AdminStats(sampler, storage?.nodeBoard ?? new LocalNodeBoard(), logger, clock);
    adminStats.start();
    registerAdminRoutes(app, { config, stats: adminStats, assets: new PageAssets(dashboardAssets) });
  }
  if (config.demo) {
    const mailbox = new DemoMailbox(broker, { pageLimit: config.pageLimit, ttlSeconds: config.retentionSeconds, metrics });
    // loadConfig refuses the demo without a secret to sign its users' tokens with.
    const signing = { secret: config.secret as string, issuer: config.jwtIssuer, audience: config.jwtAudience };
    registerDemoRoutes(app, { ...signing, sessions, mailbox, assets: new PageAssets(webmailAssets) });
  }
  const publishKeys = new BearerKeyVerifier(config.publishKeys);
  registerRevokeRoute(app, { publishKeys, sessions: tokenSessions, revocations });
  registerPublishRoute(app, {
    broker,
    publishKeys,
    rateLimiter: new PublishRateLimiter(publishKeys.scopes, { rate: config.publishRate, burst: config.publishBurst }),
    metrics,
    defaultTtlSeconds: config.ttlSeconds,
    maxTtlSeconds: config.retentionSeconds,
    maxBatch: config.maxBatch,
    maxRecipients: config.maxRecipients,
  });

  let shutdownPromise: Promise<void> | undefined;
  return {
    config,
    app,
    hub,
    broker,
    metrics,
    logger,
    async listen() {
      await app.listen({ port: config.port, host: config.host, backlog: config.backlog });
      const address = app.server.address() as AddressInfo;
      const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      return `http://${host}:${address.port}`;
    },
    shutdown() {
      shutdownPromise ??= (async () => {
        draining = true;
        // Stop accepting connections but keep the established ones: http.Server#close
        // would also drop idle keep-alive sockets, and a request arriving on one should
        // be told SHUTTING_DOWN (come back in 1–5 s), not see a reset.
        NetServer.prototype.close.call(app.server);
        await hub.drain(config.drainSeconds * 1000);
        // Held polls are answered; anything still open after a grace second is cut.
        const grace = setTimeout(() => app.server.closeAllConnections(), 1000);
        await app.close();
        clearTimeout(grace);
        await adminStats?.stop();
        for (const transport of transports) transport.close?.();
        await revocations.close();
        await broker.close();
        await storage?.close();
      })();
      return shutdownPromise;
    },
  };
}
