import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { errorCatalog } from '@pns/protocol';
import { optionTable } from '../src/config/options.js';
import { killStarted, spawnServer } from './support/spawn-server.js';

// Compiled to packages/server/dist/test/, four levels below the repository root.
const root = fileURLToPath(new URL('../../../../', import.meta.url));
const readme = readFileSync(`${root}README.md`, 'utf8');

/** The first ```sh block after `<!-- readme-test: name -->`. */
function testedBlock(name: string): string {
  const marker = readme.indexOf(`<!-- readme-test: ${name} -->`);
  assert.ok(marker >= 0, `README has a block marked readme-test: ${name}`);
  const match = /```sh\n([\s\S]*?)```/.exec(readme.slice(marker));
  assert.ok(match?.[1]);
  return match[1];
}

describe('documentation', { timeout: 60_000 }, () => {
  after(killStarted);

  it('README lists every setting with its variable and flag', () => {
    for (const option of Object.values(optionTable)) {
      const row = new RegExp(`^\\|\\s*\`${option.env}\`\\s*\\|\\s*\`--${option.flag}\`\\s*\\|`, 'm');
      assert.match(readme, row, `${option.env} / --${option.flag} is in the README table`);
    }
  });

  it('docs/errors.md lists every catalog code once, with its status', () => {
    const doc = readFileSync(`${root}docs/errors.md`, 'utf8');
    const rows = [...doc.matchAll(/^\|\s*`([A-Z_]+)`\s*\|\s*(\d{3})\s*\|/gm)].map((m) => [m[1], Number(m[2])] as const);
    assert.deepEqual(rows.map(([code]) => code).sort(), Object.keys(errorCatalog).sort());
    for (const [code, status] of rows) assert.equal(status, errorCatalog[code as keyof typeof errorCatalog].status, code);
  });

  it('the README curl example works as written', async () => {
    const script = testedBlock('curl');
    const env = Object.fromEntries([...script.matchAll(/(PNS_[A-Z_]+)=(\S+)/g)].map((m) => [m[1], m[2]]));
    assert.ok(env.PNS_SECRET && env.PNS_PUBLISH_KEY);
    const { url } = await spawnServer({ env: { ...process.env, ...env }, timeoutMs: 15_000 });
    const run = spawn('bash', ['-euo', 'pipefail', '-c', script.replaceAll('http://127.0.0.1:7070', url)], { cwd: root, env: process.env });
    let out = '';
    let err = '';
    run.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    run.stderr.on('data', (chunk: Buffer) => {
      err += chunk.toString();
    });
    const code = await new Promise((resolve) => run.once('exit', resolve));
    assert.equal(code, 0, err);
    assert.match(out, /\{"ids":\["[0-9a-f-]{36}"\]\}/);
    assert.match(
      out,
      /\{"c":1,"msg":\[\{"id":"[0-9a-f-]{36}","ch":"user:42","type":70,"ts":\d+,"data":\{"subject":"Hello"\}\}\],"cursor":"v1\.[\w-]+"\}/,
    );
  });
});
