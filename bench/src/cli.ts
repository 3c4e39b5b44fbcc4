import { parseArgs } from 'node:util';
import { type ScenarioId, scenarioIds } from './results.js';

export interface CliOptions {
  quick: boolean;
  /** Target names, in the registry's order; undefined = all. */
  targets: string[] | undefined;
  scenarios: ScenarioId[] | undefined;
  out: string | undefined;
  help: boolean;
}

export const usage = `Usage: npm run bench -- [--quick] [--only <selection>] [--out <dir>]

  --quick              small levels and short holds (a smoke run)
  --only <selection>   what to run: "targets=<t>,<t>;scenarios=<S>,<S>" (either part alone is fine;
                       repeat --only to add more). Targets: see bench/src/targets/index.ts
                       (pns, pns-sse, pns-ws, pns-redis, pns-redis-3, pns-workers, nchan,
                       nchan-redis, socket.io, socket.io-ws, faye; socket.io may be written
                       socketio); scenarios: A B C D. The Redis targets run B and C only,
                       pns-workers A only; a --quick run leaves pns-workers out unless named.
                       e.g. --only targets=pns,nchan   --only scenarios=B,C   --only "targets=pns;scenarios=A"
  --out <dir>          where results.json and results.md go (default bench/results/<YYYY-MM-DD-HHmm>/)
  --help               this text
`;

export class CliError extends Error {}

/** The registry's name for `item`: the name itself, or one written without its dots (`socketio-ws` for `socket.io-ws`). */
function targetNamed(item: string, knownTargets: readonly string[]): string {
  const found = knownTargets.find((name) => name === item) ?? knownTargets.find((name) => name.replaceAll('.', '') === item);
  if (found === undefined) throw new CliError(`Unknown target ${item} (known: ${knownTargets.join(', ')})`);
  return found;
}

/** Parses the command line; `knownTargets` are the registry's names. */
export function parseCli(args: string[], knownTargets: readonly string[]): CliOptions {
  let values: { quick?: boolean; only?: string[]; out?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args,
      options: { quick: { type: 'boolean' }, only: { type: 'string', multiple: true }, out: { type: 'string' }, help: { type: 'boolean' } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new CliError((error as Error).message);
  }
  let targets: string[] | undefined;
  let scenarios: ScenarioId[] | undefined;
  for (const selection of values.only ?? []) {
    for (const part of selection.split(';').filter((p) => p.trim())) {
      const [key, list = ''] = part.split('=', 2).map((s) => s.trim()) as [string, string?];
      if (key !== 'targets' && key !== 'scenarios')
        throw new CliError(`--only ${selection}: expected targets=… or scenarios=…, got "${part}"`);
      const items = list
        .split(',')
        .map((item) => item.trim())
        .filter(Boolean);
      if (items.length === 0) throw new CliError(`--only ${selection}: "${part}" lists nothing`);
      if (key === 'targets') {
        targets = [...(targets ?? []), ...items.map((item) => targetNamed(item, knownTargets))];
      } else {
        const upper = items.map((item) => item.toUpperCase());
        for (const item of upper)
          if (!(scenarioIds as readonly string[]).includes(item)) throw new CliError(`Unknown scenario ${item} (known: A B C D)`);
        scenarios = [...(scenarios ?? []), ...(upper as ScenarioId[])];
      }
    }
  }
  return {
    quick: values.quick ?? false,
    targets: targets && knownTargets.filter((name) => targets.includes(name)),
    scenarios: scenarios && scenarioIds.filter((id) => scenarios.includes(id)),
    out: values.out,
    help: values.help ?? false,
  };
}
