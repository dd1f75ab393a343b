/**
 * 011_timezone_awareness on columns the bundled set never has, through `bin/migrate`: a precision
 * (`timestamp(3)`, `timestamp(0)`, `timestamp(6)`) is kept both ways, and arrays, ranges and domains
 * of timestamp are left alone with a warning naming each column.
 */
import fs from 'node:fs';
import path from 'node:path';
import type postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot, runCli } from '../support/cli.js';
import { createDatabase, dropDatabase, type TestDatabase } from '../support/database.js';
import { tempDir, writeMigrations } from '../support/migrations.js';

const MODULE_TEXT = fs.readFileSync(path.join(repoRoot, 'migrations', '011_timezone_awareness.js'), 'utf8');
const NAME = '002_timezone_awareness';

type Step = { name: string; statements: { sql: string }[]; notices: string[]; warnings?: string[] };
type RunDoc = { applied: string[]; reverted: string[]; backups: string[]; steps: Step[] };

const SETUP = `
  CREATE DOMAIN ts_after_2000 AS timestamp CHECK (VALUE > '2000-01-01');
  CREATE TABLE precise (id int PRIMARY KEY, at timestamp(3) NOT NULL DEFAULT now(), plain timestamp, six timestamp(6), zero timestamp(0));
  CREATE INDEX precise_at ON precise (at);
  INSERT INTO precise SELECT g, '2024-01-15 12:00'::timestamp + g * interval '1.234 seconds', '2024-01-15 12:00:00.123456'::timestamp + g * interval '1 day',
                              '2024-01-15 12:00:00.654321', '2024-01-15 12:00:01' FROM generate_series(1, 500) g;
  CREATE TABLE wide (id int PRIMARY KEY, at timestamp(6), plain timestamp);
  CREATE INDEX wide_at ON wide (at);
  INSERT INTO wide SELECT g, '2024-01-15 12:00:00.000001'::timestamp + g * interval '1 minute', NULL FROM generate_series(1, 500) g;
  CREATE TABLE held (id int PRIMARY KEY, ats timestamp[], span tsrange, after_2000 ts_after_2000, many ts_after_2000[]);
  INSERT INTO held VALUES (1, ARRAY['2024-01-15 12:00'::timestamp], '[2024-01-15 12:00, 2024-01-15 13:00)', '2024-01-15 12:00', ARRAY['2024-01-15 12:00'::ts_after_2000]);
`;

describe('011 keeps a column\'s precision, and names what it does not convert', () => {
  let db: TestDatabase;
  let sql: postgres.Sql;
  const dir = writeMigrations({
    '001_tables': { up: SETUP, down: 'DROP TABLE held, wide, precise;\nDROP DOMAIN ts_after_2000;\n' },
  });
  fs.writeFileSync(path.join(dir, `${NAME}.js`), MODULE_TEXT);
  const work = tempDir('strata-tz011-precision-');
  const cli = (...args: string[]) => runCli(['--migrations', dir, ...args], { cwd: work, env: { DATABASE_URL: db.url }, timeoutMs: 120_000 });
  const types = async () => Object.fromEntries((await sql<{ k: string; t: string }[]>`
    SELECT attrelid::regclass::text || '.' || attname AS k, format_type(atttypid, atttypmod) AS t FROM pg_attribute
    WHERE attrelid IN ('precise'::regclass, 'wide'::regclass, 'held'::regclass) AND attnum > 1 AND NOT attisdropped`).map((r) => [r.k, r.t]));
  const nodes = async () => Object.fromEntries((await sql<{ n: string; f: string }[]>`
    SELECT relname::text AS n, relfilenode::text AS f FROM pg_class WHERE relname IN ('precise', 'wide', 'held', 'wide_at', 'precise_at')`).map((r) => [r.n, r.f]));
  // Every value's epoch: from timestamp it reads the value as UTC, from timestamptz it is the instant,
  // so equal epochs before and after mean the same instants (up) and the same wall-clock times (down).
  const values = async () => sql`
    SELECT p.id, extract(epoch FROM p.at)::text AS at, extract(epoch FROM p.plain)::text AS plain, extract(epoch FROM p.six)::text AS six,
           extract(epoch FROM p.zero)::text AS zero, extract(epoch FROM w.at)::text AS wide
    FROM precise p JOIN wide w USING (id) ORDER BY p.id`;
  const before: { types: Record<string, string>; nodes: Record<string, string>; values: unknown[] } = { types: {}, nodes: {}, values: [] };

  beforeAll(async () => {
    db = await createDatabase();
    sql = db.sql;
    expect((await cli('up', 'tables')).code).toBe(0);
    before.types = await types();
    before.nodes = await nodes();
    before.values = await values();
  });
  afterAll(async () => { if (db) await dropDatabase(db); });

  it('declares only the tables whose precision PostgreSQL must rewrite to keep, and says so', async () => {
    const refused = await cli('up');
    expect(refused.code).toBe(6);
    expect(refused.stderr).toMatch(/destroys data in public\.precise\b/);
    expect(refused.stderr).not.toMatch(/public\.wide/);

    const dry = await cli('up', '--dry-run', '--json');
    expect(dry.code, dry.stderr).toBe(0);
    const step = dry.json<RunDoc>().steps[0]!;
    const said = [...step.notices, ...(step.warnings ?? [])];
    expect(said).toContain('precise: at → timestamptz(3), plain → timestamptz, six → timestamptz(6), zero → timestamptz(0) read as UTC; ' +
      'the table WILL BE REWRITTEN (PostgreSQL rewrites it to keep the precision of at(3), zero(0); the values do not change)');
    expect(said).toContain('wide: at → timestamptz(6), plain → timestamptz read as UTC; catalog-only, the table is not rewritten (indexes on these columns are rebuilt)');
    expect(step.statements.map((s) => s.sql)).toContain('ALTER TABLE "public"."precise" ALTER COLUMN "at" TYPE timestamptz(3), ALTER COLUMN "plain" TYPE timestamptz, ' +
      'ALTER COLUMN "six" TYPE timestamptz(6), ALTER COLUMN "zero" TYPE timestamptz(0)');
    expect(await types()).toEqual(before.types);
  });

  it('up keeps every precision and every value; a timestamp(6) table with an index keeps its heap', async () => {
    const up = await cli('up', '--yes', '--json');
    expect(up.code, up.stderr).toBe(0);
    const doc = up.json<RunDoc>();
    expect(doc.applied).toEqual([NAME]);
    expect(doc.backups).toHaveLength(1);
    expect(fs.readdirSync(path.resolve(work, doc.backups[0]!)).sort()).toEqual(['manifest.json', 'public.precise.csv']);
    expect(await types()).toMatchObject({
      'precise.at': 'timestamp(3) with time zone', 'precise.plain': 'timestamp with time zone',
      'precise.six': 'timestamp(6) with time zone', 'precise.zero': 'timestamp(0) with time zone',
      'wide.at': 'timestamp(6) with time zone', 'wide.plain': 'timestamp with time zone',
    });
    expect(await values()).toEqual(before.values);
    const after = await nodes();
    expect(after.wide).toBe(before.nodes.wide);
    expect(after.wide_at).not.toBe(before.nodes.wide_at); // the index on the column is rebuilt
    expect(after.precise).not.toBe(before.nodes.precise);
    // The precision still applies to what is stored from now on.
    await sql`INSERT INTO precise (id, at, zero) VALUES (9999, '2024-01-15 12:00:00.123456+00', '2024-01-15 12:00:00.6+00')`;
    const [stored] = await sql`SELECT extract(epoch FROM at)::text AS at, extract(epoch FROM zero)::text AS zero FROM precise WHERE id = 9999`;
    expect(stored).toEqual({ at: '1705320000.123000', zero: '1705320001.000000' });
    await sql`DELETE FROM precise WHERE id = 9999`;
    expect((await cli('verify')).code).toBe(0);
  });

  it('names each array, range and domain column of timestamp it leaves as it is', async () => {
    // The run above said so; a dry run of the same step on the database as it was says it again.
    expect((await cli('down', '--yes')).code).toBe(0);
    const dry = await cli('up', '--dry-run', '--json');
    const step = dry.json<RunDoc>().steps[0]!;
    expect([...step.notices, ...(step.warnings ?? [])]).toContain(
      'not converted, left as they are: held.ats (timestamp without time zone[]), held.span (tsrange), held.after_2000 (ts_after_2000), held.many (ts_after_2000[]); ' +
      '011 converts timestamp columns only, not arrays, ranges or domains of timestamp: convert these yourself if they hold UTC times');
    expect(await types()).toEqual(before.types);
  });

  it('down gives back the same precisions and values, declaring the table it rewrites', async () => {
    expect((await cli('up', '--yes')).code).toBe(0);
    const refused = await cli('down');
    expect(refused.code).toBe(6);
    expect(refused.stderr).toMatch(/destroys data in public\.precise\b/);
    expect(refused.stderr).not.toMatch(/public\.wide/);
    const wide = (await nodes()).wide;
    const down = await cli('down', '--yes', '--json');
    expect(down.code, down.stderr).toBe(0);
    const step = down.json<RunDoc>().steps[0]!;
    expect([...step.notices, ...(step.warnings ?? [])]).toContain('precise: at → timestamp(3), plain → timestamp, six → timestamp(6), zero → timestamp(0) (UTC wall-clock); ' +
      'the table WILL BE REWRITTEN (PostgreSQL rewrites it to keep the precision of at(3), zero(0); the values do not change)');
    expect(await types()).toEqual(before.types);
    expect(await values()).toEqual(before.values);
    expect((await nodes()).wide).toBe(wide);
  });

  it('`migrate check` passes on the set: down restores timestamp(3) exactly', async () => {
    const check = await cli('check', '--json');
    expect(check.code, check.stdout).toBe(0);
    const report = check.json<{ ok: boolean; steps: { migration: string; action: string; ok: boolean }[] }>();
    expect(report.steps.filter((s) => s.migration === NAME).map((s) => [s.action, s.ok])).toEqual([
      ['up', true], ['verify', true], ['down', true], ['compare', true], ['up', true], ['verify', true]]);
  });
});
