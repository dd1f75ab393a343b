#!/usr/bin/env node
/**
 * Where `migrate up` / `migrate down` spend their time, replayed with the built modules in fresh
 * processes (each phase timed with performance.now()):
 *
 *   node bench/profile/run-phases.mjs --admin-url URL --migrations DIR [--direction up|down] [--rounds 5]
 *
 * DIR holds trivial migrations (bench/lib/fixtures.mjs writes them). Each round creates a fresh
 * database (for down: applies everything first, untimed). Phases: Node start, imports, resolving
 * the directory, classifying the steps (SQL parser), and inside runMigrations (observed through
 * its onStepStart/onStepEnd hooks) the time to the first step and the step loop; plus, for
 * comparison, umzug's own loop over no-op migrations and the bare `postgres` pipeline of the same
 * statements (BEGIN, SET LOCAL, statement, history row, COMMIT per migration, one migration per
 * round trip — strata's loop also sends the next migrations ahead, so it can beat this).
 */
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import postgres from 'postgres';
import { stats } from '../lib/measure.mjs';
import { withDatabase } from '../lib/server.mjs';

const { values } = parseArgs({ options: {
  'admin-url': { type: 'string' }, url: { type: 'string' }, migrations: { type: 'string' }, direction: { type: 'string', default: 'up' },
  rounds: { type: 'string', default: '5' }, child: { type: 'boolean', default: false },
} });

async function child() {
  const marks = [['node start (process start → first line)', performance.now()]];
  let last = performance.now();
  const mark = (label, since = last) => { const now = performance.now(); marks.push([label, now - since]); last = now; };
  const direction = values.direction;
  const { runMigrations } = await import('../../dist/core/runner.js'); mark('import dist/core/runner.js');
  const { resolveMigrations } = await import('../../dist/core/resolver.js');
  const migrations = await resolveMigrations(values.migrations); mark(`resolveMigrations (${migrations.length})`);
  const { migrationStatus, selectUp, selectDown } = await import('../../dist/core/plan.js');
  const { prepareSteps } = await import('../../dist/core/steps.js');
  const { openDatabase } = await import('../../dist/db/connect.js');
  const { parseDatabaseUrl } = await import('../../dist/db/url.js');
  const db = await openDatabase(parseDatabaseUrl(values.url), { applicationName: 'strata run-phases', searchPath: '"public"' }); mark('openDatabase (connect + session setup)');
  const { HistoryStore } = await import('../../dist/core/history.js');
  const rows = await new HistoryStore(db.sql, { schema: 'public', table: 'schema_migrations' }).load();
  const entries = migrationStatus(migrations, rows);
  const selection = direction === 'up' ? selectUp(entries, undefined) : selectDown(entries, migrations[0].name);
  const log = { info() {}, warn() {}, debug() {} };
  const t0 = performance.now();
  await prepareSteps(selection.steps, direction, { sql: db.sql, schema: 'public', dryRun: false, log, options: {} });
  mark(`(measured apart) prepareSteps of ${selection.steps.length}: SQL parser load + parse`, t0);
  const t1 = performance.now();
  createRequire(import.meta.url)('../../dist/vendor/umzug.cjs');
  mark('(measured apart) load dist/vendor/umzug.cjs (what the runner uses)', t1);
  let firstStart;
  let lastEnd;
  const t2 = performance.now();
  await runMigrations(db, migrations, {
    direction, target: direction === 'down' ? migrations[0].name : undefined, dryRun: false, allowChanged: false, yes: true, noBackup: false,
    interactive: false, lockTimeoutMs: 10000, ddlLockTimeoutMs: 5000, retries: 3, schema: 'public', historyTable: 'schema_migrations', options: {},
  }, { log, onStepStart: () => { firstStart ??= performance.now(); }, onStepEnd: () => { lastEnd = performance.now(); } });
  const t3 = performance.now();
  marks.push(['runMigrations: lock, history, classify, destructive check, ensure → first step (parser and umzug already loaded)', firstStart - t2]);
  marks.push([`runMigrations: the step loop (${migrations.length} steps)`, lastEnd - firstStart]);
  marks.push(['runMigrations: after the last step (unlock)', t3 - lastEnd]);
  await db.close();
  process.stdout.write(JSON.stringify(marks));
}

/** umzug's loop alone: 300 no-op migrations, in-memory storage. */
async function umzugLoop(count) {
  const { Umzug, memoryStorage } = await import('umzug');
  const umzug = new Umzug({ migrations: Array.from({ length: count }, (_, i) => ({ name: `m${i}`, up: async () => {}, down: async () => {} })), storage: memoryStorage(), logger: undefined, context: {} });
  const t = performance.now();
  await umzug.up({ migrations: Array.from({ length: count }, (_, i) => `m${i}`) });
  return performance.now() - t;
}

/** The bare driver: the same five statements per migration, pipelined like src/core/execute.ts. */
async function barePipeline(url, count, direction) {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  await sql.unsafe('CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(), duration_ms integer NOT NULL DEFAULT 0, applied_by text NOT NULL DEFAULT current_user, state text NOT NULL DEFAULT \'applied\')');
  if (direction === 'down') {
    for (let i = 1; i <= count; i++) await sql.unsafe(`CREATE TABLE t_${i} (id int); INSERT INTO schema_migrations (name, checksum) VALUES ('m${i}', 'x')`);
  }
  const t = performance.now();
  for (let k = 1; k <= count; k++) {
    const i = direction === 'down' ? count + 1 - k : k;
    const body = direction === 'down'
      ? [`DROP TABLE t_${i}`, `DELETE FROM schema_migrations WHERE name = 'm${i}'`]
      : [`CREATE TABLE t_${i} (id int)`, `INSERT INTO schema_migrations (name, checksum, applied_at, duration_ms, applied_by, state) VALUES ('m${i}', 'x', now(), (extract(epoch FROM clock_timestamp() - now()) * 1000)::integer, current_user, 'applied')`];
    await Promise.all(['BEGIN', "SET LOCAL lock_timeout = '5000ms'", ...body, 'COMMIT'].map((q) => sql.unsafe(q)));
  }
  const ms = performance.now() - t;
  await sql.end();
  return ms;
}

if (values.child) {
  await child();
} else {
  const admin = postgres(values['admin-url'], { max: 1, onnotice: () => {} });
  const fresh = async (name) => { await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`); await admin.unsafe(`CREATE DATABASE ${name}`); return withDatabase(values['admin-url'], name); };
  const samples = [];
  const bare = [];
  const umzug = [];
  const self = new URL(import.meta.url).pathname;
  for (let r = 0; r < Number(values.rounds); r++) {
    const url = await fresh('bench_phases');
    if (values.direction === 'down') {
      execFileSync(process.execPath, [new URL('../../bin/migrate', import.meta.url).pathname, 'up', '-q', '--database-url', url, '--migrations', values.migrations]);
    }
    samples.push(JSON.parse(execFileSync(process.execPath, [self, '--child', '--url', url, '--migrations', values.migrations, '--direction', values.direction], { encoding: 'utf8' })));
    const count = samples[0].find(([l]) => l.startsWith('resolveMigrations'))[0].match(/\d+/)[0];
    bare.push(await barePipeline(await fresh('bench_phases_bare'), Number(count), values.direction));
    umzug.push(await umzugLoop(Number(count)));
  }
  await admin.unsafe('DROP DATABASE IF EXISTS bench_phases WITH (FORCE)');
  await admin.unsafe('DROP DATABASE IF EXISTS bench_phases_bare WITH (FORCE)');
  await admin.end();
  const line = (s, label) => console.log(`${s.median.toFixed(1).padStart(7)}  (${s.min.toFixed(1)}–${s.max.toFixed(1)})  ${label}`);
  console.log(`migrate ${values.direction} phases, ms (median, min–max of ${values.rounds} fresh processes)`);
  samples[0].forEach(([label], i) => line(stats(samples.map((m) => m[i][1])), label));
  line(stats(bare), `(comparison) bare postgres.js pipeline, same statements, same count (${values.direction})`);
  line(stats(umzug), '(comparison) umzug.up() over the same number of no-op migrations, memory storage');
}
