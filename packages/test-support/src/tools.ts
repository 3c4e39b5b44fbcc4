// What the tests that need a system tool (redis-server, faketime) share: finding it on PATH, and skipping loudly
// when it is missing, or failing under CI=true, where a suite must never pass by running none of its tests.
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

const found = new Map<string, string | undefined>();

/** The executable `name` on PATH, if installed (looked up once). */
export function onPath(name: string): string | undefined {
  if (!found.has(name)) found.set(name, search(name));
  return found.get(name);
}

function search(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

const warned = new Set<string>();

/** `reason`, after saying once on stderr that the tests that need `what` are skipped; with CI=true, a throw instead. */
export function skipFor(what: string, reason: string): string {
  if (process.env.CI === 'true') throw new Error(`${reason}. CI=true: tests that need ${what} fail rather than skip.`);
  if (!warned.has(what)) {
    warned.add(what);
    process.stderr.write(`\n*** SKIPPING the tests that need ${what}: ${reason} ***\n\n`);
  }
  return reason;
}
