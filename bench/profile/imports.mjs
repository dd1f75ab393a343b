#!/usr/bin/env node
/**
 * What loading a module costs a cold `migrate` process: each specifier is imported in a fresh
 * `node` process (so nothing is cached), N times, interleaved; prints the median and min–max of
 * the import alone (performance.now() around `await import()`), and the process's wall time.
 *
 *   node bench/profile/imports.mjs [--rounds N] [SPECIFIER …]
 *
 * Specifiers are package names or paths relative to the repo root (`dist/cli/main.js`). With none,
 * a default list: the CLI entry, each command module, and the heavy packages.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { stats } from '../lib/measure.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const { values, positionals } = parseArgs({ allowPositionals: true, options: { rounds: { type: 'string', default: '9' } } });
const DEFAULTS = [
  'dist/cli/main.js', 'dist/cli/commands/status.js', 'dist/cli/commands/run.js',
  'dist/core/runner.js', 'dist/db/connect.js', 'dist/cli/options.js',
  'commander', 'zod', 'postgres', 'umzug', 'libpg-query', 'chalk', 'ora',
];
const specifiers = positionals.length > 0 ? positionals : DEFAULTS;
const resolved = (s) => (s.startsWith('dist/') || s.startsWith('./') ? pathToFileURL(path.join(root, s)).href : s);
const script = (s) => `const t=performance.now();await import(${JSON.stringify(resolved(s))});process.stdout.write(String(performance.now()-t))`;

const samples = Object.fromEntries(specifiers.map((s) => [s, []]));
for (let r = 0; r < Number(values.rounds); r++) {
  for (const s of specifiers) {
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script(s)], { cwd: root, encoding: 'utf8' });
    samples[s].push(Number(out));
  }
}
const fmt = (x) => x.toFixed(1).padStart(6);
console.log(`import time in a fresh process, ms (median, min–max of ${values.rounds}); node ${process.version}`);
for (const s of specifiers) {
  const st = stats(samples[s]);
  console.log(`${fmt(st.median)}  (${st.min.toFixed(1)}–${st.max.toFixed(1)})  ${s}`);
}
