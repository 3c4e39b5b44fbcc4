import { z } from 'zod';
import { type JwksSource, jwksSource } from '../auth/jwks-keys.js';

const port = z.coerce.number().int().min(0).max(65_535);
const positiveInt = z.coerce.number().int().min(1);
const seconds = z.coerce.number().finite().min(0);
/** Not coerced: an empty value would read as 0, which turns the limit off. */
const rate = z
  .string()
  .regex(/^\d+(\.\d+)?$/, 'must be a number of messages per second, 0 for no limit')
  .transform(Number)
  .refine(Number.isFinite, 'must be a finite number');
const list = z.string().transform((value) =>
  value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0),
);
const secret = z.string().min(16, 'must be at least 16 characters');
/** Several keys at once, comma-separated, so a key can be replaced without downtime: the first one signs. */
const secrets = z
  .string()
  .transform((value) => value.split(',').map((item) => item.trim()))
  .pipe(z.array(z.string().min(16, 'must be at least 16 characters each')).min(1));
/** A JWKS file is read and checked here, so a bad one is reported with every other problem at start. */
const jwks = z
  .string()
  .min(1)
  .transform((value, context) => {
    try {
      return jwksSource(value);
    } catch (error) {
      context.addIssue({ code: 'custom', message: (error as Error).message });
      return z.NEVER;
    }
  });

/**
 * Every setting, once: its environment variable, its flag, its schema and
 * default, and its help text. The CLI, the README table and the
 * validation all come from here. Names are stable: scripts rely on them.
 */
export const optionTable = {
  port: { env: 'PNS_PORT', flag: 'port', schema: port, default: '7070', help: 'TCP port (0 picks a free one)' },
  host: {
    env: 'PNS_HOST',
    flag: 'host',
    schema: z.string().min(1),
    default: '0.0.0.0',
    help: 'Address to bind (dev mode always binds 127.0.0.1)',
  },
  secret: {
    env: 'PNS_SECRET',
    flag: 'secret',
    schema: secrets,
    default: undefined,
    help: 'HS256 secrets that verify session tokens, comma-separated (rotation: the first is the one to sign with); unset = dev mode, unless PNS_JWKS is set',
  },
  publishKey: {
    env: 'PNS_PUBLISH_KEY',
    flag: 'publish-key',
    schema: secrets,
    default: undefined,
    help: 'Keys publishers may send as `Authorization: Bearer …`, comma-separated (rotation); required with PNS_SECRET or PNS_JWKS',
  },
  jwks: {
    env: 'PNS_JWKS',
    flag: 'jwks',
    schema: jwks,
    default: undefined,
    help: 'JWKS whose public keys verify RS256 and ES256 session tokens: a file path, or an https:// URL (http:// on loopback only)',
  },
  jwtIssuer: {
    env: 'PNS_JWT_ISSUER',
    flag: 'jwt-issuer',
    schema: z.string().min(1),
    default: undefined,
    help: 'When set, every session token’s `iss` must be this',
  },
  jwtAudience: {
    env: 'PNS_JWT_AUDIENCE',
    flag: 'jwt-audience',
    schema: z.string().min(1),
    default: undefined,
    help: 'When set, every session token’s `aud` must be (or list) this',
  },
  holdSeconds: { env: 'PNS_HOLD_SECONDS', flag: 'hold-seconds', schema: seconds, default: '25', help: 'Default time a poll is held' },
  maxHoldSeconds: {
    env: 'PNS_MAX_HOLD_SECONDS',
    flag: 'max-hold-seconds',
    schema: seconds,
    default: '120',
    help: 'Longest hold a client may ask for',
  },
  retentionCount: {
    env: 'PNS_RETENTION_COUNT',
    flag: 'retention-count',
    schema: positiveInt,
    default: '1000',
    help: 'Messages kept per channel',
  },
  ttlSeconds: { env: 'PNS_TTL_SECONDS', flag: 'ttl-seconds', schema: positiveInt, default: '600', help: 'Default message ttl' },
  retentionSeconds: {
    env: 'PNS_RETENTION_SECONDS',
    flag: 'retention-seconds',
    schema: positiveInt,
    default: '3600',
    help: 'Longest ttl a publisher may ask for',
  },
  memoryMb: {
    env: 'PNS_MEMORY_MB',
    flag: 'memory-mb',
    schema: positiveInt,
    default: '256',
    help: 'Memory budget of retained messages (memory broker)',
  },
  maxConnections: {
    env: 'PNS_MAX_CONNECTIONS',
    flag: 'max-connections',
    schema: positiveInt,
    default: undefined,
    help: 'Open connections before new requests get 503 OVERLOADED (default: open-file limit − 256)',
  },
  maxPollsPerSession: {
    env: 'PNS_MAX_POLLS_PER_SESSION',
    flag: 'max-polls-per-session',
    schema: positiveInt,
    default: '4',
    help: 'Held polls per session token before the oldest is superseded',
  },
  maxConnectionsPerUser: {
    env: 'PNS_MAX_CONNECTIONS_PER_USER',
    flag: 'max-connections-per-user',
    schema: positiveInt,
    default: '32',
    help: 'Polls and streams held for one user (all sessions) before new ones get 429 TOO_MANY_CONNECTIONS',
  },
  maxConnectionsPerAddress: {
    env: 'PNS_MAX_CONNECTIONS_PER_ADDRESS',
    flag: 'max-connections-per-address',
    schema: z.coerce.number().int().min(0),
    default: '0',
    help: 'Polls and streams held for one client address before 429 TOO_MANY_CONNECTIONS; 0 = no cap (clients behind NAT share one)',
  },
  trustedProxies: {
    env: 'PNS_TRUSTED_PROXIES',
    flag: 'trusted-proxies',
    schema: list,
    default: '',
    help: 'Proxies whose X-Forwarded-For names the client (IPs, CIDRs, or loopback/linklocal/uniquelocal), comma-separated',
  },
  maxChannelsPerPoll: {
    env: 'PNS_MAX_CHANNELS_PER_POLL',
    flag: 'max-channels-per-poll',
    schema: positiveInt.max(63),
    default: '32',
    help: 'Channels one poll or stream may ask for with `ch` (at most 63)',
  },
  maxTopicsPerToken: {
    env: 'PNS_MAX_TOPICS_PER_TOKEN',
    flag: 'max-topics-per-token',
    schema: positiveInt,
    default: '256',
    help: 'Topics a session token may list; a token with more is SESSION_INVALID',
  },
  pageLimit: { env: 'PNS_PAGE_LIMIT', flag: 'page-limit', schema: positiveInt, default: '100', help: 'Most messages in one answer' },
  maxBatch: {
    env: 'PNS_MAX_BATCH',
    flag: 'max-batch',
    schema: positiveInt.max(10_000),
    default: '1000',
    help: 'Most messages in one publish request',
  },
  maxRecipients: {
    env: 'PNS_MAX_RECIPIENTS',
    flag: 'max-recipients',
    schema: positiveInt.max(1000),
    default: '100',
    help: 'Most channels one published message goes to',
  },
  maxBodyBytes: { env: 'PNS_MAX_BODY_BYTES', flag: 'max-body-bytes', schema: positiveInt, default: '65536', help: 'Largest publish body' },
  publishRate: {
    env: 'PNS_PUBLISH_RATE',
    flag: 'publish-rate',
    schema: rate,
    default: '1000',
    help: 'Messages per second each publish key may publish to this node; 0 = no limit',
  },
  publishBurst: {
    env: 'PNS_PUBLISH_BURST',
    flag: 'publish-burst',
    schema: positiveInt,
    default: undefined,
    help: 'Messages a publish key may publish at once before the rate applies (default: 10 × the rate, at least PNS_MAX_BATCH, a full batch)',
  },
  backlog: { env: 'PNS_BACKLOG', flag: 'backlog', schema: positiveInt, default: '4096', help: 'Listen backlog (absorbs reconnect storms)' },
  keepAliveSeconds: {
    env: 'PNS_KEEPALIVE_SECONDS',
    flag: 'keepalive-seconds',
    schema: positiveInt,
    default: '75',
    help: 'Idle keep-alive timeout (above the 60 s of common load balancers)',
  },
  requestTimeoutSeconds: {
    env: 'PNS_REQUEST_TIMEOUT_SECONDS',
    flag: 'request-timeout-seconds',
    schema: z.coerce.number().finite().min(1).max(300),
    default: '30',
    help: 'Time a client has to send its request line, headers and body (slowloris); not the hold',
  },
  drainSeconds: {
    env: 'PNS_DRAIN_SECONDS',
    flag: 'drain-seconds',
    schema: seconds,
    default: '5',
    help: 'Window over which held polls are answered on shutdown',
  },
  sseHeartbeatSeconds: {
    env: 'PNS_SSE_HEARTBEAT_SECONDS',
    flag: 'sse-heartbeat-seconds',
    schema: seconds,
    default: '15',
    help: 'A ping event on every SSE stream this often, so proxies keep it and clients see it live',
  },
  wsPingSeconds: {
    env: 'PNS_WS_PING_SECONDS',
    flag: 'ws-ping-seconds',
    schema: seconds,
    default: '25',
    help: 'WebSocket ping interval; a peer that misses a pong by the next one is closed',
  },
  clientPositions: {
    env: 'PNS_CLIENT_POSITIONS',
    flag: 'client-positions',
    schema: positiveInt,
    default: '100000',
    help: 'Cursorless clients (`sid`+`comeFrom`) whose position is remembered',
  },
  revocationSeconds: {
    env: 'PNS_REVOCATION_SECONDS',
    flag: 'revocation-seconds',
    schema: positiveInt,
    default: '86400',
    help: 'How long revoking a user refuses the tokens issued before it (issue tokens that expire sooner)',
  },
  redisUrl: {
    env: 'PNS_REDIS_URL',
    flag: 'redis-url',
    schema: z
      .string()
      .transform((value) =>
        value
          .split(',')
          .map((item) => item.trim())
          .filter((item) => item.length > 0),
      )
      .pipe(z.array(z.string().regex(/^rediss?:\/\/[^\s]+$/, 'must be redis://host:port (or rediss://), comma-separated'))),
    default: '',
    help: 'Redis broker (several nodes share it); a comma-separated list of cluster nodes with --redis-cluster. Unset = in-memory broker',
  },
  redisCluster: {
    env: 'PNS_REDIS_CLUSTER',
    flag: 'redis-cluster',
    schema: z.enum(['true', 'false']).transform((value) => value === 'true'),
    default: 'false',
    help: 'Treat PNS_REDIS_URL as Redis Cluster seed nodes (sharded pub/sub)',
  },
  redisPrefix: {
    env: 'PNS_REDIS_PREFIX',
    flag: 'redis-prefix',
    schema: z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'must be 1–64 of A–Z a–z 0–9 _ . : -'),
    default: 'pns',
    help: 'Prefix of every key pns writes in Redis',
  },
  workers: {
    env: 'PNS_WORKERS',
    flag: 'workers',
    schema: positiveInt,
    default: undefined,
    help: 'Worker processes sharing the port (default: one per core with Redis, 1 without; more than 1 needs Redis)',
  },
  sessionRedisKey: {
    env: 'PNS_SESSION_REDIS_KEY',
    flag: 'session-redis-key',
    schema: z.string().regex(/^[^\s]*\{sid\}[^\s]*$/, 'must contain {sid}, e.g. session:{sid}'),
    default: undefined,
    help: 'Resolve `sid` from Redis: the key template whose value holds the session (instead of JWT)',
  },
  sessionRedisUrl: {
    env: 'PNS_SESSION_REDIS_URL',
    flag: 'session-redis-url',
    schema: z.string().regex(/^rediss?:\/\/[^\s]+$/, 'must be redis://host:port (or rediss://)'),
    default: undefined,
    help: 'Redis holding the sessions (default: the first PNS_REDIS_URL)',
  },
  demo: {
    env: 'PNS_DEMO',
    flag: 'demo',
    schema: z.enum(['true', 'false']).transform((value) => value === 'true'),
    default: undefined,
    help: 'Serve the webmail demo at / (it signs tokens for demo users: never in production). Default: on in dev mode',
  },
  adminKey: {
    env: 'PNS_ADMIN_KEY',
    flag: 'admin-key',
    schema: secret,
    default: undefined,
    help: 'Key that opens the operations dashboard at /pns/admin (closed without one, except in dev mode)',
  },
  corsOrigins: {
    env: 'PNS_CORS_ORIGINS',
    flag: 'cors-origins',
    schema: list,
    default: '',
    help: 'Comma-separated origins allowed to poll from a browser',
  },
  logLevel: {
    env: 'PNS_LOG_LEVEL',
    flag: 'log-level',
    schema: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
    default: 'info',
    help: 'Log level',
  },
} as const;

export type OptionKey = keyof typeof optionTable;
type Parsed<K extends OptionKey> = z.output<(typeof optionTable)[K]['schema']>;

/** Validated settings. `publishKey` is always set, `secret` unless only a JWKS verifies tokens (generated in dev mode). */
export type ServerConfig = {
  [K in Exclude<
    OptionKey,
    'secret' | 'publishKey' | 'jwks' | 'jwtIssuer' | 'jwtAudience' | 'sessionRedisKey' | 'sessionRedisUrl' | 'adminKey'
  >]: Parsed<K>;
} & {
  /** Unset: only HS256 tokens are accepted. */
  jwks: JwksSource | undefined;
  /** Unset: `iss` is not checked. */
  jwtIssuer: string | undefined;
  /** Unset: `aud` is not checked. */
  jwtAudience: string | undefined;
  /** Unset: sessions are JWTs. */
  sessionRedisKey: string | undefined;
  sessionRedisUrl: string | undefined;
  /** Unset: the dashboard is open in dev mode and closed otherwise. */
  adminKey: string | undefined;
  /** The first of `secrets`: what pns itself signs with (the demo, the dev banner). Unset with only a JWKS. */
  secret: string | undefined;
  /** Every accepted HS256 secret; none with only a JWKS. */
  secrets: string[];
  /** The first of `publishKeys`. */
  publishKey: string;
  /** Every accepted publish key. */
  publishKeys: string[];
  /** Neither a secret nor a JWKS was configured: loopback only, generated keys. */
  devMode: boolean;
};

export type RawOptions = Partial<Record<OptionKey, string>>;
