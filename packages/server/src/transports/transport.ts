import type { IncomingMessage } from 'node:http';
import type { SessionResolver } from '../auth/session-resolver.js';
import type { ServerConfig } from '../config/options.js';
import type { RawRoutes } from '../http/raw-routes.js';
import type { ClientPositionStore } from '../hub/client-positions.js';
import type { Hub } from '../hub/hub.js';
import type { PnsMetrics } from '../ops/metrics.js';
import type { MessageRenderer } from './render.js';

/** What every transport shares: auth, the hub and positions, limits, rendering and metrics. */
export interface TransportContext {
  /** Routes served on node:http directly: where requests are held open. */
  rawRoutes: RawRoutes;
  config: ServerConfig;
  hub: Hub;
  sessions: SessionResolver;
  clientPositions: ClientPositionStore;
  renderer: MessageRenderer;
  metrics: PnsMetrics;
  /** The client's address of a request, behind trusted proxies too (http/client-address.ts). */
  clientAddress(request: IncomingMessage): string;
  /** Epoch ms this server started: cursorless clients whose token is older may have polled its predecessor. */
  startedAt: number;
}

/**
 * A way for clients to receive messages (long polling, Server-Sent Events;
 * WebSocket later). Each registers its routes and opens hub subscriptions with a sink
 * that writes to its clients; it owns nothing else.
 */
export interface Transport {
  readonly name: string;
  register(context: TransportContext): void;
  /** Stops what the transport runs beside its subscriptions (a shared heartbeat timer). */
  close?(): void;
}
