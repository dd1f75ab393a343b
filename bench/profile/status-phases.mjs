#!/usr/bin/env node
/**
 * Where a cold `migrate status` spends its time, each timed with performance.now() (ms since the
 * process started, so the first line is Node's own start). Run it many times and compare medians:
 *
 *   node bench/profile/status-phases.mjs --url URL --migrations DIR [--rounds 9]
 *
 * Two kinds of fresh process, alternating:
 * - bundled: what bin/migrate does for a plain `status`: require dist/bundle/status.cjs (one file,
 *   no ES module loader; scripts/bundle-cli.mjs) and run it. Its phases are only load and run.
 * - replay: the phases of src/cli/commands/status.ts replayed with tsc's unbundled modules, to see
 *   the parts: imports, resolving the directory, connect + query, render, close. Also times, for
 *   comparison, a bare synchronous read + hash of the up.sql files next to resolveMigrations.
 */
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { stats } from '../lib/measure.mjs';

const { values } = parseArgs({ options: { url: { type: 'string' }, migrations: { type: 'string' }, rounds: { type: 'string', default: '9' }, child: { type: 'string' } } });

function recorder() {
  const marks = [['node start (process start → first line of the script)', performance.now()]];
  let last = performance.now();
  return {
    marks,
    mark: (label) => { const now = performance.now(); marks.push([label, now - last]); last = now; },
  };
}

async function bundled() {
  const { marks, mark } = recorder();
  const { createRequire } = await import('node:module');
  const status = createRequire(import.meta.url)('../../dist/bundle/status.cjs');
  mark('require dist/bundle/status.cjs (the CLI front, the status command, the postgres driver)');
  const code = await status.runStatusFastPath(['node', 'migrate', 'status', '--database-url', values.url, '--migrations', values.migrations], { NO_COLOR: '1' });
  if (code !== 0) throw new Error(`status exited ${code}`);
  mark('runStatusFastPath: resolve, connect + query, render (stdout discarded), close without waiting');
  return marks;
}

async function replay() {
  const { marks, mark } = recorder();
  await import('../../dist/cli/main.js'); mark('import dist/cli/main.js (options, output; commander is lazy)');
  await import('../../dist/cli/commands/status.js'); mark('import dist/cli/commands/status.js (postgres, resolver, render, session)');
  const { resolveMigrations } = await import('../../dist/core/resolver.js');
  const migrations = await resolveMigrations(values.migrations); mark(`resolveMigrations (${migrations.length} migrations)`);
  const fs = await import('node:fs');
  const path = await import('node:path');
  const { createHash } = await import('node:crypto');
  let n = 0;
  for (const e of fs.readdirSync(values.migrations, { withFileTypes: true })) {
    if (!e.isDirectory()) continue;
    createHash('sha256').update(fs.readFileSync(path.join(values.migrations, e.name, 'up.sql'), 'utf8')).digest('hex');
    n++;
  }
  mark(`(comparison) readdirSync + readFileSync(up.sql) + sha256 of ${n}`);
  const { openDatabase } = await import('../../dist/db/connect.js');
  const { parseDatabaseUrl } = await import('../../dist/db/url.js');
  const db = await openDatabase(parseDatabaseUrl(values.url), { probe: false, applicationName: 'strata status' }); mark('openDatabase (lazy: nothing sent yet)');
  const { readStatus } = await import('../../dist/core/status.js');
  const entries = await readStatus(db.sql, migrations, { schema: 'public', table: 'schema_migrations' }); mark('readStatus: connect + auth + history read');
  const { Output } = await import('../../dist/cli/output.js');
  const { renderStatus } = await import('../../dist/cli/render.js');
  const { Writable } = await import('node:stream');
  const sink = new Writable({ write(chunk, enc, cb) { cb(); } });
  const out = new Output({ json: false, quiet: false, verbose: false, color: false, stdout: sink, stderr: sink });
  renderStatus(out, db.redactedUrl, values.migrations, entries); mark(`renderStatus (${entries.length} rows)`);
  await db.close({ wait: false }); mark('close (Terminate, no wait for the server)');
  return marks;
}

if (values.child) {
  const marks = values.child === 'bundled' ? await bundled() : await replay();
  // stdout is the status table in the bundled mode: the marks go to stderr.
  process.stderr.write(`\n${JSON.stringify(marks)}\n`);
} else {
  const samples = { bundled: [], replay: [] };
  for (let r = 0; r < Number(values.rounds); r++) {
    for (const kind of ['bundled', 'replay']) {
      const child = spawnSync(process.execPath, [new URL(import.meta.url).pathname, '--child', kind, '--url', values.url, '--migrations', values.migrations], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
      if (child.status !== 0) throw new Error(`${kind} child failed:\n${child.stderr}`);
      samples[kind].push(JSON.parse(child.stderr.trim().split('\n').at(-1)));
    }
  }
  for (const [kind, runs] of Object.entries(samples)) {
    console.log(`status phases, ${kind}, ms (median, min–max of ${values.rounds} fresh processes)`);
    runs[0].forEach(([label], i) => {
      const s = stats(runs.map((m) => m[i][1]));
      console.log(`${s.median.toFixed(1).padStart(7)}  (${s.min.toFixed(1)}–${s.max.toFixed(1)})  ${label}`);
    });
  }
}
