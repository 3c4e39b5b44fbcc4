import { now, sleep } from '../clock.js';
import { userOf } from '../loadgen-protocol.js';
import { pump } from '../publish-pump.js';
import type { Row, RunContext, Scenario } from '../results.js';
import { deliveryProblems, type ExtraStartOptions, errorSummary, errorsSince, Session } from './session.js';

const settings = { quick: { n: 1000, timeoutMs: 30_000 }, full: { n: 10_000, timeoutMs: 60_000 } };
const topic = 'all';
/** A probe goes to the topic this often after the restart; a subscriber is back once it receives one. */
const probeEveryMs = 200;
const deliveryTimeoutMs = 30_000;

/** One message to every user, checked; returns the ledger group. */
async function roundToEveryUser(session: Session, n: number, name: string): Promise<number> {
  const group = session.ledger.group(name);
  let next = 0;
  await pump(session.ledger, 32, () => {
    if (next >= n) return undefined;
    const sub = next++;
    const payload = session.ledger.unicast(group, sub);
    return { payloads: [payload], send: () => session.context.target.publishToUser(session.server, userOf(sub), payload) };
  });
  await session.delivered(group, deliveryTimeoutMs);
  return group;
}

/** The restarts a target is put through: one, plus a 0 s drain for a target whose stop drains over a window. */
function variantsOf(context: RunContext, n: number): { label: string; options: ExtraStartOptions }[] {
  if (!context.target.drains) return [{ label: `${n} clients`, options: {} }];
  return [
    { label: `${n} clients, default drain`, options: {} },
    { label: `${n} clients, drain 0 s`, options: { drainSeconds: 0 } },
  ];
}

async function run(context: RunContext): Promise<Row[]> {
  const { n } = context.quick ? settings.quick : settings.full;
  const rows: Row[] = [];
  for (const variant of variantsOf(context, n)) rows.push(await restartRound(context, n, variant.label, variant.options));
  return rows;
}

async function restartRound(context: RunContext, n: number, label: string, startOptions: ExtraStartOptions): Promise<Row> {
  const { timeoutMs } = context.quick ? settings.quick : settings.full;
  const session = await Session.open(context, n, startOptions);
  try {
    const subscribed = await session.subscribe(0, n, topic);
    if (subscribed.failed > 0) throw new Error(`${subscribed.failed} of ${n} subscribers failed: ${subscribed.failures.join('; ')}`);
    const before = await roundToEveryUser(session, n, 'before the restart');
    const stats0 = await session.quiesce();

    // Each subscriber's first probe after the restart marks it as held again.
    const probes = session.ledger.group('probes', true);
    const probeIds = new Set<string>();
    const backAt = new Float64Array(n).fill(Number.NaN);
    let back = 0;
    session.tap((sub, id, at) => {
      if (probeIds.has(id) && Number.isNaN(backAt[sub] as number)) {
        backAt[sub] = at;
        back++;
      }
    });
    context.log(`  restarting ${context.target.name} under ${n} held clients`);
    const t0 = now();
    const { stopMs, startMs } = await session.restart();
    const ready = now();
    const probeFailures: string[] = [];
    while (back < n && now() - ready < timeoutMs) {
      const payload = session.ledger.broadcast(probes, 0, n);
      probeIds.add(payload.id);
      try {
        await context.target.publishToTopic(session.server, topic, payload);
      } catch (error) {
        session.ledger.cancel(payload);
        if (probeFailures.length < 3) probeFailures.push((error as Error).message);
      }
      await sleep(probeEveryMs);
    }
    const load = await session.pool.stats();
    const loadCpuPct = (100 * (load.cpuMs - stats0.cpuMs)) / (now() - t0);
    let lastBack = ready;
    for (const at of backAt) if (at > lastBack) lastBack = at; // NaN (never back) is never greater
    context.log(`  ${back} of ${n} back ${((lastBack - ready) / 1000).toFixed(2)} s after the restart`);

    const after = await roundToEveryUser(session, n, 'after the restart');
    const stats1 = await session.quiesce();
    const beforeStats = session.ledger.stats(before);
    const afterStats = session.ledger.stats(after);
    const probeStats = session.ledger.stats(probes);
    const notes = [...deliveryProblems(beforeStats).map((p) => `before: ${p}`), ...deliveryProblems(afterStats).map((p) => `after: ${p}`)];
    if (probeStats.duplicated > 0) notes.push(`${probeStats.duplicated} duplicated probes`);
    if (probeStats.unexpected > 0) notes.push(`${probeStats.unexpected} probes to the wrong subscriber`);
    if (back < n) notes.push(`${n - back} clients not back within ${timeoutMs / 1000} s`);
    if (probeFailures.length > 0) notes.push(`probe publishes failed: ${probeFailures.join('; ')}`);
    const retries = errorSummary(errorsSince(stats0, stats1));
    return {
      label,
      values: {
        back,
        stopMs,
        startMs,
        allBackMs: back === n ? lastBack - ready : null,
        totalMs: back === n ? lastBack - t0 : null,
        missed: probeStats.messages * n - probeStats.delivered,
        loadCpuPct,
        retries: retries.total,
        lost: beforeStats.lost + afterStats.lost,
        duplicated: beforeStats.duplicated + afterStats.duplicated + probeStats.duplicated,
      },
      failed: notes.length > 0,
      notes: retries.total > 0 ? [...notes, `client retries: ${retries.text}`] : notes,
    };
  } finally {
    await session.close();
  }
}

export const reconnectScenario: Scenario = {
  id: 'D',
  title: 'D. Reconnect storm',
  description:
    'N held clients (one per user, all on one topic) get one message each; the server is stopped (its own graceful stop) and started again on the same port. ' +
    'pns, whose stop answers its held polls spread over a drain window (5 s by default) so that its clients do not all reconnect at once, is also run with a 0 s drain, the way the peers stop. ' +
    `From the moment it is ready a probe goes to the topic every ${probeEveryMs} ms: a client is back when it receives one. ` +
    '"all back" runs from ready to the last client back, "total" from the stop. Then one more message to each user. ' +
    'Both rounds must arrive exactly once; load-gen CPU covers the stop to the last client back; "missed" counts probes sent after the restart that a client never got (a target that keeps messages for returning clients misses none).',
  columns: [
    { key: 'back', title: 'back', format: 'int' },
    { key: 'stopMs', title: 'stop', format: 'ms' },
    { key: 'startMs', title: 'start', format: 'ms' },
    { key: 'allBackMs', title: 'all back after ready', format: 'ms', ratio: true },
    { key: 'totalMs', title: 'total from stop', format: 'ms', ratio: true },
    { key: 'missed', title: 'probes missed', format: 'int' },
    { key: 'retries', title: 'client retries', format: 'int' },
    { key: 'loadCpuPct', title: 'load-gen CPU', format: 'pct' },
    { key: 'lost', title: 'lost', format: 'int' },
    { key: 'duplicated', title: 'dup', format: 'int' },
  ],
  run,
};
