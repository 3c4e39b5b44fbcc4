import { PnsError } from '@pns/protocol';
import type { FastifyInstance } from 'fastify';
import { BearerKeyVerifier } from '../auth/bearer-key.js';
import type { ServerConfig } from '../config/options.js';
import type { PageAssets } from '../web/page-assets.js';
import type { AdminStats } from './admin-stats.js';

export const adminPaths = { page: '/pns/admin', stats: '/pns/admin/stats', assets: '/pns/admin/assets' } as const;
export const dashboardAssets = [
  'dashboard.html',
  'dashboard.js',
  'dashboard.js.map',
  'dashboard.css',
  'dashboard.css.map',
  'uplot.css',
  'licenses.txt',
];

/**
 * Who may see the dashboard: with PNS_ADMIN_KEY, whoever sends it; without, everyone in dev mode (loopback
 * only) and no one otherwise, so a production node never shows its state by default.
 */
export function dashboardAccess(config: ServerConfig): 'closed' | 'open' | 'key' {
  if (config.adminKey !== undefined) return 'key';
  return config.devMode ? 'open' : 'closed';
}

/** The operations dashboard: its page and assets, and the stats it shows (JSON, polled every second). */
export function registerAdminRoutes(app: FastifyInstance, options: { config: ServerConfig; stats: AdminStats; assets: PageAssets }): void {
  const access = dashboardAccess(options.config);
  if (access === 'closed') return;
  const keys = options.config.adminKey === undefined ? undefined : new BearerKeyVerifier([options.config.adminKey]);
  // The page holds no data; the stats it fetches need the key.
  app.get(adminPaths.page, options.assets.page('dashboard.html'));
  options.assets.serve(app, adminPaths.assets);
  app.get(adminPaths.stats, {
    onRequest: async (request) => {
      if (keys && keys.verify(request.headers.authorization) === undefined) throw new PnsError('ADMIN_UNAUTHORIZED');
    },
    handler: async () => options.stats.snapshot(),
  });
}
