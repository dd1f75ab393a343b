/**
 * `migrate check` (SPEC §5): the CI gate catches downs that do not restore the schema and checks
 * that fail, on a throwaway database that is always dropped.
 */
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { adminUrl } from '../support/database.js';
import { writeMigrations } from '../support/migrations.js';

/** Whether the throwaway database a check reported (`database strata_check_…`) still exists. */
async function stillThere(report: { database?: string }): Promise<boolean> {
  const name = /strata_check_[0-9a-f]+/.exec(report.database ?? '')?.[0];
  expect(name).toBeDefined();
  const sql = postgres(adminUrl(), { max: 1 });
  const rows = await sql`SELECT 1 FROM pg_database WHERE datname = ${name!}`;
  await sql.end();
  return rows.length > 0;
}

const check = (dir: string, ...args: string[]) => runCli(['--migrations', dir, 'check', '--json', ...args], { env: { DATABASE_URL: adminUrl() } });

type Report = { ok: boolean; database?: string; steps: { migration: string; action: string; ok: boolean; durationMs: number; diff?: string[]; detail?: string }[] };

describe('migrate check', () => {
  it('passes a set whose downs restore the schema exactly, and drops its database', async () => {
    const dir = writeMigrations({
      '001_base': {
        up: "CREATE TYPE mood AS ENUM ('low', 'high');\nCREATE TABLE diary (id serial PRIMARY KEY, mood mood NOT NULL DEFAULT 'low', body text CHECK (body <> ''));\nCREATE INDEX diary_mood ON diary (mood);\nCREATE VIEW happy AS SELECT id FROM diary WHERE mood = 'high';\n",
        down: 'DROP VIEW happy;\nDROP TABLE diary;\nDROP TYPE mood;\n',
        verify: '-- check: bodies are not blank\nSELECT id FROM diary WHERE trim(body) = \'\';\n',
      },
      '002_fn': {
        up: 'CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;\nCREATE TRIGGER diary_touch BEFORE UPDATE ON diary FOR EACH ROW EXECUTE FUNCTION touch();\n',
        down: 'DROP TRIGGER diary_touch ON diary;\nDROP FUNCTION touch();\n',
      },
    });
    const result = await check(dir);
    expect(result.code).toBe(0);
    const report = result.json<Report>();
    expect(report.ok).toBe(true);
    expect(report.steps.map((s) => `${s.migration} ${s.action}`)).toEqual([
      '001_base up', '001_base verify', '001_base down', '001_base compare', '001_base up', '001_base verify',
      '002_fn up', '002_fn verify', '002_fn down', '002_fn compare', '002_fn up', '002_fn verify',
    ]);
    expect(await stillThere(report)).toBe(false);
  });

  it('treats a module without down() as irreversible, like a SQL migration without down.sql', async () => {
    const dir = writeMigrations({
      '001_base': { up: 'CREATE TABLE kept (id int);\n' },
      '002_module.js': 'export async function up({ sql }) { await sql`CREATE TABLE one_way (id int)`; }\n',
    });
    const result = await check(dir);
    expect(result.code, result.stderr).toBe(0);
    const steps = result.json<Report>().steps.filter((s) => s.action === 'down');
    expect(steps.map((s) => [s.migration, s.ok, s.detail])).toEqual([
      ['001_base', true, 'irreversible (no down): not rolled back'],
      ['002_module', true, 'irreversible (no down): not rolled back'],
    ]);
  });

  it('names the first migration whose down forgets an index, with the difference', async () => {
    const dir = writeMigrations({
      '001_a': { up: 'CREATE TABLE a (id int);\n', down: 'DROP TABLE a;\n' },
      '002_index': { up: 'CREATE INDEX a_id ON a (id);\n', down: 'SELECT 1;\n' },
      '003_never_checked': { up: 'CREATE TABLE c (id int);\n', down: 'DROP TABLE c;\n' },
    });
    const result = await check(dir);
    expect(result.code).toBe(1);
    const report = result.json<Report>();
    const failed = report.steps.find((s) => !s.ok);
    expect(failed).toMatchObject({ migration: '002_index', action: 'compare', detail: 'down does not restore the schema' });
    expect(failed!.diff).toEqual(['index public.a_id: left behind (CREATE INDEX a_id ON public.a USING btree (id))']);
    expect(report.steps.some((s) => s.migration === '003_never_checked')).toBe(false);
    const human = await runCli(['--migrations', dir, 'check'], { env: { DATABASE_URL: adminUrl() } });
    expect(human.code).toBe(1);
    expect(human.stdout).toContain('check failed at 002_index (compare)');
    expect(await stillThere(report)).toBe(false); // dropped even though the check failed
  });

  it('catches a down that leaves a function behind and one that drops too much', async () => {
    const fn = writeMigrations({
      '001_fn': { up: 'CREATE FUNCTION answer() RETURNS int LANGUAGE sql AS $$ SELECT 42 $$;\n', down: 'SELECT 1;\n' },
    });
    const leftFn = (await check(fn)).json<Report>().steps.find((s) => !s.ok);
    expect(leftFn?.diff?.[0]).toMatch(/^function public\.answer\(\): left behind/);
    const greedy = writeMigrations({
      '001_a': { up: 'CREATE TABLE a (id int, note text);\n', down: 'DROP TABLE a;\n' },
      '002_b': { up: 'ALTER TABLE a ADD COLUMN extra int;\n', down: 'ALTER TABLE a DROP COLUMN extra, DROP COLUMN note;\n' },
    });
    const dropped = (await check(greedy)).json<Report>().steps.find((s) => !s.ok);
    expect(dropped).toMatchObject({ migration: '002_b', action: 'compare' });
    expect(dropped?.diff).toEqual(['column public.a.note: missing (text)']);
  });

  it('fails on a migration whose checks fail after up', async () => {
    const dir = writeMigrations({
      '001_seed': {
        up: "CREATE TABLE t (v int);\nINSERT INTO t VALUES (-1);\n",
        down: 'DROP TABLE t;\n',
        verify: '-- check: no negative values\nSELECT v FROM t WHERE v < 0;\n',
      },
    });
    const result = await check(dir);
    expect(result.code).toBe(1);
    expect(result.json<Report>().steps.at(-1)).toMatchObject({ action: 'verify', ok: false, detail: 'no negative values: 1 violation' });
  });

  it('with no server given, runs on an ephemeral PostgreSQL of its own', async () => {
    const dir = writeMigrations({ '001_a': { up: 'CREATE TABLE a (id int);\n', down: 'DROP TABLE a;\n' } });
    const result = await runCli(['--migrations', dir, 'check'], { timeoutMs: 120_000 });
    expect(result.code).toBe(0);
    expect(result.stderr).toContain('on an ephemeral embedded PostgreSQL');
    expect(result.stdout).toContain('check passed: 1 migration');
  });
});

describe('migrate check across migrations', () => {
  it('fails when a later migration breaks an earlier migration\'s check', async () => {
    const dir = writeMigrations({
      '001_a': { up: 'CREATE TABLE a (v int);\n', down: 'DROP TABLE a;\n', verify: '-- check: no negative v\nSELECT v FROM a WHERE v < 0;\n' },
      '002_b': { up: 'INSERT INTO a VALUES (-5);\n', down: 'DELETE FROM a WHERE v = -5;\n' },
    });
    const result = await runCli(['--migrations', dir, 'check', '--json'], { timeoutMs: 120_000 });
    expect(result.code).toBe(1);
    const failed = result.json<Report>().steps.find((s) => !s.ok);
    expect(failed).toMatchObject({ migration: '002_b', action: 'verify', detail: "001_a's check, after 002_b: no negative v: 1 violation" });
  });
});
