// Debian's `faketime` (package faketime, with libfaketime): runs a process with its clock shifted, for tests of
// nodes whose clocks disagree.
import { onPath, skipFor } from './tools.js';

/**
 * A `wrapper` for `spawnServer` that runs the server with its clock `offset` away (faketime's syntax: `+30s`,
 * `-1m`). `-m`: node is multi-threaded.
 */
export function faketimeWrapper(offset: string): string[] {
  const binary = onPath('faketime');
  if (binary === undefined) throw new Error('faketime is not installed (Debian package faketime)');
  return [binary, '-m', '-f', offset];
}

/**
 * As `redisSkipReason`, for tests that need faketime: `false` when it is installed, else why they are skipped;
 * locally a loud skip, with CI=true a throw (the file fails).
 */
export function faketimeSkipReason(): string | false {
  if (onPath('faketime') !== undefined) return false;
  return skipFor('faketime', 'faketime not found on PATH: install the Debian package faketime (apt-get install faketime)');
}
