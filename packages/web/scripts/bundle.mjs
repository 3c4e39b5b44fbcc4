// Builds the pages pns serves into dist/assets/: each page's script (Preact and uPlot included, nothing
// from a CDN), its styles (static/<page>.css with its @import-ed partials inlined), and its HTML.
// The server reads this folder once at start.
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = `${root}dist/assets`;
await mkdir(out, { recursive: true });

await build({
  entryPoints: [
    { in: `${root}src/webmail/main.tsx`, out: 'webmail' },
    { in: `${root}src/dashboard/main.tsx`, out: 'dashboard' },
    { in: `${root}static/webmail.css`, out: 'webmail' },
    { in: `${root}static/dashboard.css`, out: 'dashboard' },
  ],
  outdir: out,
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2020'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  sourcemap: true,
  legalComments: 'none',
  // The libraries' licences travel with the bundles that contain them (licenses.txt, served next to them).
  banner: { js: '/*! Includes Preact and uPlot (MIT licence): see licenses.txt */' },
  logLevel: 'warning',
});
for (const file of ['webmail.html', 'dashboard.html']) {
  await copyFile(`${root}static/${file}`, `${out}/${file}`);
}
const require = createRequire(import.meta.url);
await copyFile(require.resolve('uplot/dist/uPlot.min.css'), `${out}/uplot.css`);
const licences = [];
for (const name of ['preact', 'uplot']) {
  const licence = await readFile(join(dirname(require.resolve(`${name}/package.json`)), 'LICENSE'), 'utf8');
  licences.push(`${name}\n${'='.repeat(name.length)}\n\n${licence.trim()}\n`);
}
await writeFile(`${out}/licenses.txt`, licences.join('\n'));
