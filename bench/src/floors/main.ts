/**
 * `npm run bench:floors`: what each HTTP layer costs by itself on this machine, so the docs can state the
 * floor under pns's figures. Part 1 holds N requests open on raw `net`, `node:http`, Fastify 5 and pns;
 * part 2 runs the same delivery load against a minimal node:http long-poll server and pns. Servers are
 * pinned to CPU 0, this process and its clients to CPU 1. Prints each part's table and writes floors.md
 * and floors.json. See bench/README.md.
 */
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { now } from '../clock.js';
import { machine, pinSelf, runMain, stamp } from '../host.js';
import { ProcessMeter } from '../measure.js';
import { deliveryKinds, deliveryPart, deliverySettings, runDelivery } from './delivery.js';
import { heldKinds, heldPart, heldSettings, type PartContext, runHeld } from './held.js';
import { type FloorRow, type FloorsReport, failedRow, partTable, writeReport } from './report.js';

const serverCpu = 0;
const loadCpu = 1;

const usage = `Usage: npm run bench:floors -- [--quick] [--out <dir>]

  --quick        ${heldSettings.quick.n.toLocaleString('en-US')} held requests and a ${heldSettings.quick.holdMs / 1000} s hold (full: ${heldSettings.full.n.toLocaleString('en-US')}, ${heldSettings.full.holdMs / 1000} s); ${deliverySettings.quick.measureMs / 1000} s of delivery (full: ${deliverySettings.full.measureMs / 1000} s)
  --out <dir>    where floors.md and floors.json go (default bench/results/<YYYY-MM-DD-HHmm>-floors/)
  --help         this text
`;

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** Runs one server's measurement; a run that throws becomes a failed row, and the next server still runs. */
async function attempt(server: string, run: () => Promise<FloorRow>): Promise<FloorRow> {
  try {
    return await run();
  } catch (error) {
    const row = failedRow(server, error);
    log(`  ${server} failed: ${row.error}`);
    return row;
  }
}

async function main(args: string[]): Promise<number> {
  let values: { quick?: boolean; out?: string; help?: boolean };
  try {
    ({ values } = parseArgs({ args, options: { quick: { type: 'boolean' }, out: { type: 'string' }, help: { type: 'boolean' } } }));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n\n${usage}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(usage);
    return 0;
  }
  const quick = values.quick ?? false;
  if (os.availableParallelism() < 2) log('warning: fewer than 2 CPUs: the servers and the clients share a core');
  const startedAt = new Date();
  const outDir = values.out ?? fileURLToPath(new URL(`../../../results/${stamp(startedAt)}-floors/`, import.meta.url));
  pinSelf(loadCpu, log);
  const t0 = now();
  const context: PartContext = { quick, serverCpu, loadCpu, meter: new ProcessMeter(), log };
  const held = quick ? heldSettings.quick : heldSettings.full;
  const delivery = quick ? deliverySettings.quick : deliverySettings.full;
  const heldRows: FloorRow[] = [];
  const deliveryRows: FloorRow[] = [];
  const report: FloorsReport = {
    startedAt: startedAt.toISOString(),
    durationMs: 0,
    quick,
    machine: machine(),
    settings: { held, delivery },
    parts: [heldPart(held, heldRows), deliveryPart(delivery, deliveryRows)],
  };
  const save = (): void => {
    report.durationMs = now() - t0;
    writeReport(outDir, report);
  };
  for (const kind of heldKinds) {
    log(`[held] ${kind.name}: ${held.n} requests`);
    heldRows.push(await attempt(kind.name, () => runHeld(kind, context)));
    save();
  }
  process.stdout.write(`\n${partTable(heldPart(held, heldRows))}\n`);
  for (const kind of deliveryKinds) {
    log(`[delivery] ${kind.name}`);
    deliveryRows.push(await attempt(kind.name, () => runDelivery(kind, context)));
    save();
  }
  process.stdout.write(`\n${partTable(deliveryPart(delivery, deliveryRows))}\n`);
  save();
  const failed = [
    ...heldRows.filter((row) => row.failed).map((row) => `held/${row.server}`),
    ...deliveryRows.filter((row) => row.failed).map((row) => `delivery/${row.server}`),
  ];
  process.stdout.write(
    `Took ${(report.durationMs / 1000).toFixed(0)} s. Results: ${outDir}\n` +
      (failed.length ? `FAILED: ${failed.join(', ')}\n` : 'All rows passed.\n'),
  );
  return failed.length ? 1 : 0;
}

runMain(() => main(process.argv.slice(2)), log);
