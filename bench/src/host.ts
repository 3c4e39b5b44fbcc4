/** The machine a run happens on, and this process's place on it: shared by `npm run bench` and `npm run bench:floors`. */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { allowedCpus } from './measure.js';
import type { Machine } from './report.js';

/** `YYYY-MM-DD-HHmm` in local time: the default results directory's name. */
export function stamp(date: Date): string {
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())}-${two(date.getHours())}${two(date.getMinutes())}`;
}

/** Pins this process (every thread) to `cpu`, as the load generators are; warns through `log` when that did not hold. */
export function pinSelf(cpu: number, log: (line: string) => void): void {
  spawnSync('taskset', ['-a', '-p', '-c', String(cpu), String(process.pid)], { stdio: 'ignore' });
  const cpus = allowedCpus('self');
  if (cpus !== String(cpu)) log(`warning: the driver runs on CPUs ${cpus}, not ${cpu} (is taskset installed?)`);
}

export function machine(): Machine {
  const limits = readFileSync('/proc/self/limits', 'utf8');
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown CPU',
    cores: os.cpus().length,
    kernel: os.release(),
    node: process.version,
    openFileLimit: /^Max open files\s+(\S+)/m.exec(limits)?.[1] ?? 'unknown',
  };
}

/**
 * Runs a command's `main` and exits with its code; a crash is printed and exits 1. Ctrl-C and SIGTERM exit
 * too, which runs the exit hooks that stop the servers and load generators.
 */
export function runMain(main: () => Promise<number>, log: (line: string) => void): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      log(error instanceof Error ? (error.stack ?? error.message) : String(error));
      process.exit(1);
    },
  );
}
