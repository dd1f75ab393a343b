// Bundles the CLI (tsc's output under dist/) into dist/bundle/: main.js and its chunks (ES modules),
// and status.cjs (one CommonJS file for a plain `migrate status`).
//
// Why: a cold `migrate status` loaded ~40 ES modules one by one (our own files, commander's CommonJS
// through the ESM loader, the `postgres` driver's ten files). Each costs a resolution, an async file
// read, a compile and a link step, and the ES module loader itself costs ~4 ms more than CommonJS:
// ~30 ms of a ~120 ms process whose budget is ~97 ms (SPEC §10). Now `migrate status` loads
// bin/migrate and status.cjs; every other command main.js and the chunks it needs.
//
// How it stays correct for every command:
// - main.js and its chunks: one graph, each module once. esbuild's code splitting turns every
//   `import('./commands/x.js')` into a chunk and puts what commands share into shared chunks, so
//   module state (the lost-session WeakSet of db/connect, …) exists once, and heavy modules still
//   load only when a command needs them.
// - dist/errors.js stays outside main.js's graph (imported as ../errors.js): an error class thrown by
//   a user's migration module that imports `strata` (dist/index.js → dist/errors.js) is the CLI's
//   own class (`instanceof StrataError` picks its exit code).
// - Packages stay outside (resolved from node_modules at run time, loaded lazily as before), except
//   commander and postgres.
// - Everything sits in dist/bundle/, at the same depth as dist/cli/ and dist/core/, so the paths our
//   modules compute from import.meta.url (../../migrations, ../vendor/umzug.cjs,
//   ../vendor/parse-worker.mjs) still hold. The markdown parser's unbundled fallback worker
//   (`./parse-worker.js` beside the module) is an entry of its own, dist/bundle/parse-worker.js.
// - test/cli/bundle.test.ts runs status and the other kinds of commands from a copy of the package
//   that has nothing of tsc's output but dist/errors.js.
//
// bin/migrate uses dist/bundle/ unless it is missing or older than tsc's dist/cli/main.js (a `tsc`
// run without this script): then the unbundled dist/cli/main.js runs, so stale code never does.
import { build } from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';

const dist = path.resolve('dist');
const outdir = path.join(dist, 'bundle');
const BUNDLED_PACKAGES = new Set(['commander', 'postgres']);
const SHARED = path.join(dist, 'errors.js');
const MAIN = path.join(dist, 'cli', 'main.js');

/** A path from a file in dist/bundle/ to `target`, as an import specifier. */
function fromBundle(target) {
  const relative = path.relative(outdir, target).split(path.sep).join('/');
  return relative.startsWith('.') ? relative : `./${relative}`;
}

/** Packages (but commander and postgres) stay outside; so does dist/errors.js in the ES module build. */
const externals = {
  name: 'strata-externals',
  setup(b) {
    const esm = b.initialOptions.format === 'esm';
    // Bare specifiers: packages and node: built-ins.
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      const name = args.path.startsWith('@') ? args.path.split('/').slice(0, 2).join('/') : args.path.split('/')[0];
      return BUNDLED_PACKAGES.has(name) ? undefined : { path: args.path, external: true };
    });
    // Our own files: all bundled, except errors.js in the ES module build.
    b.onResolve({ filter: /^\./ }, (args) => {
      if (!esm || !args.importer.startsWith(dist + path.sep)) return undefined;
      const target = path.resolve(args.resolveDir, args.path);
      return target === SHARED ? { path: fromBundle(target), external: true } : undefined;
    });
  },
};

/**
 * Three imports of the driver cost load time for nothing on a plain connection: `tls` (~0.7 ms) is
 * used for `tls.connect` alone (sslmode connections), so it loads on the first one; `perf_hooks`
 * (~0.4 ms) for `performance`, which is also a global; `os` for a fallback user name. If the
 * driver's source ever changes, the bundle keeps its plain imports (and the build says so).
 */
const driverImports = {
  name: 'postgres-driver-imports',
  setup(b) {
    b.onLoad({ filter: /[\\/]node_modules[\\/]postgres[\\/]src[\\/]connection\.js$/ }, (args) => {
      let source = fs.readFileSync(args.path, 'utf8');
      const warnings = [];
      const tls = "import tls from 'tls'\n";
      if (source.includes(tls) && (source.match(/\btls\./g) ?? []).length === 1 && source.includes('tls.connect(')) {
        source = source.replace(tls, "import { createRequire as createTlsRequire } from 'node:module'\nconst tls = { connect: (...args) => createTlsRequire(import.meta.url)('node:tls').connect(...args) }\n");
      } else {
        warnings.push({ text: 'postgres/src/connection.js changed: tls stays an eager import' });
      }
      const perf = "import { performance } from 'perf_hooks'\n";
      if (source.includes(perf)) source = source.replace(perf, '');
      else warnings.push({ text: 'postgres/src/connection.js changed: perf_hooks stays an eager import' });
      return { contents: source, loader: 'js', warnings };
    });
    // `os` (~0.2 ms) serves os.userInfo() alone, the user name when none is given: load it then.
    b.onLoad({ filter: /[\\/]node_modules[\\/]postgres[\\/]src[\\/]index\.js$/ }, (args) => {
      const source = fs.readFileSync(args.path, 'utf8');
      const os = "import os from 'os'\n";
      if (!source.includes(os) || (source.match(/\bos\./g) ?? []).length !== 1 || !source.includes('os.userInfo()')) {
        return { contents: source, loader: 'js', warnings: [{ text: 'postgres/src/index.js changed: os stays an eager import' }] };
      }
      const lazy = "import { createRequire as createOsRequire } from 'node:module'\nconst os = { userInfo: () => createOsRequire(import.meta.url)('node:os').userInfo() }\n";
      return { contents: source.replace(os, lazy), loader: 'js' };
    });
  },
};

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  sourcemap: 'linked',
  legalComments: 'inline',
  logLevel: 'warning',
  plugins: [externals, driverImports],
};

fs.rmSync(outdir, { recursive: true, force: true });

await Promise.all([
  build({
    ...common,
    format: 'esm',
    // commander is CommonJS: its require() of Node built-ins needs a real `require` in an ES module.
    banner: { js: "import { createRequire as __strataCreateRequire } from 'node:module'; const require = __strataCreateRequire(import.meta.url);" },
    entryPoints: { main: MAIN, 'parse-worker': path.join(dist, 'profiles', 'parse-worker.js') },
    outdir,
    entryNames: '[name]',
    chunkNames: 'chunk-[hash]',
    splitting: true,
  }),
  // status.cjs: runStatusFastPath (src/cli/main.ts) and what it reaches — the status command, the
  // driver, … — as one CommonJS file, which bin/migrate (CommonJS too) requires for a plain
  // `migrate status`: no ES module loader at all on that path (~4 ms of a cold start). Everything
  // else main.js does (commander, the other commands) is tree-shaken away. Its modules are copies of
  // those in main.js's graph, dist/errors.js included: a process runs one or the other (bin/migrate
  // imports main.js only when runStatusFastPath declines, having run nothing).
  build({
    ...common,
    format: 'cjs',
    stdin: { contents: "export { runStatusFastPath } from './main.js';", resolveDir: path.dirname(MAIN), sourcefile: 'status-entry.js', loader: 'js' },
    outfile: path.join(outdir, 'status.cjs'),
    define: { 'import.meta.url': '__strataModuleUrl' },
    banner: { js: "const __strataModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
  }),
]);
