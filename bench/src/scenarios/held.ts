import { now, sleep } from '../clock.js';
import type { Row, RunContext, Scenario } from '../results.js';
import type { HeldSettings } from '../target.js';
import { errorSummary, errorsSince, Session } from './session.js';

/** The levels every target uses unless it has its own (`Target.held`). */
const settings: { quick: HeldSettings; full: HeldSettings } = {
  quick: { levels: [1000, 5000], holdMs: 10_000 },
  full: { levels: [1000, 5000, 10_000, 15_000, 19_500], holdMs: 60_000 },
};

/** Time for the last polls of a level to reach the server and for its memory to settle before measuring. */
const settleMs = 2000;

async function run(context: RunContext): Promise<Row[]> {
  const { levels, holdMs } = (context.target.held ?? settings)[context.quick ? 'quick' : 'full'];
  const session = await Session.open(context, Math.max(...levels));
  const rows: Row[] = [];
  try {
    await sleep(1000);
    const rssBefore = session.serverRssBytes();
    let open = 0;
    let previousRss = rssBefore;
    for (const level of levels) {
      const before = await session.pool.stats();
      const outcome = await session.subscribe(open, level);
      const added = level - open;
      open = level;
      await sleep(settleMs);
      const cpu0 = session.serverCpuMs();
      const t0 = now();
      context.log(`  holding ${level} for ${holdMs / 1000} s`);
      await sleep(holdMs);
      const cpu1 = session.serverCpuMs();
      const t1 = now();
      const rss = session.serverRssBytes();
      const redisRss = session.backplaneRssBytes();
      const after = await session.pool.stats();
      const errors = errorSummary(errorsSince(before, after));
      const notes: string[] = [];
      if (errors.total > 0) notes.push(`errors: ${errors.text}`);
      if (outcome.failures.length > 0) notes.push(`subscribe failures: ${outcome.failures.join('; ')}`);
      if (session.ledger.strays > 0) notes.push(`${session.ledger.strays} deliveries nobody published`);
      if (rss === 0) notes.push('server process gone');
      if (after.open < level) notes.push(`${after.open} subscribers open of ${level}`);
      rows.push({
        label: `N = ${level}`,
        values: {
          n: level,
          held: after.open,
          rssMiB: rss / 2 ** 20,
          redisRssMiB: redisRss === null ? null : redisRss / 2 ** 20,
          rssPerConnKiB: (rss - rssBefore) / level / 1024,
          rssPerAddedKiB: (rss - previousRss) / added / 1024,
          cpuMsPerConnMin: (cpu1 - cpu0) / (level * ((t1 - t0) / 60_000)),
          rampS: outcome.ms / 1000,
          errors: errors.total,
        },
        failed: notes.length > 0,
        notes,
      });
      previousRss = rss;
      context.log(`  N=${level}: RSS ${(rss / 2 ** 20).toFixed(1)} MiB, ${((rss - rssBefore) / level / 1024).toFixed(2)} KiB/conn`);
    }
  } finally {
    await session.close();
  }
  return rows;
}

export const heldScenario: Scenario = {
  id: 'A',
  title: 'A. Held connections',
  description:
    'Idle subscribers are added level by level (each its own user, using the target’s longest hold) and each level is held. ' +
    'Server RSS sums every server process (a Redis target’s redis-server included, its share shown apart). ' +
    'RSS/conn = (server RSS at the end of the level − RSS before any connection) / N, so fixed costs (code warming up, heap headroom) weigh on small levels; ' +
    'ΔRSS/added conn = the RSS growth since the previous level / the connections added; idle CPU = server CPU-ms per connection-minute over the hold; ' +
    'errors = failed subscriptions and failed polls the clients had to retry. Any error fails the level.',
  columns: [
    { key: 'held', title: 'held', format: 'int' },
    { key: 'rssMiB', title: 'server RSS', format: 'mib' },
    { key: 'redisRssMiB', title: 'of which Redis', format: 'mib' },
    { key: 'rssPerConnKiB', title: 'RSS / conn', format: 'kib', ratio: true },
    { key: 'rssPerAddedKiB', title: 'ΔRSS / added conn', format: 'kib', ratio: true },
    { key: 'cpuMsPerConnMin', title: 'idle CPU ms / conn·min', format: 'float', ratio: true },
    { key: 'rampS', title: 'ramp', format: 's' },
    { key: 'errors', title: 'errors', format: 'int' },
  ],
  run,
};
