// Builds the pages pns serves into dist/assets/: each page's script (Preact and uPlot included, nothing
// from a CDN), its styles (static/<page>.css with its @import-ed partials inlined), and its HTML.
// The server reads this folder once at start.
import { copyFile, mkdir } from 'node:fs/promises';
import { build } from 'esbuild';

const root = new URL('..', import.meta.url).pathname;
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
  legalComments: 'linked',
  logLevel: 'warning',
});
for (const file of ['webmail.html', 'dashboard.html']) {
  await copyFile(`${root}static/${file}`, `${out}/${file}`);
}
await copyFile(`${root}../../node_modules/uplot/dist/uPlot.min.css`, `${out}/uplot.css`);
