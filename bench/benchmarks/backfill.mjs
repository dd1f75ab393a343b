/**
 * Backfills of the bundled phases 002–004 (issue 4, SPEC §10 "data migrations are set-based SQL"):
 * each phase's `migrate <phase>` (whole process) next to the same SQL through `psql -f`, on copies
 * of one generated MVP dataset. Target: each phase within 1.2× of psql.
 *
 * Data (untimed, once): 001 applied by strata, then `generateSampleData` (dist/sample/generate.js)
 * with 10,000 users × scale (~1M messages at scale 1), VACUUM ANALYZE'd — the template of phase 002.
 * strata applies 002 to a copy of it for phase 003's template, and 003 to a copy of that for 004's.
 * Each timed run gets its own copy of its phase's template (CREATE DATABASE … TEMPLATE, STRATEGY
 * FILE_COPY, then CHECKPOINT, untimed).
 *
 * psql's SQL: for 003 and 004 their up.sql, `\i`-ncluded in BEGIN; SET LOCAL lock_timeout; …;
 * the history row; COMMIT — the shape of strata's step. 002 is a JS module: its statements are
 * captured once in setup by running its `up` inside a rolled-back transaction on a scratch database
 * with the `postgres` driver's `debug` hook (final text + parameters), parameters inlined as
 * literals. They are checked against what `migrate 002_add_user_tables --dry-run --json` reports
 * (same count, and each dry-run text — `$n` where a parameter or fragment went — matches).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { stats, timeProcess } from '../lib/measure.mjs';
import { copyDatabase, pairedRatios, psqlArgs } from '../lib/bigdata.mjs';
import { formatMs } from '../lib/report.mjs';
import { childEnv } from '../lib/tools.mjs';

const USERS_AT_SCALE_1 = 10_000;
const SEED = 20261123;

/** The phases, what each fills, and where psql's SQL comes from. */
const PHASES = [
  { name: '002_add_user_tables', short: '002', tables: ['users', 'engagement_analytics', 'user_persona'] },
  { name: '003_add_program_tables', short: '003', tables: ['smart_goals', 'sessions', 'session_takeaways', 'check_ins'], sqlFile: '003_add_program_tables/up.sql' },
  { name: '004_add_transcripts', short: '004', tables: ['transcripts'], sqlFile: '004_add_transcripts/up.sql' },
];

const quoteLiteral = (text) => `'${String(text).replace(/'/g, "''")}'`;

/** A parameter as a literal of its type (text → 'x'::text; the driver's `t` is the type oid, 0 = inferred). */
function literal(value, typeOid) {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  const cast = { 25: '::text', 1043: '::varchar', 16: '::boolean', 20: '::bigint', 23: '::int', 3802: '::jsonb', 2950: '::uuid' }[typeOid] ?? '';
  return `${quoteLiteral(value)}${cast}`;
}

/** `$1`… replaced by the literals (only outside string literals and dollar quotes: none in 002's statements carry `$n` there). */
const inline = (text, params, types) => (params.length === 0 ? text : text.replace(/\$(\d+)\b/g, (m, i) => literal(params[i - 1], types[i - 1])));

/** The statements a migration module's `up` sends, captured in a transaction that is rolled back. */
async function captureModuleSql(url, moduleFile, schema) {
  const sent = [];
  let capturing = false;
  const sql = postgres(url, { max: 1, onnotice: () => {}, debug: (_connection, query, params, types) => { if (capturing) sent.push({ query, params, types }); } });
  const mod = await import(moduleFile);
  const rollback = new Error('rollback');
  try {
    await sql.begin(async (tx) => {
      capturing = true;
      const quiet = { info() {}, warn() {}, debug() {} };
      await mod.up({ sql: tx, direction: 'up', dryRun: false, schema, log: quiet, options: {} });
      capturing = false;
      throw rollback;
    });
  } catch (error) {
    if (error !== rollback) throw error;
  } finally {
    await sql.end({ timeout: 1 });
  }
  return sent.map((s) => inline(s.query.trim(), s.params, s.types));
}

/** Each dry-run text (parameters and fragments shown as `$n`) must match the captured statement. */
function checkAgainstDryRun(captured, dryRunStatements) {
  const norm = (t) => t.replace(/\s+/g, ' ').trim();
  if (captured.length !== dryRunStatements.length) {
    throw new Error(`002: captured ${captured.length} statements, the dry run reports ${dryRunStatements.length}`);
  }
  dryRunStatements.forEach((d, i) => {
    const pattern = norm(d.sql).split(/\$\d+/).map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('[\\s\\S]*?');
    if (!new RegExp(`^${pattern}$`).test(norm(captured[i]))) throw new Error(`002: statement ${i + 1} differs from the dry run's:\n${d.sql}\n---\n${captured[i]}`);
  });
}

const fmt = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '–');

export default {
  name: 'backfill',
  title: 'phases 002–004 on generated data vs psql -f',
  defaults: { rounds: 5, warmup: 0 },
  async setup(ctx) {
    const { server, strata, psql, work, log } = ctx;
    const users = Math.max(100, Math.round(USERS_AT_SCALE_1 * ctx.scale));
    const env = childEnv();
    const migrations = path.join(strata.root, 'migrations');
    const dir = path.join(work, 'backfill');
    fs.mkdirSync(dir);
    const strataArgs = (url, ...rest) => [strata.bin, '--migrations', migrations, '--database-url', url, ...rest];
    const strataPhase = (url, phase) => timeProcess(process.execPath, strataArgs(url, '-q', phase), { cwd: dir, env });
    let generate;
    try {
      ({ generateSampleData: generate } = await import(`${strata.root}/dist/sample/generate.js`));
    } catch (error) {
      return { skip: `dist/sample/generate.js does not load (${error.message})` };
    }
    const databases = new Set();
    ctx.cleanups.push(async () => { for (const d of databases) await server.dropDatabase(d); });
    const fresh = async (name, template) => { databases.add(name); return template ? copyDatabase(server, name, template) : server.createDatabase(name); };

    // --- 002's SQL, from a scratch database with 001 and no data -----------------------------------
    const scratch = await fresh('bench_backfill_scratch');
    await strataPhase(scratch, '001_mvp');
    const captured = await captureModuleSql(scratch, path.join(migrations, '002_add_user_tables.js'), 'public');
    const dryDoc = JSON.parse(await dryRunJson(process.execPath, strataArgs(scratch, '--json', '--dry-run', '002_add_user_tables'), dir, env));
    checkAgainstDryRun(captured, dryDoc.steps[0].statements);
    await server.dropDatabase('bench_backfill_scratch');
    databases.delete('bench_backfill_scratch');

    const history = (name) => `INSERT INTO schema_migrations (name, checksum, applied_at, duration_ms, applied_by, state)
VALUES (${quoteLiteral(name)}, 'psql', now(), 0, current_user, 'applied');`;
    for (const phase of PHASES) {
      const body = phase.sqlFile
        ? `\\i ${path.join(migrations, phase.sqlFile)}`
        : captured.map((s) => `${s};`).join('\n\n');
      phase.psqlFile = path.join(dir, `${phase.short}.psql.sql`);
      fs.writeFileSync(phase.psqlFile, `BEGIN;\nSET LOCAL lock_timeout = '5000ms';\n${body}\n${history(phase.name)}\nCOMMIT;\n`);
    }

    // --- the data and the phase templates, untimed -------------------------------------------------
    const started = Date.now();
    log(`backfill: generating the MVP sample data for ${users.toLocaleString('en')} users`);
    const t001 = 'bench_backfill_t001';
    const t001Url = await fresh(t001);
    await strataPhase(t001Url, '001_mvp');
    const sql = postgres(t001Url, { max: 1, onnotice: () => {} });
    let counts;
    try {
      counts = await generate(sql, { users, seed: SEED });
    } finally {
      await sql.end({ timeout: 1 });
    }
    await server.queryIn(t001, 'VACUUM (FREEZE, ANALYZE)');
    const templates = { '002': t001 };
    let previous = t001;
    for (const phase of PHASES.slice(0, -1)) {
      const name = `bench_backfill_t${phase.short}`;
      const url = await fresh(name, previous);
      await strataPhase(url, phase.name);
      await server.queryIn(name, 'VACUUM (FREEZE, ANALYZE)');
      previous = name;
      templates[String(Number(phase.short) + 1).padStart(3, '0')] = name;
    }
    await server.query('CHECKPOINT');
    log(`backfill: ${counts.users.toLocaleString('en')} users, ${counts.conversations.toLocaleString('en')} conversations, ${counts.messages.toLocaleString('en')} messages; templates ready in ${((Date.now() - started) / 1000).toFixed(0)} s`);

    // --- subjects: per phase, strata and psql on their own copy of the phase's template ----------
    const expected = {};
    const rowCounts = async (database, phase) => {
      const rows = await server.queryIn(database, phase.tables.map((t) => `SELECT ${quoteLiteral(t)} AS t, count(*)::int AS n FROM ${t}`).join(' UNION ALL '));
      return Object.fromEntries(rows.map((r) => [r.t, r.n]).sort(([a], [b]) => a.localeCompare(b)));
    };
    /** Both tools must fill the same rows: the first run's counts are the reference for the rest. */
    const expectSame = async (database, phase, who) => {
      const got = await rowCounts(database, phase);
      expected[phase.short] ??= got;
      if (JSON.stringify(got) !== JSON.stringify(expected[phase.short])) {
        throw new Error(`${who} ${phase.short}: rows ${JSON.stringify(got)}, expected ${JSON.stringify(expected[phase.short])}`);
      }
    };
    const subjects = [];
    for (const phase of PHASES) {
      const template = templates[phase.short];
      for (const who of ['strata', 'psql']) {
        const database = `bench_backfill_${phase.short}_${who}`;
        subjects.push({
          name: `${phase.short} ${who === 'strata' ? 'strata' : 'psql -f'}`,
          group: phase.short,
          note: who === 'strata'
            ? (phase.short === '002' ? `\`migrate ${phase.name}\` (after 001; whole process)` : `\`migrate ${phase.name}\``)
            : (phase.sqlFile ? `\`psql -f\` of BEGIN, \`\\i ${phase.sqlFile}\`, the history row, COMMIT` : '`psql -f` of the statements 002 sends (captured with the driver\'s debug hook, parameters inlined; checked against `--dry-run --json`), in BEGIN … history row … COMMIT'),
          prepare: async () => { databases.add(database); return copyDatabase(server, database, template); },
          run: async (url) => {
            const ms = who === 'strata'
              ? await strataPhase(url, phase.name)
              : await timeProcess(psql.path, psqlArgs(url, '-f', phase.psqlFile), { cwd: dir, env });
            await expectSame(database, phase, who);
            return { ms, load1: os.loadavg()[0] };
          },
          cleanup: async () => { await server.dropDatabase(database); databases.delete(database); },
        });
      }
    }
    return {
      title: `phases 002–004 on ${users.toLocaleString('en')} users / ${counts.messages.toLocaleString('en')} messages vs psql -f (whole processes, fresh copy per run)`,
      subjects,
      counts,
      expected,
    };
  },
  summarise(results, ctx, setup) {
    const samples = (name) => results[name]?.samples ?? [];
    const cells = {};
    const figures = { counts: setup.counts, rows: setup.expected, phases: {} };
    const targets = [];
    for (const phase of PHASES) {
      const s = `${phase.short} strata`;
      const p = `${phase.short} psql -f`;
      const paired = stats(pairedRatios(samples(s), samples(p)).filter(Number.isFinite));
      const strataMs = stats(samples(s).map((x) => x.ms)).median;
      const psqlMs = stats(samples(p).map((x) => x.ms)).median;
      const rows = setup.expected[phase.short];
      const rowText = rows ? Object.entries(rows).filter(([, n]) => n > 0).map(([t, n]) => `${t} ${n.toLocaleString('en')}`).join(', ') : '';
      cells[s] = [`${fmt(paired.median)}× (${fmt(paired.min)}–${fmt(paired.max)})`, `+${formatMs(strataMs - psqlMs)}`, rowText];
      cells[p] = ['', '', rowText];
      figures.phases[phase.short] = { strataMs, psqlMs, ratio: strataMs / psqlMs, paired };
      targets.push({
        name: `${phase.name}: within 1.2× of psql -f`,
        ok: Number.isFinite(paired.median) ? paired.median <= 1.2 : null,
        detail: `strata ${formatMs(strataMs)}, psql ${formatMs(psqlMs)}; paired ratio ${fmt(paired.median)}× (${fmt(paired.min)}–${fmt(paired.max)})`,
      });
    }
    return { columns: ['× psql (paired)', 'strata − psql', 'rows filled'], cells, figures, targets };
  },
};

/** stdout of a command (the dry run's JSON). */
async function dryRunJson(file, args, cwd, env) {
  const { execFile } = await import('node:child_process');
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd, env, maxBuffer: 64 << 20 }, (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout)));
  });
}
