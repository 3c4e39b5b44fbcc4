/**
 * `npm run soak`: holds many clients on one `pns serve` for minutes, with churn and a steady publish rate,
 * and fails unless the heap stays flat, every count comes back to zero and every message arrives exactly
 * once. See bench/README.md ("Soak").
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { machine, pinSelf, runMain, stamp } from '../host.js';
import { buildReport, reportTable } from './report.js';
import { runSoak, type SoakOptions } from './run.js';

const usage = `Usage: npm run soak -- [--minutes 5] [--connections 10000] [options]

  --minutes <n>          soak length after the warm-up (decimals allowed)      default 5
  --connections <n>      clients held at once                                   default 10000
  --warmup-seconds <n>   warm-up under full load before the heap is taken       default ttl + 15
  --processes <n>        client processes (at least 2, at most 15,000 each)     default 1 per 2,500, at least 2
  --rate <n>             messages published per second                          default 200
  --churn <percent>      clients that leave, and join, per minute               default 4
  --ttl-seconds <n>      message ttl; users come back within half of it         default 60
  --heap-tolerance <%>   largest heap drift allowed                             default 10
  --quick                a short run while developing: 20 s, 2,000 clients, ttl 10 s
  --out <file>           where the JSON results go (default bench/results/<YYYY-MM-DD-HHmm>-soak.json)
  --help                 this text
`;

class UsageError extends Error {}

function positive(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new UsageError(`--${name} must be a positive number, not ${text}`);
  return value;
}

function parse(args: string[]): { options: SoakOptions; out: string | undefined } | 'help' {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        minutes: { type: 'string' },
        connections: { type: 'string' },
        'warmup-seconds': { type: 'string' },
        processes: { type: 'string' },
        rate: { type: 'string' },
        churn: { type: 'string' },
        'ttl-seconds': { type: 'string' },
        'heap-tolerance': { type: 'string' },
        quick: { type: 'boolean' },
        out: { type: 'string' },
        help: { type: 'boolean' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) return 'help';
  const quick = values.quick === true;
  const text = (name: string): string | undefined => values[name] as string | undefined;
  const connections = Math.round(positive('connections', text('connections'), quick ? 2000 : 10_000));
  const ttlSeconds = Math.round(positive('ttl-seconds', text('ttl-seconds'), quick ? 10 : 60));
  const processes = Math.round(positive('processes', text('processes'), Math.max(2, Math.ceil(connections / 2500))));
  if (processes < 2) throw new UsageError('--processes must be at least 2');
  // Each process has the same open-file limit (20,000 here): the bench's load generators stop at 15,000 too.
  if (connections > processes * 15_000)
    throw new UsageError(`${connections} clients need at least ${Math.ceil(connections / 15_000)} processes`);
  const options: SoakOptions = {
    minutes: positive('minutes', text('minutes'), quick ? 1 / 3 : 5),
    connections,
    warmupSeconds: positive('warmup-seconds', text('warmup-seconds'), ttlSeconds + 15),
    processes,
    rate: positive('rate', text('rate'), 200),
    churnPerMinute: positive('churn', text('churn'), 4) / 100,
    ttlSeconds,
    heapTolerance: positive('heap-tolerance', text('heap-tolerance'), 10) / 100,
    serverCpu: 0,
    loadCpu: 1,
  };
  return { options, out: text('out') };
}

function log(line: string): void {
  process.stderr.write(`[soak] ${line}\n`);
}

async function main(args: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${error.message}\n\n${usage}`);
    return 2;
  }
  if (parsed === 'help') {
    process.stdout.write(usage);
    return 0;
  }
  const { options } = parsed;
  const startedAt = new Date();
  const out = parsed.out ?? fileURLToPath(new URL(`../../../results/${stamp(startedAt)}-soak.json`, import.meta.url));
  pinSelf(options.loadCpu, log);
  log(
    `${options.connections} clients in ${options.processes} processes, ${options.rate} messages/s, churn ${(options.churnPerMinute * 100).toFixed(0)} %/min, ` +
      `warm-up ${options.warmupSeconds} s, soak ${options.minutes} min`,
  );
  const run = await runSoak(options, log);
  const report = buildReport(options, run, startedAt, machine());
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`${reportTable(report)}Results: ${out}\n`);
  return report.passed ? 0 : 1;
}

runMain(() => main(process.argv.slice(2)), log);
