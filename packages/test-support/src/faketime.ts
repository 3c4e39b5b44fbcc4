// Debian's `faketime` (package faketime, with libfaketime): runs a process with its clock shifted, for tests of
// nodes whose clocks disagree.
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** The `faketime` executable on PATH, if installed. */
export function faketimeBinary(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    try {
      accessSync(join(dir, 'faketime'), constants.X_OK);
      return join(dir, 'faketime');
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

/**
 * A `wrapper` for `spawnServer` that runs the server with its clock `offset` away (faketime's syntax: `+30s`,
 * `-1m`). `-m`: node is multi-threaded.
 */
export function faketimeWrapper(offset: string): string[] {
  const binary = faketimeBinary();
  if (binary === undefined) throw new Error('faketime is not installed (Debian package faketime)');
  return [binary, '-m', '-f', offset];
}

let warned = false;
/**
 * As `redisSkipReason`, for tests that need faketime: `false` when it is installed, else why they are skipped;
 * locally a loud skip, with CI=true a throw (the file fails).
 */
export function faketimeSkipReason(): string | false {
  if (faketimeBinary() !== undefined) return false;
  const reason = 'faketime not found on PATH: install the Debian package faketime (apt-get install faketime)';
  if (process.env.CI === 'true') throw new Error(`${reason}. CI=true: tests that need it fail rather than skip.`);
  if (!warned) {
    warned = true;
    process.stderr.write(`\n*** SKIPPING the tests that need faketime: ${reason} ***\n\n`);
  }
  return reason;
}
