#!/usr/bin/env node
/**
 * Where a cold `migrate status` spends its time: the phases of src/cli/commands/status.ts replayed
 * with the built modules, each timed with performance.now() (ms since this process started, so the
 * first line is Node's own start). Run it many times and compare medians:
 *
 *   node bench/profile/status-phases.mjs --url URL --migrations DIR [--rounds 9]
 *
 * Each round is a fresh process. Also times, for comparison, a synchronous read of just the up.sql
 * files (what status needs for checksums) next to resolveMigrations.
 */
import { execFileSync } from 'node:child_process';
import { parseArgs } from 'node:util';
import { stats } from '../lib/measure.mjs';

const { values } = parseArgs({ options: { url: { type: 'string' }, migrations: { type: 'string' }, rounds: { type: 'string', default: '9' }, child: { type: 'boolean', default: false } } });

async function child() {
  const marks = [['node start (process start → first line of the script)', performance.now()]];
  let last = performance.now();
  const mark = (label) => { const now = performance.now(); marks.push([label, now - last]); last = now; };
  await import('../../dist/cli/main.js'); mark('import dist/cli/main.js (commander, options, output)');
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
  await db.close(); mark('close');
  process.stdout.write(JSON.stringify(marks));
}

if (values.child) {
  await child();
} else {
  const samples = [];
  for (let r = 0; r < Number(values.rounds); r++) {
    samples.push(JSON.parse(execFileSync(process.execPath, [new URL(import.meta.url).pathname, '--child', '--url', values.url, '--migrations', values.migrations], { encoding: 'utf8' })));
  }
  console.log(`status phases, ms (median, min–max of ${values.rounds} fresh processes)`);
  samples[0].forEach(([label], i) => {
    const s = stats(samples.map((m) => m[i][1]));
    console.log(`${s.median.toFixed(1).padStart(7)}  (${s.min.toFixed(1)}–${s.max.toFixed(1)})  ${label}`);
  });
}
