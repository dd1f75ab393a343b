// Bundles umzug into dist/vendor/umzug.js without its command-line front end.
//
// Why: `import('umzug')` loads 181 CommonJS files and costs 140–220 ms per run on a 2-core machine,
// 156 of those files being @rushstack/ts-command-line, which umzug requires for `runAsCLI()` only —
// a feature strata never uses (it has its own CLI). That import was the largest fixed cost of
// `migrate up` (see BENCHMARKS.md). The bundle is umzug's own code with `./cli` replaced by a stub
// that throws if called; src/core/runner.ts falls back to the package when the bundle is absent.
import { build } from 'esbuild';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const entry = require.resolve('umzug');

await build({
  entryPoints: [entry],
  outfile: path.resolve('dist/vendor/umzug.cjs'),
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  legalComments: 'inline',
  logLevel: 'warning',
  plugins: [{
    name: 'umzug-without-cli',
    setup(b) {
      b.onResolve({ filter: /^\.\/cli$/ }, (args) => (args.importer.includes(`${path.sep}umzug${path.sep}`) ? { path: 'umzug-cli-stub', namespace: 'stub' } : undefined));
      b.onLoad({ filter: /.*/, namespace: 'stub' }, () => ({
        contents: "class UmzugCLI { constructor() { throw new Error('umzug CLI is not bundled in strata'); } }\nmodule.exports = { UmzugCLI };\n",
        loader: 'js',
      }));
    },
  }],
});
