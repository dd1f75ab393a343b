/**
 * 011_timezone_awareness on a big table (SPEC §10, issue 6): strata's run of 011 next to the bare
 * `ALTER TABLE` in psql, on identical copies of one table, interleaved. Targets: the heap is not
 * rewritten (pg_class.relfilenode of the table unchanged; only the index on the converted column is
 * rebuilt) and strata within 1.1× of psql.
 *
 * The table: `events(id bigint pk, created_at timestamp NOT NULL DEFAULT now(), updated_at
 * timestamp, payload text)` with an index on created_at — two timestamp columns, an index on one —
 * 2,000,000 rows × scale, built once in a template database (VACUUM (FREEZE, ANALYZE)'d, so no
 * hint-bit writes land in a timed run). Each run gets its own copy (untimed):
 *   - psql: `psql -c "BEGIN; SET LOCAL timezone = 'UTC'; ALTER TABLE events ALTER COLUMN created_at
 *     TYPE timestamptz, ALTER COLUMN updated_at TYPE timestamptz; COMMIT"` — whole process;
 *   - strata: `migrate --migrations DIR up --json -q` where DIR holds only 011 — whole process (its
 *     history table is created in the run), and the step's own `durationMs` from the JSON (the
 *     migration without Node's start-up, connecting and the history table).
 * The relfilenodes of the table, its primary key and the created_at index are read before and after
 * each run (untimed), and the column types after it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { stats } from '../lib/measure.mjs';
import { copyDatabase, pairedRatios, psqlArgs, timeProcessRss } from '../lib/bigdata.mjs';
import { formatMs } from '../lib/report.mjs';
import { childEnv } from '../lib/tools.mjs';

const ROWS_AT_SCALE_1 = 2_000_000;
const ALTER = 'ALTER TABLE events ALTER COLUMN created_at TYPE timestamptz, ALTER COLUMN updated_at TYPE timestamptz';
const RELATIONS = ['events', 'events_pkey', 'events_created_at'];

async function storage(url) {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const rows = await sql`SELECT relname::text AS name, relfilenode::text AS node FROM pg_class WHERE relname = ANY(${RELATIONS}) ORDER BY 1`;
    const types = await sql`SELECT format_type(atttypid, atttypmod) AS type FROM pg_attribute
                            WHERE attrelid = 'events'::regclass AND attname IN ('created_at', 'updated_at')`;
    return { nodes: Object.fromEntries(rows.map((r) => [r.name, r.node])), converted: types.length === 2 && types.every((t) => t.type === 'timestamp with time zone') };
  } finally {
    await sql.end({ timeout: 1 });
  }
}

const fmt = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '–');

export default {
  name: 'tz011',
  title: '011 on a big table vs the bare ALTER TABLE',
  defaults: { rounds: 5, warmup: 1 },
  async setup(ctx) {
    const { server, strata, psql, work, log } = ctx;
    const rows = Math.max(1000, Math.round(ROWS_AT_SCALE_1 * ctx.scale));
    const env = childEnv();
    const dir = path.join(work, 'tz011');
    const only011 = path.join(dir, 'migrations');
    fs.mkdirSync(only011, { recursive: true });
    const moduleFile = path.join(strata.migrations ?? path.join(strata.root, 'migrations'), '011_timezone_awareness.js');
    if (!fs.existsSync(moduleFile)) return { skip: `${moduleFile} does not exist` };
    fs.copyFileSync(moduleFile, path.join(only011, '011_timezone_awareness.js'));

    const template = 'bench_tz011_template';
    const databases = new Set([template]);
    ctx.cleanups.push(async () => { for (const d of databases) await server.dropDatabase(d); });
    const started = Date.now();
    log(`tz011: building ${rows.toLocaleString('en')} rows (two timestamp columns, an index on one)`);
    await server.createDatabase(template);
    await server.queryIn(template, `
      CREATE TABLE events (id bigint PRIMARY KEY, created_at timestamp NOT NULL DEFAULT now(), updated_at timestamp, payload text);
      INSERT INTO events
      SELECT g, '2020-01-01'::timestamp + g * interval '13 seconds',
             CASE WHEN g % 5 = 0 THEN NULL ELSE '2020-01-01'::timestamp + g * interval '17 seconds' END,
             md5(g::text)
      FROM generate_series(1, ${rows}) g;
      CREATE INDEX events_created_at ON events (created_at);`);
    await server.queryIn(template, 'VACUUM (FREEZE, ANALYZE) events');
    await server.query('CHECKPOINT');
    log(`tz011: template ready in ${((Date.now() - started) / 1000).toFixed(0)} s`);

    const observations = { psql: [], strata: [] };
    const subject = (who) => {
      const database = `bench_tz011_${who}`;
      return {
        name: who === 'psql' ? 'psql ALTER TABLE' : 'strata 011',
        group: 'tz011',
        note: who === 'psql'
          ? `\`psql -c "BEGIN; SET LOCAL timezone = 'UTC'; ${ALTER}; COMMIT"\``
          : '`migrate --migrations DIR up --json -q`, DIR holding only 011 (history table created in the run); the `step` column is the step\'s durationMs from the JSON',
        prepare: async () => {
          databases.add(database);
          const url = await copyDatabase(server, database, template);
          return { url, before: await storage(url) };
        },
        run: async ({ url, before }, round) => {
          let sample;
          if (who === 'psql') {
            sample = { ms: (await timeProcessRss(psql.path, psqlArgs(url, '-c', `BEGIN; SET LOCAL timezone = 'UTC'; ${ALTER}; COMMIT;`), { cwd: dir, env })).ms };
          } else {
            const r = await timeProcessRss(process.execPath, [strata.bin, '--migrations', only011, '--database-url', url, 'up', '--json', '-q'], { cwd: dir, env });
            sample = { ms: r.ms, stepMs: JSON.parse(r.stdout).steps?.[0]?.durationMs };
          }
          const after = await storage(url);
          if (!after.converted) throw new Error(`${who}: created_at/updated_at are not timestamptz after the run`);
          observations[who].push({ round, before: before.nodes, after: after.nodes });
          return { ...sample, load1: os.loadavg()[0] };
        },
        cleanup: async () => { await server.dropDatabase(database); databases.delete(database); },
      };
    };
    return {
      title: `011 on a ${rows.toLocaleString('en')}-row table (2 timestamp columns, an index on one) vs the bare ALTER TABLE in psql, whole processes`,
      subjects: [subject('psql'), subject('strata')],
      rows,
      observations,
    };
  },
  summarise(results, ctx, setup) {
    const psql = results['psql ALTER TABLE']?.samples ?? [];
    const strata = results['strata 011']?.samples ?? [];
    const psqlMs = stats(psql.map((s) => s.ms)).median;
    const strataMs = stats(strata.map((s) => s.ms)).median;
    const stepMs = stats(strata.map((s) => s.stepMs).filter(Number.isFinite)).median;
    const paired = stats(pairedRatios(strata, psql).filter(Number.isFinite));
    const stepPaired = stats(strata.map((s, i) => s.stepMs / psql[i]?.ms).filter(Number.isFinite));
    const changed = (who, rel) => setup.observations[who].some((o) => o.before[rel] !== o.after[rel]);
    const kept = (who) => Object.fromEntries(RELATIONS.map((rel) => [rel, changed(who, rel) ? 'rebuilt' : 'kept']));
    const relfilenodes = { strata: kept('strata'), psql: kept('psql') };
    const describe = (k) => `heap ${k.events === 'kept' ? 'kept' : 'REWRITTEN'}, pk ${k.events_pkey}, created_at index ${k.events_created_at}`;
    const measured = setup.observations.strata.length > 0;
    const cells = {
      'psql ALTER TABLE': ['', '', describe(relfilenodes.psql)],
      'strata 011': [`${fmt(paired.median)}× (${fmt(paired.min)}–${fmt(paired.max)})`, `${formatMs(stepMs)} (${fmt(stepPaired.median)}×)`, describe(relfilenodes.strata)],
    };
    const targets = [
      {
        name: '011: heap not rewritten (relfilenode of the table unchanged)',
        ok: measured ? relfilenodes.strata.events === 'kept' : null,
        detail: `strata: ${describe(relfilenodes.strata)}; psql: ${describe(relfilenodes.psql)} (${setup.observations.strata.length} runs, warm-up included)`,
      },
      {
        name: '011: within 1.1× of the bare ALTER TABLE in psql (whole process)',
        ok: Number.isFinite(paired.median) ? paired.median <= 1.1 : null,
        detail: `strata ${formatMs(strataMs)}, psql ${formatMs(psqlMs)}; paired ratio ${fmt(paired.median)}× (${fmt(paired.min)}–${fmt(paired.max)})`,
      },
      {
        name: '011: the step itself within 1.1× of psql\'s whole process',
        informational: true,
        ok: Number.isFinite(stepPaired.median) ? stepPaired.median <= 1.1 : null,
        detail: `step ${formatMs(stepMs)} vs psql ${formatMs(psqlMs)}: ${fmt(stepPaired.median)}× (${fmt(stepPaired.min)}–${fmt(stepPaired.max)}); the rest of strata's process is Node start-up, connecting and the history table`,
      },
    ];
    return {
      columns: ['× psql (paired)', 'step (× psql)', 'relfilenodes'],
      cells,
      figures: { rows: setup.rows, psqlMs, strataMs, stepMs, paired, stepPaired, relfilenodes, observations: setup.observations },
      targets,
    };
  },
};
