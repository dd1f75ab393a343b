/**
 * 011_timezone_awareness and composite types holding timestamps, through `bin/migrate`: it leaves
 * them as they are and names each type, its timestamp attributes and the columns that use it (a
 * dry run and the real run alike), converts the tables' own timestamp columns as always, and
 * verify's check, about tables' columns, neither counts the types' attributes nor misses a column.
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
const NO_TIMESTAMP = 'no timestamp without time zone column remains in schema public';

type Step = { name: string; statements: { sql: string }[]; notices: string[]; warnings: string[] };
type RunDoc = { applied: string[]; steps: Step[] };
type VerifyDoc = { ok: boolean; checks: { migration: string; check: string; ok: boolean; violations: number; sample: unknown[] }[] };

const SETUP = `
  CREATE SCHEMA other;
  CREATE DOMAIN ts_after_2000 AS timestamp CHECK (VALUE > '2000-01-01');
  CREATE TYPE stamp AS (at timestamp, note text, retries ts_after_2000[]);
  CREATE TYPE lone AS (at timestamp(3), n int);
  CREATE TYPE zoned AS (at timestamptz);
  CREATE TYPE other.span AS (starts timestamp, days int);
  CREATE TYPE other.unused AS (at timestamp);
  CREATE TABLE events (id int PRIMARY KEY, made timestamp NOT NULL, s stamp, history stamp[], z zoned, span other.span);
  INSERT INTO events SELECT g, '2024-01-15 12:00'::timestamp + g * interval '1 hour',
                            ROW('2024-01-15 12:00'::timestamp, 'x', '{2024-01-16 08:00}'::ts_after_2000[])::stamp,
                            ARRAY[ROW('2024-01-14 09:30'::timestamp, 'y', NULL)::stamp], ROW('2024-01-15 12:00+00'::timestamptz)::zoned,
                            ROW('2024-02-01 00:00'::timestamp, 3)::other.span
  FROM generate_series(1, 50) g;
`;

const WARNING = 'composite types not converted, left as they are: ' +
  'lone (at timestamp(3) without time zone; used by no column in public), ' +
  'stamp (at timestamp without time zone, retries ts_after_2000[]; used by events.s, events.history), ' +
  'other.span (starts timestamp without time zone; used by events.span); ' +
  '011 converts timestamp columns only, not composite types holding timestamps: convert these yourself if they hold UTC times ' +
  '(ALTER TYPE … ALTER ATTRIBUTE … TYPE timestamptz CASCADE for a type no column uses — CASCADE converts the tables of that type too; PostgreSQL refuses it for one a column uses: ' +
  'ADD ATTRIBUTE a timestamptz one, fill it with UPDATE, DROP ATTRIBUTE the old one — or move the columns to a new type with ALTER TABLE … ALTER COLUMN … TYPE … USING, a rewrite)';

describe('011 leaves composite types holding timestamps as they are, and names them', () => {
  let db: TestDatabase;
  let sql: postgres.Sql;
  const dir = writeMigrations({
    '001_types': { up: SETUP, down: 'DROP TABLE events;\nDROP TYPE stamp, lone, zoned, other.span, other.unused;\nDROP DOMAIN ts_after_2000;\nDROP SCHEMA other;\n' },
  });
  fs.writeFileSync(path.join(dir, `${NAME}.js`), MODULE_TEXT);
  const work = tempDir('strata-tz011-composite-');
  const cli = (...args: string[]) => runCli(['--migrations', dir, ...args], { cwd: work, env: { DATABASE_URL: db.url }, timeoutMs: 120_000 });
  // Tables' columns and composite types' attributes alike (relkind 'c': attrelid is the type's pg_class row).
  const types = async () => Object.fromEntries((await sql<{ k: string; t: string }[]>`
    SELECT n.nspname || '.' || c.relname || '.' || a.attname AS k, format_type(a.atttypid, a.atttypmod) AS t
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname IN ('public', 'other') AND c.relkind IN ('r', 'c') AND c.relname NOT IN ('schema_migrations', 'strata_011_timezone_awareness')
      AND a.attnum > 0 AND NOT a.attisdropped`).map((r) => [r.k, r.t]));
  // `made` as an epoch (the same instant read as UTC before and after), the composite values as text.
  const values = async () => sql`
    SELECT id, extract(epoch FROM made)::text AS made, s::text AS s, history::text AS history, span::text AS span FROM events ORDER BY id`;
  const before: { types: Record<string, string>; values: unknown[] } = { types: {}, values: [] };

  beforeAll(async () => {
    db = await createDatabase();
    sql = db.sql;
    const setup = await cli('up', 'types');
    expect(setup.code, setup.stderr).toBe(0);
    before.types = await types();
    before.values = await values();
  });
  afterAll(async () => { if (db) await dropDatabase(db); });

  it('a dry run names each type, its timestamp attributes and the columns using it, and converts only the table column', async () => {
    const dry = await cli('up', '--dry-run', '--json');
    expect(dry.code, dry.stderr).toBe(0);
    const step = dry.json<RunDoc>().steps[0]!;
    expect(step.warnings).toContain(WARNING);
    expect(dry.stderr).toContain(`warning: ${NAME}: ${WARNING}`);
    const changes = step.statements.map((s) => s.sql).filter((s) => /^ALTER (TABLE|TYPE)/.test(s));
    expect(changes).toEqual(['ALTER TABLE "public"."events" ALTER COLUMN "made" TYPE timestamptz']);
    expect(await types()).toEqual(before.types);
  });

  it('up succeeds, says the same on stderr, converts the table\'s timestamp column and leaves the types and their values', async () => {
    const up = await cli('up');
    expect(up.code, up.stderr).toBe(0);
    expect(up.stderr).toContain(`warning: ${NAME}: ${WARNING}`);
    const after = await types();
    expect(after['public.events.made']).toBe('timestamp with time zone');
    expect({ ...after, 'public.events.made': before.types['public.events.made'] }).toEqual(before.types);
    expect(after['public.stamp.at']).toBe('timestamp without time zone');
    expect(after['public.lone.at']).toBe('timestamp(3) without time zone');
    expect(await values()).toEqual(before.values);
  });

  it('the warning\'s advice holds: PostgreSQL converts a type no column uses, and refuses one a column uses', async () => {
    const attempt = (statement: string) => sql.begin(async (tx) => {
      await tx.unsafe(statement);
      throw new Error('converted');
    }).catch((error: Error) => error.message);
    expect(await attempt('ALTER TYPE lone ALTER ATTRIBUTE at TYPE timestamptz(3) CASCADE')).toBe('converted');
    expect(await attempt('ALTER TYPE stamp ALTER ATTRIBUTE at TYPE timestamptz CASCADE')).toMatch(/cannot alter type "stamp" because column "events\.(s|history)" uses it/);
  });

  it('verify passes (types\' attributes are not tables\' columns) and still reports a timestamp column added later', async () => {
    const ok = await cli('verify', '--json');
    expect(ok.code, ok.stdout).toBe(0);
    const check = (doc: VerifyDoc) => doc.checks.find((c) => c.migration === NAME && c.check === NO_TIMESTAMP)!;
    expect(check(ok.json<VerifyDoc>())).toMatchObject({ ok: true, violations: 0 });

    await sql`ALTER TABLE events ADD COLUMN later timestamp`;
    try {
      const bad = await cli('verify', '--json');
      expect(bad.code).toBe(1);
      expect(check(bad.json<VerifyDoc>())).toMatchObject({ ok: false, violations: 1, sample: [{ table_name: 'events', column_name: 'later', kind: 'table' }] });
    } finally {
      await sql`ALTER TABLE events DROP COLUMN later`;
    }
  });
});
