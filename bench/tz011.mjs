/**
 * 011_timezone_awareness on a big table (SPEC §10, issue 6): strata's run of 011 against the bare
 * `ALTER TABLE` in psql, on identical copies of one table, in the same run.
 *
 *   import { run } from './tz011.mjs';
 *   const figures = await run({ url, scale: 1, log: console.error });
 *
 * `url`: an admin URL of the server (it creates and drops databases `bench_tz011_*`). `scale`: 1 is
 * 2,000,000 rows. The table: `events(id bigint pk, created_at timestamp NOT NULL DEFAULT now(),
 * updated_at timestamp, payload text)` with an index on created_at — two timestamp columns, an index
 * on one. It is built once in a template database (VACUUM ANALYZE'd, so no hint-bit writes land in
 * a timed run), and each round copies it twice (CREATE DATABASE … TEMPLATE, untimed):
 *   - psql: `psql -c "BEGIN; SET LOCAL timezone = 'UTC'; ALTER TABLE events ALTER COLUMN created_at
 *     TYPE timestamptz, ALTER COLUMN updated_at TYPE timestamptz; COMMIT"` — whole process;
 *   - strata: `bin/migrate --migrations DIR up --json` where DIR holds only 011 — whole process,
 *     and the step's own `durationMs` from the JSON (the migration without Node's start-up and the
 *     history table's creation).
 * Rounds alternate which one goes first. Target: the heap's relfilenode unchanged (only the index on
 * created_at rebuilt) and strata within 1.1× of psql.
 *
 * Returns { rows, rounds, psqlMs, strataMs, strataStepMs, ratio, stepRatio, samples, relfilenodes,
 * heapRewritten, indexRebuilt, targets: [{ name, ok, detail }] } (times are medians in ms).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import postgres from 'postgres';

const here = path.dirname(fileURLToPath(import.meta.url));
const ROWS_AT_SCALE_1 = 2_000_000;
const ALTER = `ALTER TABLE events ALTER COLUMN created_at TYPE timestamptz, ALTER COLUMN updated_at TYPE timestamptz`;

const quoteIdent = (name) => `"${name.replace(/"/g, '""')}"`;

function withDatabase(url, database) {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  return n === 0 ? NaN : n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

/** Runs a process to completion: { ms (spawn to exit), stdout }; rejects on a non-zero exit. */
function timed(file, args, { cwd, env } = {}) {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    const started = performance.now();
    const child = spawn(file, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (c) => { stdout += c; });
    child.stderr.on('data', (c) => { stderr = (stderr + c).slice(-4000); });
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = performance.now() - started;
      if (code === 0) resolve({ ms, stdout });
      else reject(new Error(`${path.basename(file)} ${args.join(' ')} exited ${code}:\n${stderr.trim()}`));
    });
  });
}

function cleanEnv() {
  const env = { ...process.env, NO_COLOR: '1' };
  for (const key of Object.keys(env)) if (key === 'DATABASE_URL' || key.startsWith('PG')) delete env[key];
  return env;
}

async function storage(url) {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const rows = await sql`SELECT relname::text AS name, relfilenode::text AS node FROM pg_class
                           WHERE relname IN ('events', 'events_pkey', 'events_created_at') ORDER BY 1`;
    const types = await sql`SELECT format_type(atttypid, atttypmod) AS type FROM pg_attribute
                            WHERE attrelid = 'events'::regclass AND attname IN ('created_at', 'updated_at')`;
    return { nodes: Object.fromEntries(rows.map((r) => [r.name, r.node])), converted: types.every((t) => t.type === 'timestamp with time zone') };
  } finally {
    await sql.end();
  }
}

/**
 * @param {{ url: string, scale?: number, log?: (line: string) => void, rounds?: number,
 *           psql?: string, strataBin?: string, migrationsDir?: string }} options
 */
export async function run({ url, scale = 1, log = () => {}, rounds = 3, psql = 'psql', strataBin, migrationsDir }) {
  const rows = Math.max(1000, Math.round(ROWS_AT_SCALE_1 * scale));
  const bin = strataBin ?? path.join(here, '..', 'bin', 'migrate');
  const moduleFile = path.join(migrationsDir ?? path.join(here, '..', 'migrations'), '011_timezone_awareness.js');
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-bench-tz011-'));
  const only011 = path.join(work, 'migrations');
  fs.mkdirSync(only011);
  fs.copyFileSync(moduleFile, path.join(only011, '011_timezone_awareness.js'));
  const env = cleanEnv();
  const admin = postgres(url, { max: 1, onnotice: () => {} });
  const suffix = `${process.pid}`;
  const template = `bench_tz011_template_${suffix}`;
  const created = new Set();
  const createDb = async (name, from) => {
    await admin.unsafe(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
    await admin.unsafe(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE ${quoteIdent(from)}`);
    created.add(name);
    return withDatabase(url, name);
  };
  const dropDb = async (name) => {
    await admin.unsafe(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
    created.delete(name);
  };

  const samples = [];
  try {
    log(`tz011: building ${rows.toLocaleString('en')} rows (two timestamp columns, an index on one)`);
    const templateUrl = await createDb(template, 'template0');
    const t = postgres(templateUrl, { max: 1, onnotice: () => {} });
    try {
      await t.unsafe(`
        CREATE TABLE events (id bigint PRIMARY KEY, created_at timestamp NOT NULL DEFAULT now(), updated_at timestamp, payload text);
        INSERT INTO events
        SELECT g, '2020-01-01'::timestamp + g * interval '13 seconds',
               CASE WHEN g % 5 = 0 THEN NULL ELSE '2020-01-01'::timestamp + g * interval '17 seconds' END,
               md5(g::text)
        FROM generate_series(1, ${rows}) g;
        CREATE INDEX events_created_at ON events (created_at);`);
      await t.unsafe('VACUUM (FREEZE, ANALYZE) events');
      await t.unsafe('CHECKPOINT');
    } finally {
      await t.end();
    }

    for (let round = 0; round < rounds; round++) {
      const names = { psql: `bench_tz011_psql_${suffix}`, strata: `bench_tz011_strata_${suffix}` };
      const urls = { psql: await createDb(names.psql, template), strata: await createDb(names.strata, template) };
      await admin.unsafe('CHECKPOINT');
      const before = { psql: await storage(urls.psql), strata: await storage(urls.strata) };
      const sample = { round };
      const order = round % 2 === 0 ? ['psql', 'strata'] : ['strata', 'psql'];
      for (const who of order) {
        if (who === 'psql') {
          const r = await timed(psql, ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', urls.psql, '-c', `BEGIN; SET LOCAL timezone = 'UTC'; ${ALTER}; COMMIT;`], { env, cwd: work });
          sample.psqlMs = r.ms;
        } else {
          const r = await timed(process.execPath, [bin, '--migrations', only011, '--database-url', urls.strata, 'up', '--json', '-q'], { env, cwd: work });
          sample.strataMs = r.ms;
          sample.strataStepMs = JSON.parse(r.stdout).steps?.[0]?.durationMs;
        }
      }
      const after = { psql: await storage(urls.psql), strata: await storage(urls.strata) };
      sample.relfilenodes = { before, after };
      sample.converted = after.psql.converted && after.strata.converted;
      samples.push(sample);
      log(`tz011 round ${round + 1}/${rounds}: psql ${sample.psqlMs.toFixed(0)} ms, strata ${sample.strataMs.toFixed(0)} ms (step ${sample.strataStepMs} ms); ` +
        `heap ${before.strata.nodes.events} → ${after.strata.nodes.events}, index ${before.strata.nodes.events_created_at} → ${after.strata.nodes.events_created_at}`);
      await dropDb(names.psql);
      await dropDb(names.strata);
    }
  } finally {
    for (const name of [...created]) await dropDb(name).catch(() => undefined);
    await admin.end();
    fs.rmSync(work, { recursive: true, force: true });
  }

  const psqlMs = median(samples.map((s) => s.psqlMs));
  const strataMs = median(samples.map((s) => s.strataMs));
  const strataStepMs = median(samples.map((s) => s.strataStepMs));
  const same = (who, rel) => samples.every((s) => s.relfilenodes.before[who].nodes[rel] === s.relfilenodes.after[who].nodes[rel]);
  const heapRewritten = { strata: !same('strata', 'events'), psql: !same('psql', 'events') };
  const indexRebuilt = { strata: !same('strata', 'events_created_at'), psql: !same('psql', 'events_created_at') };
  const pkRebuilt = { strata: !same('strata', 'events_pkey'), psql: !same('psql', 'events_pkey') };
  const ratio = strataMs / psqlMs;
  const stepRatio = strataStepMs / psqlMs;
  return {
    rows,
    rounds,
    psqlMs,
    strataMs,
    strataStepMs,
    ratio,
    stepRatio,
    heapRewritten,
    indexRebuilt,
    pkRebuilt,
    samples,
    targets: [
      { name: 'heap not rewritten (relfilenode unchanged)', ok: !heapRewritten.strata && samples.every((s) => s.converted),
        detail: `strata: ${heapRewritten.strata ? 'rewritten' : 'kept'}; psql: ${heapRewritten.psql ? 'rewritten' : 'kept'}; index on created_at rebuilt: ${indexRebuilt.strata}; pk index rebuilt: ${pkRebuilt.strata}` },
      { name: '011 within 1.1× of the bare ALTER TABLE in psql (whole process)', ok: ratio <= 1.1,
        detail: `${strataMs.toFixed(0)} ms vs ${psqlMs.toFixed(0)} ms = ${ratio.toFixed(2)}×` },
      { name: '011 step within 1.1× of the bare ALTER TABLE in psql (the migration itself)', ok: stepRatio <= 1.1,
        detail: `${strataStepMs} ms vs ${psqlMs.toFixed(0)} ms = ${stepRatio.toFixed(2)}×` },
    ],
  };
}
