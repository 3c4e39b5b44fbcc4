// Builds the one-file browser bundle: dist/pns.min.js, an IIFE that sets the global `Pns`.
import { build } from 'esbuild';

await build({
  entryPoints: [new URL('../src/index.ts', import.meta.url).pathname],
  outfile: new URL('../dist/pns.min.js', import.meta.url).pathname,
  bundle: true,
  minify: true,
  format: 'iife',
  globalName: 'Pns',
  target: ['es2020'],
  sourcemap: true,
  legalComments: 'none',
});
