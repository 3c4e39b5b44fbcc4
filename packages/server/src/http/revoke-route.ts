import { isValidChannelName, PnsError } from '@pns/protocol';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { BearerKeyVerifier } from '../auth/bearer-key.js';
import type { Revocations } from '../auth/revocations.js';
import type { SessionResolver } from '../auth/session-resolver.js';
import { requireJsonBody } from './request-rules.js';

export interface RevokeRouteOptions {
  publishKeys: BearerKeyVerifier;
  /** Resolves the token to revoke (without the revocation check: a revoked token is revoked again quietly). */
  sessions: SessionResolver;
  /** Tells every node, this one included, to end the revoked connections. */
  revocations: Revocations;
}

const revokeBody = z.union([
  z.strictObject({ user: z.string().refine(isValidChannelName, 'must be a user id') }),
  z.strictObject({ sid: z.string().min(1).max(8192) }),
]);

/**
 * `POST /pns/revoke` (publish key): `{"user": id}` ends every session of the user, `{"sid": token}` one session.
 * Their connections on every node end at once with SESSION_EXPIRED, and the tokens are refused from then on:
 * a logout stops the mail. Answers `{"revoked": true}` once the revocation is stored and sent to every node.
 */
export function registerRevokeRoute(app: FastifyInstance, options: RevokeRouteOptions): void {
  app.post('/pns/revoke', {
    onRequest: async (request) => {
      if (options.publishKeys.verify(request.headers.authorization) === undefined) throw new PnsError('PUBLISH_UNAUTHORIZED');
    },
    handler: async (request) => {
      requireJsonBody(request.headers['content-type']);
      const parsed = revokeBody.safeParse(request.body);
      if (!parsed.success) throw new PnsError('BAD_REQUEST', 'Invalid revoke: send {"user": "<user id>"} or {"sid": "<session token>"}.');
      if ('user' in parsed.data) {
        const { user } = parsed.data;
        await options.revocations.revoke({ user }, undefined);
        return { revoked: true };
      }
      const { sid } = parsed.data;
      let session: Awaited<ReturnType<SessionResolver['resolve']>>;
      try {
        session = await options.sessions.resolve(sid);
      } catch (error) {
        // An expired token is refused already; nothing else is a session that could be revoked.
        if (error instanceof PnsError && error.code === 'SESSION_EXPIRED') return { revoked: true };
        if (error instanceof PnsError && error.code === 'SESSION_INVALID')
          throw new PnsError('BAD_REQUEST', 'Invalid revoke: `sid` is not a valid session token.');
        throw error;
      }
      await options.revocations.revoke({ user: session.userId, sid }, session.expiresAt);
      return { revoked: true };
    },
  });
}
