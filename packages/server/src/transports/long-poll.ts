import { encodeCursor, type StreamPosition } from '@pns/protocol';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Delivery, EndReason } from '../hub/subscription.js';
import { parseSubscribeQuery, planSubscription } from './subscribe-request.js';
import type { Transport, TransportContext } from './transport.js';

type Outcome = 'message' | 'gap' | 'timeout' | 'superseded' | 'shutdown';

/**
 * `GET /pns/poll`: answers at once with what is retained after the client's
 * position, else holds the request until a message arrives or the hold
 * ends. Each held request is a one-shot hub subscription.
 */
export const longPollTransport: Transport = {
  name: 'longpoll',
  register(context: TransportContext): void {
    context.app.get('/pns/poll', (request, reply) => handlePoll(context, request, reply));
  },
};

async function handlePoll(context: TransportContext, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
  const { config, hub, metrics, renderer, clientPositions } = context;
  const query = parseSubscribeQuery(request.query as Record<string, unknown>, config);
  const plan = await planSubscription(query, context);
  const raw = reply.raw;
  if (raw.destroyed) return reply; // the client left while we authenticated
  // A hold never outlives the token, so the next poll reports SESSION_EXPIRED promptly.
  const holdMs =
    plan.session.expiresAt === undefined ? query.holdMs : Math.min(query.holdMs, Math.max(0, plan.session.expiresAt - Date.now()));
  let timer: NodeJS.Timeout | undefined;
  let answeredCursor: string | undefined;

  const answer = (body: string, cursor: string, outcome: Outcome): void => {
    if (timer) clearTimeout(timer);
    if (raw.destroyed || reply.sent) return;
    answeredCursor = cursor;
    metrics.polls.inc({ outcome });
    if (outcome === 'shutdown') reply.header('connection', 'close');
    reply.type('application/json; charset=utf-8').send(body);
  };

  const subscription = hub.open({
    sessionKey: plan.sessionKey,
    transport: longPollTransport.name,
    channels: plan.channels,
    positions: plan.positions,
    gap: plan.gap,
    oneShot: true,
    sink: {
      deliver(delivery: Delivery) {
        const cursor = encodeCursor(delivery.positions);
        answer(renderer.pollBody(delivery, cursor), cursor, delivery.entries.length > 0 ? 'message' : 'gap');
      },
      end(reason: EndReason, positions: ReadonlyMap<string, StreamPosition>) {
        const cursor = encodeCursor(positions);
        answer(renderer.emptyBody(cursor, reason === 'superseded'), cursor, reason);
      },
      fail(error: unknown) {
        if (timer) clearTimeout(timer);
        if (raw.destroyed || reply.sent) return;
        metrics.polls.inc({ outcome: 'error' });
        reply.send(error); // rendered by the error handler as a catalog error
      },
      waiting() {
        timer = setTimeout(() => {
          subscription.close();
          const cursor = encodeCursor(subscription.positions);
          answer(renderer.emptyBody(cursor), cursor, 'timeout');
        }, holdMs);
      },
    },
  });

  raw.once('close', () => {
    if (timer) clearTimeout(timer);
    if (!subscription.closed) {
      subscription.close();
      metrics.polls.inc({ outcome: 'aborted' });
    }
    // A cursorless client's answer counts as received once it was written out whole.
    if (plan.clientKey !== undefined && answeredCursor !== undefined && raw.writableFinished) {
      clientPositions.set(plan.clientKey, answeredCursor).catch((error: unknown) => {
        // The client keeps polling; at worst its next poll repeats what this one delivered.
        request.log.warn({ err: error }, 'client position not saved');
      });
    }
  });
  return reply;
}
