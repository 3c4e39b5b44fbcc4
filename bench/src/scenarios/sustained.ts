import { now, sleep } from '../clock.js';
import { userOf } from '../loadgen-protocol.js';
import { type PublishJob, pump } from '../publish-pump.js';
import type { Row, RunContext, Scenario } from '../results.js';
import type { BenchPayload } from '../target.js';
import { deliveryProblems, Session } from './session.js';

const settings = { quick: { durationMs: 5000 }, full: { durationMs: 20_000 } };
const subscribers = 1000;
/** Publish requests in flight at once: one message per request, and batched. */
const singleConcurrency = 32;
const batchConcurrency = 4;
const batchSize = 100;
const drainTimeoutMs = 15_000;

interface Variant {
  label: string;
  concurrency: number;
  /** The next publish, or undefined to stop. */
  job(session: Session, group: number): PublishJob;
}

const randomSub = (): number => Math.floor(Math.random() * subscribers);

async function measure(session: Session, variant: Variant, durationMs: number): Promise<Row> {
  const group = session.ledger.group(variant.label);
  const load0 = await session.pool.stats();
  const driver0 = process.cpuUsage();
  const cpu0 = session.serverCpuMs();
  const redis0 = session.backplaneCpuMs();
  const t0 = now();
  const end = t0 + durationMs;
  const outcome = await pump(session.ledger, variant.concurrency, () => (now() < end ? variant.job(session, group) : undefined));
  const publishedAt = now();
  const complete = await session.delivered(group, drainTimeoutMs);
  const cpu1 = session.serverCpuMs();
  const redis1 = session.backplaneCpuMs();
  const t1 = now();
  const driver = process.cpuUsage(driver0);
  const load1 = await session.quiesce();
  const stats = session.ledger.stats(group);
  const spanS = ((complete && stats.lastDeliveryAt !== null ? stats.lastDeliveryAt : t1) - t0) / 1000;
  const cpuS = (cpu1 - cpu0) / 1000;
  const wallMs = t1 - t0;
  const notes = deliveryProblems(stats);
  if (outcome.failures > 0) notes.push(`${outcome.failures} publishes failed: ${outcome.firstFailures.join('; ')}`);
  return {
    label: variant.label,
    values: {
      publishedPerS: stats.messages / ((publishedAt - t0) / 1000),
      deliveredPerS: stats.delivered / spanS,
      perCpuS: cpuS > 0 ? stats.delivered / cpuS : null,
      serverCpuPct: (100 * (cpu1 - cpu0)) / wallMs,
      redisCpuPct: redis0 === null || redis1 === null ? null : (100 * (redis1 - redis0)) / wallMs,
      p50: stats.latency.p50,
      p99: stats.latency.p99,
      lost: stats.lost,
      duplicated: stats.duplicated,
      loadCpuPct: (100 * (load1.cpuMs - load0.cpuMs)) / wallMs,
      driverCpuPct: (100 * (driver.user + driver.system)) / 1000 / wallMs,
    },
    failed: notes.length > 0,
    notes,
  };
}

const single: Variant = {
  label: '1 message / request',
  concurrency: singleConcurrency,
  job(session, group) {
    const sub = randomSub();
    const payload = session.ledger.unicast(group, sub);
    return { payloads: [payload], send: () => session.context.target.publishToUser(session.server, userOf(sub), payload) };
  },
};

const batched: Variant = {
  label: `${batchSize} messages / request`,
  concurrency: batchConcurrency,
  job(session, group) {
    const messages: { user: string; payload: BenchPayload }[] = [];
    for (let k = 0; k < batchSize; k++) {
      const sub = randomSub();
      messages.push({ user: userOf(sub), payload: session.ledger.unicast(group, sub) });
    }
    const target = session.context.target;
    const send = async (): Promise<void> => {
      if (!target.publishBatch) throw new Error(`${target.name} has no batched publish`);
      await target.publishBatch(session.server, messages);
    };
    return { payloads: messages.map((m) => m.payload), send };
  },
};

async function run(context: RunContext): Promise<Row[]> {
  const { durationMs } = context.quick ? settings.quick : settings.full;
  const session = await Session.open(context, subscribers);
  const rows: Row[] = [];
  try {
    const subscribed = await session.subscribe(0, subscribers);
    if (subscribed.failed > 0) throw new Error(`${subscribed.failed} subscribers failed: ${subscribed.failures.join('; ')}`);
    for (const variant of context.target.publishBatch ? [single, batched] : [single]) {
      context.log(`  ${variant.label} for ${durationMs / 1000} s`);
      const row = await measure(session, variant, durationMs);
      context.log(`  ${Math.round(row.values.deliveredPerS ?? 0)} delivered/s, ${Math.round(row.values.perCpuS ?? 0)} per server CPU-s`);
      rows.push(row);
      await sleep(1000);
    }
  } finally {
    await session.close();
  }
  return rows;
}

export const sustainedScenario: Scenario = {
  id: 'C',
  title: 'C. Sustained delivery',
  description:
    `${subscribers} subscribers, one per user; messages to random users, published as fast as the target accepts ` +
    `(${singleConcurrency} requests in flight; batched: ${batchSize} messages per request, ${batchConcurrency} in flight) for 20 s (quick: 5 s). ` +
    'Delivered/s counts until the last delivery; per server CPU-s divides the deliveries by the server’s CPU time (publishing included; ' +
    'a Redis target’s redis-server included, its share shown apart). ' +
    'Load-generator and driver (publisher) CPU are in % of one core: both share the load core.',
  columns: [
    { key: 'publishedPerS', title: 'published/s', format: 'int' },
    { key: 'deliveredPerS', title: 'delivered/s', format: 'int', ratio: true },
    { key: 'perCpuS', title: 'delivered / server CPU-s', format: 'int', ratio: true },
    { key: 'serverCpuPct', title: 'server CPU', format: 'pct' },
    { key: 'redisCpuPct', title: 'of which Redis', format: 'pct' },
    { key: 'p50', title: 'p50', format: 'ms' },
    { key: 'p99', title: 'p99', format: 'ms', ratio: true },
    { key: 'lost', title: 'lost', format: 'int' },
    { key: 'duplicated', title: 'dup', format: 'int' },
    { key: 'loadCpuPct', title: 'load-gen CPU', format: 'pct' },
    { key: 'driverCpuPct', title: 'publisher CPU', format: 'pct' },
  ],
  run,
};
