// Builds the server as one file, dist/pns.mjs: the `pns` command. Loading one file instead of a few
// hundred modules halves the time from start to ready (docs/performance.md, scenario D).
import { build } from 'esbuild';

await build({
  entryPoints: [new URL('../src/cli/main.ts', import.meta.url).pathname],
  outfile: new URL('../dist/pns.mjs', import.meta.url).pathname,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: ['node20'],
  sourcemap: 'linked',
  legalComments: 'eof',
  // Bundled CommonJS dependencies call require() for Node's own modules.
  banner: { js: "import { createRequire as pnsCreateRequire } from 'node:module'; const require = pnsCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});
