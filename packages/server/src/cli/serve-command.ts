import cluster from 'node:cluster';
import { parseArgs } from 'node:util';
import { createToken } from '@pns/publisher';
import { ConfigError, loadConfig, rawOptionsFrom } from '../config/load-config.js';
import { type OptionKey, optionTable, type RawOptions, type ServerConfig } from '../config/options.js';
import { createPnsServer, type PnsServer } from '../server.js';
import { type CommandIo, UsageError } from './usage.js';
import { poolWorker, runWorkerPool } from './worker-pool.js';

export function serveHelp(): string {
  const rows = (Object.keys(optionTable) as OptionKey[]).map((key) => {
    const option = optionTable[key];
    const fallback = option.default === undefined || option.default === '' ? '' : ` (default ${option.default})`;
    return `  --${option.flag.padEnd(24)} ${option.env.padEnd(28)} ${option.help}${fallback}`;
  });
  return `Usage: pns serve [flags]\n\nRuns the server. Flags override environment variables.\n\n  flag                       environment variable\n${rows.join('\n')}\n`;
}

export function parseServeFlags(args: string[]): RawOptions | 'help' {
  const options: Record<string, { type: 'string' | 'boolean' }> = { help: { type: 'boolean' } };
  const keyByFlag = new Map<string, OptionKey>();
  for (const key of Object.keys(optionTable) as OptionKey[]) {
    options[optionTable[key].flag] = { type: 'string' };
    keyByFlag.set(optionTable[key].flag, key);
  }
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args, options, strict: true, allowPositionals: false }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) return 'help';
  const raw: RawOptions = {};
  for (const [flag, value] of Object.entries(values)) {
    const key = keyByFlag.get(flag);
    if (key && typeof value === 'string') raw[key] = value;
  }
  return raw;
}

async function devBanner(config: ServerConfig, url: string): Promise<string> {
  // Dev mode always has a secret: it generates one.
  const secret = config.secret as string;
  const token = await createToken({
    secret,
    issuer: config.jwtIssuer,
    audience: config.jwtAudience,
    user: '42',
    topics: ['news'],
    ttl: '1h',
  });
  return [
    '',
    'pns is running in dev mode (no PNS_SECRET or PNS_JWKS set): loopback only, keys generated for this run.',
    `  PNS_SECRET=${secret}`,
    `  PNS_PUBLISH_KEY=${config.publishKey}`,
    '',
    ...(config.demo ? [`Webmail demo (open two windows, sign in as two users, send a mail): ${url}/`] : []),
    `Operations dashboard: ${url}/pns/admin`,
    '',
    'Example token for user 42 (topics: news), valid 1 hour:',
    `  SID=${token}`,
    '',
    `Wait for a message (held up to ${config.holdSeconds} s):`,
    `  curl "${url}/pns/poll?sid=$SID&comeFrom=1003"`,
    'Publish one from another terminal:',
    `  curl -X POST ${url}/pns/publish -H "Authorization: Bearer ${config.publishKey}" -H "Content-Type: application/json" -d '{"to":"user:42","type":70,"data":{"subject":"hi"}}'`,
    '',
  ].join('\n');
}

/** `pns serve`: starts the server (or, with several workers, the pool) and shuts it down gracefully on SIGTERM/SIGINT. */
export async function serveCommand(args: string[], io: CommandIo): Promise<PnsServer | undefined> {
  const flags = parseServeFlags(args);
  if (flags === 'help') {
    io.out(serveHelp());
    return undefined;
  }
  let config: ServerConfig;
  try {
    config = loadConfig(rawOptionsFrom(io.env, flags));
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(error.problems.join('; '));
    throw error;
  }
  if (config.workers > 1 && cluster.isPrimary) {
    // The primary only supervises; the workers it forks run this command again and serve.
    const url = await runWorkerPool(config);
    if (config.devMode) io.out(await devBanner(config, url));
    return undefined;
  }
  const worker = cluster.isWorker ? poolWorker(config, io.env) : undefined;
  let server: PnsServer;
  let url: string;
  try {
    server = await createPnsServer(worker?.config ?? config, worker ? { logger: worker.logger } : {});
    url = await server.listen();
  } catch (error) {
    if (worker) worker.failed(error);
    throw error;
  }
  if (worker) worker.listening(url);
  else {
    server.logger.info({ url, devMode: config.devMode, maxConnections: config.maxConnections }, 'pns listening');
    if (config.devMode) io.out(await devBanner(config, url));
  }
  let stopping = false;
  const stop = (signal: string): void => {
    // A worker gets SIGINT from the terminal and SIGTERM from its primary: one shutdown.
    if (stopping) return;
    stopping = true;
    server.logger.info({ signal }, 'shutting down');
    server.shutdown().then(
      () => {
        server.logger.info('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        server.logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  return server;
}
