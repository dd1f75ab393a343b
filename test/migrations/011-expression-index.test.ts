/**
 * 011_timezone_awareness and expression indexes, through `bin/migrate`. An index such as
 * `((created_at::date))` is immutable on timestamp but not on timestamptz (the cast to date depends
 * on the time zone), so PostgreSQL refuses the table's ALTER ("functions in index expression must be
 * marked IMMUTABLE"); and a table's row type used in an index expression makes PostgreSQL 15+ refuse
 * that table's ALTER. Either used to fail the whole migration; 011 now converts the other tables,
 * leaves these as they are, and names them with what to do by hand — a dry run and the real run alike.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot, runCli } from '../support/cli.js';
import { createDatabase, dropDatabase, type TestDatabase } from '../support/database.js';
import { tempDir, writeMigrations } from '../support/migrations.js';

const MODULE_TEXT = fs.readFileSync(path.join(repoRoot, 'migrations', '011_timezone_awareness.js'), 'utf8');
const NAME = '002_timezone_awareness';
const RECORD = 'strata_011_timezone_awareness';

const SETUP = `
  CREATE TABLE visits (id int PRIMARY KEY, created_at timestamp NOT NULL);
  CREATE INDEX visits_day ON visits ((created_at::date));
  CREATE TABLE shapes (id int PRIMARY KEY, at timestamp);
  CREATE TABLE marks (id int PRIMARY KEY, at timestamp);
  CREATE INDEX marks_shape ON marks ((ROW(id, at)::shapes));
  CREATE TABLE events (id int PRIMARY KEY, made timestamp NOT NULL);
  INSERT INTO visits VALUES (1, '2024-01-15 23:30');
  INSERT INTO shapes VALUES (1, '2024-01-15 12:00');
  INSERT INTO marks VALUES (1, '2024-01-16 08:00');
  INSERT INTO events SELECT g, '2024-01-15 12:00'::timestamp + g * interval '1 hour' FROM generate_series(1, 10) g;
`;
const TEARDOWN = 'DROP TABLE events, marks, shapes, visits;';

type Step = { name: string; warnings: string[] };
type RunDoc = { steps: Step[] };
type VerifyDoc = { checks: { migration: string; check: string; ok: boolean; violations: number; sample: { table_name: string; column_name: string }[] }[] };

const IMMUTABLE = 'functions in index expression must be marked IMMUTABLE (SQLSTATE 42P17)';

describe('011 and expression indexes: the tables PostgreSQL refuses are left and named, the others converted', () => {
  let db: TestDatabase;
  let pg15 = false;
  const dir = writeMigrations({ '001_tables': { up: SETUP, down: TEARDOWN } });
  fs.writeFileSync(path.join(dir, `${NAME}.js`), MODULE_TEXT);
  const work = tempDir('strata-tz011-index-');
  const cli = (...args: string[]) => runCli(['--migrations', dir, ...args], { cwd: work, env: { DATABASE_URL: db.url }, timeoutMs: 120_000 });
  const types = async () => Object.fromEntries((await db.sql<{ k: string; t: string }[]>`
    SELECT c.relname || '.' || a.attname AS k, format_type(a.atttypid, a.atttypmod) AS t
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
    WHERE c.relname IN ('visits', 'shapes', 'marks', 'events') AND a.attnum > 1 AND NOT a.attisdropped`).map((r) => [r.k, r.t]));
  const warningsOf = (doc: RunDoc) => doc.steps.find((s) => s.name === NAME)?.warnings ?? [];

  beforeAll(async () => {
    db = await createDatabase();
    pg15 = Number((await db.sql<{ v: string }[]>`SELECT current_setting('server_version_num') AS v`)[0]?.v) >= 150000;
    const setup = await cli('up', 'tables');
    expect(setup.code, setup.stderr).toBe(0);
  });
  afterAll(async () => { if (db) await dropDatabase(db); });

  it('a dry run and the real run name them with PostgreSQL\'s reason and the way out; events is converted, the rest left as it was', async () => {
    const expectWarnings = (warnings: string[]) => {
      const failed = warnings.find((w) => w.startsWith('tables PostgreSQL refused to convert, left as they are: '));
      expect(failed).toContain(`visits.created_at (${IMMUTABLE})`);
      expect(failed).toContain("create it again with the zone written out, e.g. ((created_at AT TIME ZONE 'UTC')::date)");
      if (pg15) {
        // shapes' row type is in an index column (refused before its ALTER); marks' index expression
        // would no longer be immutable (refused at its ALTER).
        expect(warnings.find((w) => w.startsWith('tables whose row type is in use not converted'))).toContain('shapes.at (row type used by index marks_shape.row)');
        expect(failed).toContain(`marks.at (${IMMUTABLE})`);
      }
    };
    const dry = await cli('up', '--dry-run', '--json');
    expect(dry.code, dry.stderr).toBe(0);
    expectWarnings(warningsOf(dry.json<RunDoc>()));
    expect(await types()).toEqual({ 'visits.created_at': 'timestamp without time zone', 'shapes.at': 'timestamp without time zone', 'marks.at': 'timestamp without time zone', 'events.made': 'timestamp without time zone' });

    const real = await cli('up', '--json');
    expect(real.code, real.stderr).toBe(0);
    expectWarnings(warningsOf(real.json<RunDoc>()));
    const after = await types();
    expect(after['events.made']).toBe('timestamp with time zone');
    expect(after['visits.created_at']).toBe('timestamp without time zone');
    expect(after['marks.at']).toBe('timestamp without time zone');
    // The index is still there, untouched, and the row still found through it.
    const [index] = await db.sql<{ def: string }[]>`SELECT pg_get_indexdef('visits_day'::regclass) AS def`;
    expect(index?.def).toContain('((created_at)::date)');
    // Only what was converted is recorded: down converts back exactly that.
    expect((await db.sql<{ t: string }[]>`SELECT DISTINCT table_name AS t FROM ${db.sql(RECORD)}`).map((r) => r.t)).toEqual(['events']);
  });

  it('verify reports the columns left as timestamp; down restores only events', async () => {
    const verify = await cli('verify', '--json');
    expect(verify.code).toBe(1);
    const check = verify.json<VerifyDoc>().checks.find((c) => c.migration === NAME && c.check.startsWith('no timestamp without time zone column remains'))!;
    expect(check.ok).toBe(false);
    expect(check.sample.map((r) => `${r.table_name}.${r.column_name}`)).toEqual(expect.arrayContaining(['visits.created_at', 'marks.at']));

    const down = await cli('down', NAME, '--yes', '--json');
    expect(down.code, down.stderr).toBe(0);
    expect(await types()).toEqual({ 'visits.created_at': 'timestamp without time zone', 'shapes.at': 'timestamp without time zone', 'marks.at': 'timestamp without time zone', 'events.made': 'timestamp without time zone' });
  });
});
