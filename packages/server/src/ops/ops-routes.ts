import { PnsError } from '@pns/protocol';
import type { FastifyInstance } from 'fastify';
import { adminPaths } from '../admin/admin-routes.js';
import type { PnsMetrics } from './metrics.js';

/** Paths that answer even while draining or at the connection cap (the dashboard's stats among them). */
export const opsPaths = new Set(['/healthz', '/readyz', '/metrics', adminPaths.stats]);

/** Liveness, readiness (false while draining) and Prometheus metrics. */
export function registerOpsRoutes(app: FastifyInstance, options: { metrics: PnsMetrics; isDraining(): boolean }): void {
  // pid: with several workers on one port, which one answered.
  app.get('/healthz', async () => ({ status: 'ok', pid: process.pid }));
  app.get('/readyz', async () => {
    if (options.isDraining()) throw new PnsError('SHUTTING_DOWN', undefined, { retryAfter: 1 });
    return { status: 'ready' };
  });
  app.get('/metrics', async (_request, reply) => {
    reply.type(options.metrics.registry.contentType);
    return options.metrics.render();
  });
}
