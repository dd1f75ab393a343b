// Bundles the markdown parser's worker (dist/profiles/parse-worker.js: the folder reading, the
// mapping and markdown-it with its dependencies) into one file, dist/vendor/parse-worker.mjs.
//
// Why: a worker thread starts with an empty module cache. Unbundled, each worker of
// `import-profiles` loads ~70 ES modules (markdown-it alone is ~60 files, plus entities, mdurl,
// uc.micro, punycode, linkify-it and our own), one resolution, read, compile and link each: ~25 ms
// per worker on a 2-core machine, paid while the import waits for its first parsed folders. One file
// loads in a fraction of that. src/profiles/parse-pool.ts uses the bundle when it exists and falls
// back to dist/profiles/parse-worker.js otherwise.
import { build } from 'esbuild';
import path from 'node:path';

await build({
  entryPoints: [path.resolve('dist/profiles/parse-worker.js')],
  outfile: path.resolve('dist/vendor/parse-worker.mjs'),
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  legalComments: 'inline',
  logLevel: 'warning',
});
