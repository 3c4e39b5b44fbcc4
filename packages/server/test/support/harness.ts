import { Writable } from 'node:stream';
import type { PollResponse, PublishMessage } from '@pns/protocol';
import { createToken } from '@pns/publisher';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/load-config.js';
import type { RawOptions, ServerConfig } from '../../src/config/options.js';
import { createPnsServer, type PnsServer, type PnsServerParts } from '../../src/server.js';
import { type HttpResult, type RequestOptions, request } from './http-client.js';

export const testSecret = 'test-secret-0123456789abcdef';
export const testPublishKey = 'test-publish-key-0123456789';

export interface PollParams {
  sid: string;
  comeFrom?: string;
  cursor?: string;
  ch?: string | string[];
  hold?: number | string;
}

export interface TestServer {
  server: PnsServer;
  url: string;
  config: ServerConfig;
  /** Every log line the server wrote. */
  logs: string[];
  token(user: string, options?: { topics?: string[]; ttl?: number | string }): Promise<string>;
  poll(params: PollParams, options?: RequestOptions): Promise<HttpResult & { body: PollResponse }>;
  publish(body: PublishMessage | PublishMessage[] | string, options?: RequestOptions & { key?: string }): Promise<HttpResult>;
  close(): Promise<void>;
}

export function pollUrl(base: string, params: PollParams): string {
  const search = new URLSearchParams();
  search.set('sid', params.sid);
  if (params.comeFrom !== undefined) search.set('comeFrom', params.comeFrom);
  if (params.cursor !== undefined) search.set('cursor', params.cursor);
  for (const ch of params.ch === undefined ? [] : Array.isArray(params.ch) ? params.ch : [params.ch]) search.append('ch', ch);
  if (params.hold !== undefined) search.set('hold', String(params.hold));
  return `${base}/pns/poll?${search}`;
}

/** A real pns server on a free loopback port, with a captured log. */
export async function startTestServer(options: RawOptions = {}, parts: PnsServerParts = {}): Promise<TestServer> {
  const config = loadConfig({
    port: '0',
    host: '127.0.0.1',
    secret: testSecret,
    publishKey: testPublishKey,
    drainSeconds: '0.2',
    ...options,
  });
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logs.push(chunk.toString('utf8'));
      done();
    },
  });
  const logger = pino({ level: 'debug' }, sink);
  const server = await createPnsServer(config, { logger, ...parts });
  const url = await server.listen();
  return {
    server,
    url,
    config,
    logs,
    async token(user, tokenOptions = {}) {
      // A server with only a JWKS has no secret: its tests sign their own tokens.
      if (config.secret === undefined) throw new Error('this server has no PNS_SECRET to sign tokens with');
      return createToken({ secret: config.secret, issuer: config.jwtIssuer, audience: config.jwtAudience, user, ...tokenOptions });
    },
    async poll(params, requestOptions) {
      const result = await request(pollUrl(url, params), requestOptions);
      return { ...result, body: result.json as PollResponse };
    },
    publish(body, requestOptions = {}) {
      return request(`${url}/pns/publish`, {
        method: 'POST',
        ...requestOptions,
        headers: {
          authorization: `Bearer ${requestOptions.key ?? config.publishKey}`,
          'content-type': 'application/json',
          ...requestOptions.headers,
        },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
    },
    close: () => server.shutdown(),
  };
}

/** A server of its own for `run`, closed afterwards whatever `run` does. */
export async function withTestServer<T>(options: RawOptions, run: (t: TestServer) => Promise<T>): Promise<T> {
  const t = await startTestServer(options);
  try {
    return await run(t);
  } finally {
    await t.close();
  }
}

/** Resolves after `ms`. */
export const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns true or `timeoutMs` passes (then throws). */
export async function waitFor(check: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(5);
  }
}
