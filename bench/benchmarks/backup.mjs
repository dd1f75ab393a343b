/**
 * Backup and restore (SPEC §6, §10; issue 5): `migrate backup` / `migrate restore --truncate --yes`
 * next to `psql \copy … TO/FROM` on the same table in the same run, whole processes.
 *
 * Data (built once, untimed, server-side SQL): a `messages`-like table of 1,000,000 rows × scale
 * (uuid ids, text with commas, quotes, newlines, unicode and a literal `\N`, jsonb with the same,
 * integers, numerics, timestamp and timestamptz, NULLs in five columns) and a copy twice its size,
 * to show the backup's memory does not grow with the table; and four tables of a quarter each for
 * the multi-table backup. Restores load into another database whose table is emptied (TRUNCATE,
 * untimed) before each run, so `--truncate` finds nothing to back up first; they load the CSV of
 * one strata backup taken in setup, psql the very same file.
 *
 * Targets: backup and restore ≥ 0.9× psql's throughput on one table; peak RSS of the backup under
 * 200 MB and flat when the table doubles; the 4-table backup (one snapshot exported to parallel
 * connections) faster than psql copying the tables one after another.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stats } from '../lib/measure.mjs';
import { pairedRatios, psqlArgs, rssMethod, timeProcessRss } from '../lib/bigdata.mjs';
import { formatMs } from '../lib/report.mjs';
import { childEnv } from '../lib/tools.mjs';

const ROWS_AT_SCALE_1 = 1_000_000;
const PARTS = 4;

/** Columns of the table (the restore target gets the same definition). */
export const TABLE_DDL = (name) => `CREATE TABLE ${name} (
  id              uuid PRIMARY KEY,
  conversation_id uuid NOT NULL,
  role            text NOT NULL,
  content         text NOT NULL,
  metadata        jsonb,
  tokens          integer,
  score           numeric(12,4),
  created_at      timestamp NOT NULL,
  updated_at      timestamptz
)`;

/** Rows `from`..`to` of the generated data: deterministic (md5 of the row number), ~240 bytes of CSV a row. */
export const FILL = (name, from, to) => `INSERT INTO ${name}
SELECT md5('m' || g)::uuid,
       md5('c' || (g / 10))::uuid,
       (ARRAY['user', 'assistant', 'system'])[1 + g % 3],
       CASE g % 5
         WHEN 0 THEN 'Hi, "coach" — I ran ' || g % 13 || ' km today, felt great; next: ' || md5(g::text)
         WHEN 1 THEN E'Line one, with a comma\\nline two with "quotes" and a tab\\there ' || md5(g::text)
         WHEN 2 THEN 'plain text message number ' || g || ' ' || repeat('x', g % 40)
         WHEN 3 THEN E'ünïcödé 🙂, "quoted, with commas", \\\\N is not NULL ' || left(md5(g::text), 16)
         ELSE '' END,
       CASE WHEN g % 4 = 0 THEN NULL
            ELSE jsonb_build_object('week', g % 12, 'note', E'a, "b"\\nc', 'tags', jsonb_build_array('x', g % 7)) END,
       CASE WHEN g % 6 = 0 THEN NULL ELSE g % 2000 END,
       CASE WHEN g % 9 = 0 THEN NULL ELSE (g % 100000) / 7.0 END,
       '2024-01-01'::timestamp + g * interval '7 seconds',
       CASE WHEN g % 3 = 0 THEN NULL ELSE '2024-01-01 00:00:00+00'::timestamptz + g * interval '9 seconds' END
FROM generate_series(${from}, ${to}) g`;

const mb = (bytes) => bytes / 1e6;
const fmt = (x, digits = 1) => (Number.isFinite(x) ? x.toFixed(digits) : '–');
const fmtStats = (s, digits = 1, unit = '') => (s && Number.isFinite(s.median) ? `${fmt(s.median, digits)}${unit} (${fmt(s.min, digits)}–${fmt(s.max, digits)})` : '–');
const fmtRows = (x) => (Number.isFinite(x) ? `${(x / 1000).toFixed(0)}k` : '–');

export default {
  name: 'backup',
  title: 'backup/restore vs psql \\copy',
  defaults: { rounds: 3, warmup: 0 },
  async setup(ctx) {
    const { server, strata, psql, work, log } = ctx;
    const rows = Math.max(1000, Math.round(ROWS_AT_SCALE_1 * ctx.scale));
    const rows2 = rows * 2;
    const env = childEnv();
    const node = process.execPath;
    const dir = path.join(work, 'backup');
    fs.mkdirSync(dir);
    const source = 'bench_backup_source';
    const target = 'bench_backup_target';
    ctx.cleanups.push(async () => { await server.dropDatabase(source); await server.dropDatabase(target); });

    // --- data, untimed -------------------------------------------------------------------------
    const started = Date.now();
    log(`backup: generating ${rows.toLocaleString('en')} + ${rows2.toLocaleString('en')} rows and ${PARTS} tables of ${(rows / PARTS).toLocaleString('en')} (server-side SQL)`);
    const sourceUrl = await server.createDatabase(source);
    const partNames = Array.from({ length: PARTS }, (_, i) => `messages_part_${i + 1}`);
    await server.queryIn(source, `${TABLE_DDL('messages')}; ${FILL('messages', 1, rows)}`);
    await server.queryIn(source, `${TABLE_DDL('messages_2x')}; INSERT INTO messages_2x SELECT * FROM messages; ${FILL('messages_2x', rows + 1, rows2)}`);
    for (const [i, name] of partNames.entries()) {
      await server.queryIn(source, `${TABLE_DDL(name)}; INSERT INTO ${name} SELECT * FROM messages WHERE ('x' || left(id::text, 8))::bit(32)::int & ${PARTS - 1} = ${i}`);
    }
    await server.queryIn(source, 'VACUUM (FREEZE, ANALYZE)');
    const targetUrl = await server.createDatabase(target);
    await server.queryIn(target, TABLE_DDL('messages'));
    await server.query('CHECKPOINT');

    // The file both restores load: one strata backup of `messages`, taken now.
    const reference = await timeProcessRss(node, [strata.bin, '--json', '-q', '--database-url', sourceUrl, 'backup', 'messages', '--out', path.join(dir, 'reference')], { cwd: work, env });
    const refDoc = JSON.parse(reference.stdout);
    const refDir = path.resolve(work, refDoc.dir);
    const refTable = refDoc.tables[0];
    const refCsv = path.join(refDir, 'public.messages.csv');
    if (refTable.rows !== rows || fs.statSync(refCsv).size !== refTable.bytes) throw new Error(`reference backup: ${refTable.rows} rows, ${refTable.bytes} bytes (expected ${rows} rows)`);
    // Rows of each table, and (filled by the first run that writes it) its CSV size: every later run must match both.
    const sizes = { messages: { rows }, messages_2x: { rows: rows2 } };
    for (const name of partNames) {
      const [row] = await server.queryIn(source, `SELECT count(*)::int AS n FROM ${name}`);
      sizes[name] = { rows: row.n };
    }
    sizes.messages.bytes = refTable.bytes;
    log(`backup: data ready in ${((Date.now() - started) / 1000).toFixed(0)} s; messages: ${rows.toLocaleString('en')} rows, ${fmt(mb(refTable.bytes))} MB of CSV`);

    // --- subjects --------------------------------------------------------------------------------
    const out = (name) => path.join(dir, name);
    const rmOut = async (p) => fs.rmSync(p, { recursive: true, force: true });
    const csvOptions = '(FORMAT csv, HEADER)';
    const psqlRun = (url, ...args) => timeProcessRss(psql.path, psqlArgs(url, ...args), { cwd: work, env });
    const strataRun = (...args) => timeProcessRss(node, [strata.bin, ...args], { cwd: work, env });
    // With the 1-minute load average when the run ended: the machine is shared, and the figures move with it.
    const throughput = (ms, bytes, n) => ({ mbPerS: mb(bytes) / (ms / 1000), rowsPerS: n / (ms / 1000), load1: os.loadavg()[0] });
    /** psql \copy TO of one table, sized by the file it wrote (checked against strata's when known). */
    const psqlTo = (table) => ({
      name: `psql \\copy TO (${table === 'messages' ? '1×' : '2×'})`,
      group: table,
      prepare: () => { const file = out(`psql-${table}.csv`); fs.rmSync(file, { force: true }); return file; },
      run: async (file) => {
        const r = await psqlRun(sourceUrl, '-c', `\\copy public.${table} TO '${file}' ${csvOptions}`);
        const bytes = fs.statSync(file).size;
        sizes[table].bytes ??= bytes;
        if (bytes !== sizes[table].bytes) throw new Error(`${file}: ${bytes} bytes, strata wrote ${sizes[table].bytes}`);
        return { ms: r.ms, ...throughput(r.ms, bytes, sizes[table].rows), rssMb: r.rssMb };
      },
      cleanup: rmOut,
    });
    const strataBackup = (table) => ({
      name: `strata backup (${table === 'messages' ? '1×' : '2×'})`,
      group: table,
      prepare: () => { const root = out(`strata-${table}`); fs.rmSync(root, { recursive: true, force: true }); return root; },
      run: async (root) => {
        const r = await strataRun('--json', '-q', '--database-url', sourceUrl, 'backup', table, '--out', root);
        const [t] = JSON.parse(r.stdout).tables;
        if (t.rows !== sizes[table].rows) throw new Error(`strata backup of ${table}: ${t.rows} rows, expected ${sizes[table].rows}`);
        sizes[table].bytes ??= t.bytes;
        if (t.bytes !== sizes[table].bytes) throw new Error(`strata backup of ${table}: ${t.bytes} bytes, psql wrote ${sizes[table].bytes}`);
        return { ms: r.ms, ...throughput(r.ms, t.bytes, t.rows), rssMb: r.rssMb };
      },
      cleanup: rmOut,
    });
    /** Restores load into the emptied target table; the row count is checked afterwards (untimed). */
    const emptyTarget = async () => { await server.queryIn(target, 'TRUNCATE messages'); await server.query('CHECKPOINT'); };
    const expectLoaded = async () => {
      const [row] = await server.queryIn(target, 'SELECT count(*)::int AS n FROM messages');
      if (row.n !== rows) throw new Error(`the target holds ${row.n} rows after the restore, expected ${rows}`);
    };
    const psqlFrom = {
      name: 'psql \\copy FROM',
      group: 'restore',
      prepare: emptyTarget,
      run: async () => {
        const r = await psqlRun(targetUrl, '-c', `\\copy public.messages FROM '${refCsv}' ${csvOptions}`);
        await expectLoaded();
        return { ms: r.ms, ...throughput(r.ms, refTable.bytes, rows), rssMb: r.rssMb };
      },
    };
    const strataRestore = {
      name: 'strata restore --truncate',
      group: 'restore',
      prepare: emptyTarget,
      run: async () => {
        const r = await strataRun('-q', '--yes', '--database-url', targetUrl, '--backup-dir', out('restore-safety'), 'restore', refDir, '--truncate');
        await expectLoaded();
        return { ms: r.ms, ...throughput(r.ms, refTable.bytes, rows), rssMb: r.rssMb };
      },
      cleanup: () => rmOut(out('restore-safety')),
    };
    // Several tables: psql in one REPEATABLE READ transaction (the same consistency), one \copy after another.
    const partsScript = (file) => [
      'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;',
      ...partNames.map((n) => `\\copy public.${n} TO '${path.join(file, `${n}.csv`)}' ${csvOptions}`),
      'COMMIT;',
    ].join('\n');
    const partsBytes = () => partNames.reduce((sum, n) => sum + (sizes[n].bytes ?? NaN), 0);
    const partsRows = partNames.reduce((sum, n) => sum + sizes[n].rows, 0);
    const psqlParts = {
      name: `psql \\copy TO ×${PARTS}, one after another`,
      group: 'parts',
      prepare: () => {
        const d = out('psql-parts');
        fs.rmSync(d, { recursive: true, force: true });
        fs.mkdirSync(d);
        fs.writeFileSync(path.join(d, 'script.sql'), partsScript(d));
        return d;
      },
      run: async (d) => {
        const r = await psqlRun(sourceUrl, '-f', path.join(d, 'script.sql'));
        for (const n of partNames) sizes[n].bytes ??= fs.statSync(path.join(d, `${n}.csv`)).size;
        return { ms: r.ms, ...throughput(r.ms, partsBytes(), partsRows), rssMb: r.rssMb };
      },
      cleanup: rmOut,
    };
    const strataParts = (jobs) => ({
      name: `strata backup ×${PARTS} --jobs ${jobs}`,
      group: 'parts',
      prepare: () => { const root = out(`strata-parts-${jobs}`); fs.rmSync(root, { recursive: true, force: true }); return root; },
      run: async (root) => {
        const r = await strataRun('--json', '-q', '--database-url', sourceUrl, 'backup', ...partNames, '--out', root, '--jobs', String(jobs));
        const tables = JSON.parse(r.stdout).tables;
        for (const t of tables) {
          const n = t.table.replace(/^public\./, '');
          if (t.rows !== sizes[n].rows) throw new Error(`strata backup of ${n}: ${t.rows} rows, expected ${sizes[n].rows}`);
          sizes[n].bytes ??= t.bytes;
        }
        const bytes = tables.reduce((sum, t) => sum + t.bytes, 0);
        return { ms: r.ms, ...throughput(r.ms, bytes, partsRows), rssMb: r.rssMb };
      },
      cleanup: rmOut,
    });

    const subjects = [
      { ...psqlTo('messages'), note: `\`psql -c "\\copy public.messages TO FILE (FORMAT csv, HEADER)"\`; ${rssMethod}` },
      { ...strataBackup('messages'), note: '`migrate backup messages --out DIR --json`: COPY TO STDOUT in one REPEATABLE READ snapshot, SHA-256, record count, fsync and read-back verification of the file, manifest' },
      psqlTo('messages_2x'),
      { ...strataBackup('messages_2x'), note: 'the same on a table twice the size: the peak RSS must not grow with it' },
      { ...psqlFrom, note: '`\\copy public.messages FROM FILE (FORMAT csv, HEADER)` of the CSV of the strata backup, into the emptied table (primary key in place)' },
      { ...strataRestore, note: '`migrate restore DIR --truncate --yes`: verifies every file against the manifest, then TRUNCATE + COPY FROM STDIN in one transaction (the table is already empty, so nothing is backed up first)' },
      { ...psqlParts, note: `the ${PARTS} tables of ${(rows / PARTS).toLocaleString('en')} rows (a quarter of messages each) in one REPEATABLE READ transaction, one \\copy after another` },
      { ...strataParts(4), note: `\`migrate backup ${partNames.join(' ')}\`: the snapshot exported (pg_export_snapshot) to parallel connections (--jobs 4, the default)` },
      { ...strataParts(1), note: 'the same on one connection, to separate parallelism from per-table speed' },
    ];
    return {
      title: `backup/restore of ${rows.toLocaleString('en')} rows (${fmt(mb(refTable.bytes))} MB of CSV) vs psql \\copy, whole processes`,
      subjects,
      rows,
      refBytes: refTable.bytes,
    };
  },
  summarise(results, ctx, setup) {
    const s = (name) => results[name]?.samples ?? [];
    const st = (name, key) => stats(s(name).map((x) => x[key]).filter(Number.isFinite));
    const pairs = [
      ['strata backup (1×)', 'psql \\copy TO (1×)'],
      ['strata backup (2×)', 'psql \\copy TO (2×)'],
      ['strata restore --truncate', 'psql \\copy FROM'],
      [`strata backup ×${PARTS} --jobs 4`, `psql \\copy TO ×${PARTS}, one after another`],
      [`strata backup ×${PARTS} --jobs 1`, `psql \\copy TO ×${PARTS}, one after another`],
    ];
    const baselineOf = Object.fromEntries(pairs);
    const cells = {};
    const figures = { rows: setup.rows, csvBytes: setup.refBytes, subjects: {} };
    for (const name of Object.keys(results)) {
      const mbs = st(name, 'mbPerS');
      const base = baselineOf[name];
      // Throughput relative to psql: per-round ratios psql_ms / strata_ms (same round, drift cancels).
      const rel = base ? stats(pairedRatios(s(base), s(name)).filter(Number.isFinite)) : undefined;
      cells[name] = [fmtStats(mbs), fmtRows(st(name, 'rowsPerS').median), fmtStats(st(name, 'rssMb'), 0), rel ? fmtStats(rel, 2, '×') : ''];
      figures.subjects[name] = { mbPerS: mbs, rowsPerS: st(name, 'rowsPerS'), rssMb: st(name, 'rssMb'), vsPsql: rel };
    }
    const rel = (name) => figures.subjects[name]?.vsPsql;
    const ms = (name) => st(name, 'ms').median;
    const rss = (name) => st(name, 'rssMb');
    const ratioTarget = (name, what, strataName) => {
      const r = rel(strataName);
      return {
        name,
        ok: r && Number.isFinite(r.median) ? r.median >= 0.9 : null,
        detail: r && Number.isFinite(r.median)
          ? `${what}: strata ${fmt(st(strataName, 'mbPerS').median)} MB/s vs psql ${fmt(st(baselineOf[strataName], 'mbPerS').median)} MB/s; paired ratio ${fmt(r.median, 2)}× (${fmt(r.min, 2)}–${fmt(r.max, 2)})`
          : 'not measured',
      };
    };
    const r1 = rss('strata backup (1×)');
    const r2 = rss('strata backup (2×)');
    const partsStrata = ms(`strata backup ×${PARTS} --jobs 4`);
    const partsPsql = ms(`psql \\copy TO ×${PARTS}, one after another`);
    const targets = [
      ratioTarget('backup: throughput ≥ 0.9× psql \\copy TO (one table)', `${setup.rows.toLocaleString('en')} rows`, 'strata backup (1×)'),
      { ...ratioTarget('backup of the 2× table: throughput ≥ 0.9× psql', `${(setup.rows * 2).toLocaleString('en')} rows`, 'strata backup (2×)'), informational: true },
      ratioTarget('restore: throughput ≥ 0.9× psql \\copy FROM', `${setup.rows.toLocaleString('en')} rows`, 'strata restore --truncate'),
      {
        name: 'backup: peak RSS < 200 MB and flat when the table doubles',
        ok: Number.isFinite(r1.max) && Number.isFinite(r2.max) ? r1.max < 200 && r2.max < 200 && r2.median <= 1.2 * r1.median : null,
        detail: `1×: ${fmtStats(r1, 0, ' MB')}; 2×: ${fmtStats(r2, 0, ' MB')} (flat: 2× median ≤ 1.2 × 1× median; growth with the table would be ~2×)`,
      },
      {
        name: `backup of ${PARTS} tables faster than psql doing them one after another`,
        ok: Number.isFinite(partsStrata) && Number.isFinite(partsPsql) ? partsStrata < partsPsql : null,
        detail: `strata --jobs 4 ${formatMs(partsStrata)}, psql ${formatMs(partsPsql)} (psql ÷ strata = ${fmt(partsPsql / partsStrata, 2)}); strata --jobs 1 ${formatMs(ms(`strata backup ×${PARTS} --jobs 1`))}`,
      },
    ];
    return { columns: ['MB/s', 'rows/s', 'peak RSS MB', 'throughput × psql'], cells, figures, targets };
  },
};
