import { now } from '../clock.js';
import { userOf } from '../loadgen-protocol.js';
import { pump } from '../publish-pump.js';
import type { Row, RunContext, Scenario } from '../results.js';
import { deliveryProblems, Session } from './session.js';

const settings = { quick: { n: 1000 }, full: { n: 10_000 } };
/** Publish requests in flight at once for the one-message-per-user round. */
const concurrency = 32;
const deliveryTimeoutMs = 30_000;
const topic = 'all';
/** Users messaged in the warm-up round, which is not measured. */
const warmUpUsers = 1000;

/**
 * One message to each of the first users and one broadcast, not measured:
 * the JIT-compiled targets (every Node.js one) get their hot paths compiled
 * before the clock runs, as they would be in service. Its deliveries are
 * checked like the others; what is wrong is returned.
 */
async function warmUp(session: Session, n: number): Promise<string[]> {
  const group = session.ledger.group('warm-up');
  const users = Math.min(n, warmUpUsers);
  let next = 0;
  const outcome = await pump(session.ledger, concurrency, () => {
    if (next >= users) return undefined;
    const sub = next++;
    const payload = session.ledger.unicast(group, sub);
    return { payloads: [payload], send: () => session.context.target.publishToUser(session.server, userOf(sub), payload) };
  });
  await session.delivered(group, deliveryTimeoutMs);
  const broadcast = session.ledger.broadcast(group, 0, n);
  await session.context.target.publishToTopic(session.server, topic, broadcast).catch((error: Error) => {
    session.ledger.cancel(broadcast);
    outcome.firstFailures.push(error.message);
  });
  await session.delivered(group, deliveryTimeoutMs);
  await session.quiesce();
  return [...deliveryProblems(session.ledger.stats(group)), ...outcome.firstFailures].map((problem) => `warm-up: ${problem}`);
}

/** Publishes through `publish`, waits for the group, and makes its row. */
async function round(session: Session, group: number, label: string, publish: () => Promise<{ failures: string[] }>): Promise<Row> {
  const cpu0 = session.serverCpuMs();
  const redis0 = session.backplaneCpuMs();
  const t0 = now();
  const published = await publish();
  const publishMs = now() - t0;
  await session.delivered(group, deliveryTimeoutMs);
  const cpu1 = session.serverCpuMs();
  const redis1 = session.backplaneCpuMs();
  await session.quiesce();
  const stats = session.ledger.stats(group);
  const notes = deliveryProblems(stats);
  if (published.failures.length > 0) notes.push(`publish failures: ${published.failures.join('; ')}`);
  const cdf = session.ledger.latencyCurve(group);
  return {
    label,
    values: {
      p50: stats.latency.p50,
      p95: stats.latency.p95,
      p99: stats.latency.p99,
      max: stats.latency.max,
      publishMs,
      serverCpuMs: cpu1 - cpu0,
      redisCpuMs: redis0 === null || redis1 === null ? null : redis1 - redis0,
      delivered: stats.delivered,
      lost: stats.lost,
      duplicated: stats.duplicated,
    },
    failed: notes.length > 0 || stats.publishErrors > 0,
    notes,
    ...(cdf.length > 0 ? { cdf } : {}),
  };
}

async function run(context: RunContext): Promise<Row[]> {
  const { n } = context.quick ? settings.quick : settings.full;
  const { target } = context;
  const session = await Session.open(context, n);
  try {
    const subscribed = await session.subscribe(0, n, topic);
    if (subscribed.failed > 0) throw new Error(`${subscribed.failed} of ${n} subscribers failed: ${subscribed.failures.join('; ')}`);
    const warmUpProblems = await warmUp(session, n);
    const perUser = session.ledger.group('per user');
    let next = 0;
    const first = await round(session, perUser, `(i) ${n} users × 1 message`, async () => {
      const outcome = await pump(session.ledger, concurrency, () => {
        if (next >= n) return undefined;
        const sub = next++;
        const payload = session.ledger.unicast(perUser, sub);
        return { payloads: [payload], send: () => target.publishToUser(session.server, userOf(sub), payload) };
      });
      return { failures: outcome.firstFailures };
    });
    if (warmUpProblems.length > 0) {
      first.notes.push(...warmUpProblems);
      first.failed = true;
    }
    context.log(`  (i) p99 ${first.values.p99?.toFixed(1)} ms`);
    const broadcast = session.ledger.group('broadcast');
    const second = await round(session, broadcast, `(ii) 1 broadcast to ${n}`, async () => {
      const payload = session.ledger.broadcast(broadcast, 0, n);
      try {
        await target.publishToTopic(session.server, topic, payload);
        return { failures: [] };
      } catch (error) {
        session.ledger.cancel(payload);
        return { failures: [(error as Error).message] };
      }
    });
    context.log(`  (ii) p99 ${second.values.p99?.toFixed(1)} ms`);
    return [first, second];
  } finally {
    await session.close();
  }
}

export const fanoutScenario: Scenario = {
  id: 'B',
  title: 'B. Fan-out',
  description:
    'N subscribers, one per user, all also on one topic. After a warm-up round that is not measured (one message to each of the ' +
    `first ${warmUpUsers} users, one broadcast), (i) one message to each user (one publish request each, ` +
    `${concurrency} in flight), (ii) one message to the topic. Latency = receive time − the time that message’s publish request was sent; ` +
    'server CPU covers every server process, a Redis target’s redis-server included (its share is shown apart); ' +
    'every addressee must get each message exactly once.',
  columns: [
    { key: 'p50', title: 'p50', format: 'ms' },
    { key: 'p95', title: 'p95', format: 'ms' },
    { key: 'p99', title: 'p99', format: 'ms', ratio: true },
    { key: 'max', title: 'max', format: 'ms' },
    { key: 'publishMs', title: 'publishing took', format: 'ms' },
    { key: 'serverCpuMs', title: 'server CPU', format: 'ms', ratio: true },
    { key: 'redisCpuMs', title: 'of which Redis', format: 'ms' },
    { key: 'delivered', title: 'delivered', format: 'int' },
    { key: 'lost', title: 'lost', format: 'int' },
    { key: 'duplicated', title: 'dup', format: 'int' },
  ],
  run,
};
