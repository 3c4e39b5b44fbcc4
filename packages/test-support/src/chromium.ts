import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

/** `/usr/bin/chromium` (Debian's package); CHROMIUM_PATH overrides it (for example to check the skip path). */
const chromiumPath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

/**
 * `false` when Chromium is there; otherwise the reason to pass as `describe(…, { skip })`. Without Chromium the
 * suites skip loudly, except in CI (`CI=true`), where a missing browser is an error.
 */
export function browserSkipReason(): string | false {
  if (existsSync(chromiumPath)) return false;
  if (process.env.CI === 'true') throw new Error(`browser tests: ${chromiumPath} not found (CI=true: not skipping)`);
  const reason = `BROWSER TESTS SKIPPED: ${chromiumPath} not found (apt-get install chromium)`;
  process.stderr.write(`\n${'!'.repeat(reason.length)}\n${reason}\n${'!'.repeat(reason.length)}\n\n`);
  return reason;
}

/** Headless Chromium, with nothing that would reach beyond loopback. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(chromiumPath)) throw new Error(`${chromiumPath} not found`);
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
}
