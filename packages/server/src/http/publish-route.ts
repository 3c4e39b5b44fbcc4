import { createHash } from 'node:crypto';
import {
  isValidMessageId,
  isValidMessageType,
  type MessageType,
  maxMessageIdLength,
  maxStringTypeLength,
  PnsError,
  parseChannel,
} from '@pns/protocol';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { BearerKeyVerifier } from '../auth/bearer-key.js';
import type { Broker, PublishRequest } from '../broker/broker.js';
import type { PnsMetrics } from '../ops/metrics.js';
import type { PublishRateLimiter } from './rate-limiter.js';
import { requireJsonBody } from './request-rules.js';

export interface PublishRouteOptions {
  broker: Broker;
  publishKeys: BearerKeyVerifier;
  /** Messages per publish key and second (`PNS_PUBLISH_RATE`, `PNS_PUBLISH_BURST`). */
  rateLimiter: PublishRateLimiter;
  metrics: PnsMetrics;
  defaultTtlSeconds: number;
  maxTtlSeconds: number;
  /** Most messages in one request (`PNS_MAX_BATCH`). */
  maxBatch: number;
  /** Most channels one message goes to (`PNS_MAX_RECIPIENTS`). */
  maxRecipients: number;
}

export const maxDataDepth = 64;

const channel = z.string().refine((value) => parseChannel(value) !== undefined, 'must be user:<id> or topic:<name>');

function messageSchema(maxTtlSeconds: number, maxRecipients: number) {
  return z.strictObject({
    to: z.union([channel, z.array(channel).min(1).max(maxRecipients)]),
    type: z.custom<MessageType>(isValidMessageType, `must be a finite number or a string of 1–${maxStringTypeLength} characters`),
    data: z.unknown().optional(),
    ttl: z.number().int().min(1).max(maxTtlSeconds).optional(),
    id: z.string().refine(isValidMessageId, `must be 1–${maxMessageIdLength} printable ASCII characters without spaces`).optional(),
  });
}

/**
 * Why `data` cannot be stored as sent, if it cannot (checked without recursion): it nests arrays/objects deeper
 * than `limit`, or it holds a number too large for a double. JSON.parse reads `1e400` as Infinity, which
 * JSON.stringify writes as `null`: stored, it would reach clients as something else than was published.
 */
export function dataProblem(value: unknown, limit: number): string | undefined {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [item, depth] = stack.pop() as [unknown, number];
    if (typeof item === 'number' && !Number.isFinite(item)) return 'holds a number too large to represent';
    if (item === null || typeof item !== 'object') continue;
    if (depth > limit) return `nests deeper than ${limit} levels`;
    for (const child of Object.values(item)) stack.push([child, depth + 1]);
  }
  return undefined;
}

/** `POST /pns/publish`: validates the whole batch, stores it, then answers the ids. */
export function registerPublishRoute(app: FastifyInstance, options: PublishRouteOptions): void {
  const schema = messageSchema(options.maxTtlSeconds, options.maxRecipients);
  const batchSchema = z.union([schema, z.array(schema).min(1).max(options.maxBatch)]);

  app.post('/pns/publish', {
    // Checked before the body is read, so an unauthenticated client cannot make the server parse anything.
    onRequest: async (request: FastifyRequest) => {
      const scope = options.publishKeys.verify(request.headers.authorization);
      if (scope === undefined) throw new PnsError('PUBLISH_UNAUTHORIZED');
      request.publishScope = scope;
    },
    handler: async (request) => {
      requireJsonBody(request.headers['content-type']);
      const parsed = batchSchema.safeParse(request.body);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        const where = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
        throw new PnsError('BAD_REQUEST', `Invalid message: ${where}${issue?.message ?? 'invalid'}`);
      }
      const messages = Array.isArray(parsed.data) ? parsed.data : [parsed.data];
      const batch: PublishRequest[] = messages.map((message, index) => {
        const problem = dataProblem(message.data, maxDataDepth);
        if (problem !== undefined) {
          throw new PnsError('BAD_REQUEST', `Invalid message: ${Array.isArray(parsed.data) ? `${index}.` : ''}data ${problem}`);
        }
        const channels = [...new Set(Array.isArray(message.to) ? message.to : [message.to])];
        const ttlSeconds = message.ttl ?? options.defaultTtlSeconds;
        const dataJson = JSON.stringify(message.data ?? null);
        // Only a publisher-chosen id is ever compared, so only then is the content digested.
        const fingerprint =
          message.id === undefined
            ? ''
            : createHash('sha256')
                .update(JSON.stringify([channels, message.type, ttlSeconds]))
                .update('\n')
                .update(dataJson)
                .digest('base64url');
        return { channels, type: message.type, dataJson, ttlSeconds, id: message.id, scope: request.publishScope as string, fingerprint };
      });
      // Charged only for a valid batch, and before anything is stored, so a refused batch stores nothing.
      const refusal = options.rateLimiter.take(request.publishScope as string, batch.length);
      if (refusal?.reason === 'rate') throw new PnsError('RATE_LIMITED', undefined, { retryAfter: refusal.retryAfterSeconds });
      // Waiting would never help: the publisher has to split the batch.
      if (refusal?.reason === 'burst') {
        throw new PnsError(
          'PAYLOAD_TOO_LARGE',
          `A batch of ${batch.length} messages is more than a publish key may send at once (PNS_PUBLISH_BURST ${refusal.burst}); split it.`,
        );
      }
      const outcomes = await options.broker.publish(batch);
      options.metrics.published.inc(outcomes.filter((outcome) => !outcome.duplicate).length);
      return { ids: outcomes.map((outcome) => outcome.id) };
    },
  });
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the publish route's key check. */
    publishScope?: string;
  }
}
