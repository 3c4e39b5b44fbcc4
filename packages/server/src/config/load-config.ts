import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { clientAddressOf } from '../http/client-address.js';
import { defaultMaxConnections } from './open-file-limit.js';
import { type OptionKey, optionTable, type RawOptions, type ServerConfig } from './options.js';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/** Reads settings from the environment, overridden by flags. */
export function rawOptionsFrom(env: NodeJS.ProcessEnv, flags: RawOptions = {}): RawOptions {
  const raw: RawOptions = {};
  for (const key of Object.keys(optionTable) as OptionKey[]) {
    const value = flags[key] ?? env[optionTable[key].env];
    if (value !== undefined) raw[key] = value;
  }
  return raw;
}

/** Validates every setting, reporting all problems at once with the names a user typed. */
export function loadConfig(raw: RawOptions): ServerConfig {
  const problems: string[] = [];
  const values: Record<string, unknown> = {};
  for (const key of Object.keys(optionTable) as OptionKey[]) {
    const option = optionTable[key];
    const input = raw[key] ?? option.default;
    if (input === undefined) continue;
    const result = option.schema.safeParse(input);
    if (result.success) values[key] = result.data;
    else {
      const reason = result.error.issues[0]?.message ?? 'invalid';
      problems.push(`${option.env} / --${option.flag}: ${reason} (got ${JSON.stringify(input)})`);
    }
  }
  // A JWKS without a secret is production with asymmetric tokens only, not dev mode.
  const devMode = values.secret === undefined && raw.jwks === undefined;
  if (!devMode && values.publishKey === undefined && raw.publishKey === undefined) {
    problems.push('PNS_PUBLISH_KEY / --publish-key: required when PNS_SECRET or PNS_JWKS is set');
  }
  const secrets = (values.secret as string[] | undefined) ?? (devMode ? [randomBytes(32).toString('base64url')] : []);
  const publishKeys = (values.publishKey as string[] | undefined) ?? [randomBytes(32).toString('base64url')];
  if (secrets.some((secret) => publishKeys.includes(secret))) problems.push('PNS_PUBLISH_KEY must differ from PNS_SECRET');
  const hold = values.holdSeconds as number | undefined;
  const maxHold = values.maxHoldSeconds as number | undefined;
  if (hold !== undefined && maxHold !== undefined && hold > maxHold) {
    problems.push(`PNS_HOLD_SECONDS (${hold}) must not exceed PNS_MAX_HOLD_SECONDS (${maxHold})`);
  }
  const ttl = values.ttlSeconds as number | undefined;
  const retention = values.retentionSeconds as number | undefined;
  if (ttl !== undefined && retention !== undefined && ttl > retention) {
    problems.push(`PNS_TTL_SECONDS (${ttl}) must not exceed PNS_RETENTION_SECONDS (${retention})`);
  }
  const redisUrls = (values.redisUrl as string[] | undefined) ?? [];
  const workers = values.workers as number | undefined;
  if (workers !== undefined && workers > 1 && redisUrls.length === 0) {
    problems.push(`PNS_WORKERS (${workers}) needs PNS_REDIS_URL: workers share messages through Redis`);
  }
  if (values.redisCluster === true && redisUrls.length === 0) problems.push('PNS_REDIS_CLUSTER needs PNS_REDIS_URL (the seed nodes)');
  if (values.redisCluster !== true && redisUrls.length > 1) {
    problems.push('PNS_REDIS_URL lists several servers: set PNS_REDIS_CLUSTER=true for a Redis Cluster');
  }
  if (values.sessionRedisKey !== undefined && values.sessionRedisUrl === undefined && redisUrls.length === 0) {
    problems.push('PNS_SESSION_REDIS_KEY needs PNS_SESSION_REDIS_URL or PNS_REDIS_URL');
  }
  // Demo sessions are JWTs the demo signs: a session store in Redis would not know them.
  if (values.demo === true && values.sessionRedisKey !== undefined) {
    problems.push('PNS_DEMO needs JWT sessions: it cannot run with PNS_SESSION_REDIS_KEY');
  }
  if (values.demo === true && secrets.length === 0) {
    problems.push('PNS_DEMO needs PNS_SECRET: the demo signs its users’ session tokens with it, and a JWKS cannot sign');
  }
  // Sessions from Redis are looked up, not verified: these would be silently ignored.
  for (const key of ['jwks', 'jwtIssuer', 'jwtAudience'] as const) {
    if (raw[key] !== undefined && values.sessionRedisKey !== undefined) {
      problems.push(`${optionTable[key].env} has no effect with PNS_SESSION_REDIS_KEY: those sessions are not tokens`);
    }
  }
  if (values.adminKey !== undefined && [...secrets, ...publishKeys].includes(values.adminKey as string)) {
    problems.push('PNS_ADMIN_KEY must differ from PNS_SECRET and PNS_PUBLISH_KEY');
  }
  try {
    clientAddressOf((values.trustedProxies as string[] | undefined) ?? []);
  } catch (error) {
    problems.push(`PNS_TRUSTED_PROXIES / --trusted-proxies: ${(error as Error).message}`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    ...(values as Omit<
      ServerConfig,
      | 'secret'
      | 'publishKey'
      | 'devMode'
      | 'maxConnections'
      | 'workers'
      | 'sessionRedisKey'
      | 'sessionRedisUrl'
      | 'adminKey'
      | 'demo'
      | 'jwks'
      | 'jwtIssuer'
      | 'jwtAudience'
      | 'publishBurst'
    >),
    maxConnections: (values.maxConnections as number | undefined) ?? defaultMaxConnections(),
    // Ten seconds' worth, and never less than one full batch, so a batch always fits into a full bucket.
    publishBurst:
      (values.publishBurst as number | undefined) ?? Math.max(Math.ceil(10 * (values.publishRate as number)), values.maxBatch as number),
    // One worker per core is what Redis makes possible; without it, one process is the service.
    workers: workers ?? (redisUrls.length > 0 ? availableParallelism() : 1),
    sessionRedisKey: values.sessionRedisKey as string | undefined,
    // Unset: the sessions live in the broker's Redis (or Redis Cluster).
    sessionRedisUrl: values.sessionRedisUrl as string | undefined,
    adminKey: values.adminKey as string | undefined,
    jwks: values.jwks as ServerConfig['jwks'],
    jwtIssuer: values.jwtIssuer as string | undefined,
    jwtAudience: values.jwtAudience as string | undefined,
    demo: (values.demo as boolean | undefined) ?? (devMode && values.sessionRedisKey === undefined),
    host: devMode ? '127.0.0.1' : (values.host as string),
    secret: secrets[0],
    secrets,
    publishKey: publishKeys[0] as string,
    publishKeys,
    devMode,
  };
}
