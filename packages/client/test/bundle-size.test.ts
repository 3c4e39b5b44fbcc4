import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const budgetBytes = 7 * 1024;
const bundle = fileURLToPath(new URL('../pns.min.js', import.meta.url));

describe('browser bundle', { timeout: 10_000 }, () => {
  it(`stays within ${budgetBytes} bytes gzipped`, () => {
    const size = gzipSync(readFileSync(bundle)).length;
    process.stdout.write(`# pns.min.js: ${size} bytes gzipped (budget ${budgetBytes})\n`);
    assert.ok(size <= budgetBytes, `${size} bytes gzipped`);
  });

  it('is one IIFE that defines the global Pns with PnsClient', () => {
    const code = readFileSync(bundle, 'utf8');
    const scope: { Pns?: { PnsClient?: unknown } } = {};
    new Function('globalThis', 'self', 'window', `${code};globalThis.Pns = Pns;`)(scope, scope, scope);
    assert.equal(typeof scope.Pns?.PnsClient, 'function');
    assert.ok(!/\bimport\s*\(|\brequire\(/.test(code), 'no runtime imports');
  });
});
