import { type DemoUser, PnsError } from '@pns/protocol';
import { createToken } from '@pns/publisher';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { bearerToken } from '../auth/bearer-key.js';
import type { SessionResolver } from '../auth/session-resolver.js';
import { requireJsonBody } from '../http/request-rules.js';
import type { PageAssets } from '../web/page-assets.js';
import type { DemoMailbox } from './demo-mailbox.js';
import { demoUserId, demoUserOfSession, demoUsers, findDemoUser } from './demo-users.js';

export const webmailAssets = ['webmail.html', 'webmail.js', 'webmail.js.map', 'webmail.css', 'webmail.css.map', 'licenses.txt'];

/** Demo sessions last an hour; the page asks for a new one when pns says the old one expired. */
const sessionSeconds = 3600;

const sessionBody = z.strictObject({ user: z.string() });
const mailBody = z.strictObject({
  to: z.string(),
  subject: z.string().trim().min(1, 'is required').max(200, 'is longer than 200 characters'),
  body: z.string().max(5000, 'is longer than 5000 characters'),
});

export interface DemoRoutesOptions {
  secret: string;
  /** The `iss` and `aud` pns requires, if it does (`PNS_JWT_ISSUER`, `PNS_JWT_AUDIENCE`). */
  issuer: string | undefined;
  audience: string | undefined;
  sessions: SessionResolver;
  mailbox: DemoMailbox;
  assets: PageAssets;
}

function parsed<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  throw new PnsError('BAD_REQUEST', `Invalid body: ${issue?.path.join('.') || 'body'} ${issue?.message ?? 'is invalid'}`);
}

function knownUser(id: string): DemoUser {
  const user = findDemoUser(id);
  if (!user) throw new PnsError('BAD_REQUEST', `No demo user "${id.slice(0, 64)}"; there are ${demoUsers.map((u) => u.id).join(', ')}.`);
  return user;
}

/**
 * The webmail demo's backend: it signs sessions for the demo users (the role of a real webmail's login) and
 * publishes mail with type 70. Pages get session tokens only; the publish key stays on the server.
 */
export function registerDemoRoutes(app: FastifyInstance, options: DemoRoutesOptions): void {
  const signedInUser = async (request: FastifyRequest): Promise<DemoUser> => {
    const sid = bearerToken(request.headers.authorization);
    if (sid === undefined) throw new PnsError('SESSION_INVALID', 'Send the demo session as `Authorization: Bearer <sid>`.');
    const session = await options.sessions.resolve(sid);
    const user = demoUserOfSession(session.userId);
    if (!user) throw new PnsError('SESSION_INVALID', 'The session is not a demo user’s.');
    return user;
  };
  const json = (request: FastifyRequest): unknown => {
    requireJsonBody(request.headers['content-type']);
    return request.body;
  };

  app.get('/', options.assets.page('webmail.html'));
  options.assets.serve(app, '/demo/assets');
  app.get('/demo/api/users', async () => ({ users: demoUsers }));
  app.post('/demo/api/session', async (request) => {
    const user = knownUser(parsed(sessionBody, json(request)).user);
    const { secret, issuer, audience } = options;
    const sid = await createToken({ secret, issuer, audience, user: demoUserId(user), ttl: sessionSeconds });
    return { user, sid, expiresAt: Date.now() + sessionSeconds * 1000 };
  });
  app.get('/demo/api/inbox', async (request) => options.mailbox.inbox(await signedInUser(request)));
  app.post('/demo/api/mail', async (request) => {
    const from = await signedInUser(request);
    const mail = parsed(mailBody, json(request));
    return { id: await options.mailbox.send(from, knownUser(mail.to), mail) };
  });
}
