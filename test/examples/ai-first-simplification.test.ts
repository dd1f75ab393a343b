/**
 * examples/ai-first-simplification end to end through the CLI (issue 8): 8 tables shrink to 2;
 * strata backs up exactly the three dropped tables that hold rows, in one snapshot and one
 * directory, refuses without --yes, and after a rollback `migrate restore` brings every row back,
 * value for value.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalogSnapshot, historyRows } from '../support/catalog.js';
import { repoRoot, runCli } from '../support/cli.js';
import { createDatabase, dropDatabase, type TestDatabase } from '../support/database.js';
import { tempDir } from '../support/migrations.js';

const migrations = path.join(repoRoot, 'examples', 'ai-first-simplification', 'migrations');
const DROPPED = ['check_in_responses', 'check_ins', 'goal_progress', 'goals', 'conversation_history', 'user_sessions'];
const WITH_ROWS = ['goals', 'conversation_history', 'user_sessions'];

type RunDoc = { dryRun: boolean; applied: string[]; reverted: string[]; backups: string[]; steps: { name: string; notices: string[] }[] };
type Manifest = { reason: string; tables: { table: string; rows: number; sha256: string }[] };

let db: TestDatabase;
beforeAll(async () => { db = await createDatabase('strata_example'); });
afterAll(async () => { await dropDatabase(db); });

const cwd = tempDir('strata-example-ai-first-');
const backupRoot = tempDir('strata-example-ai-first-backups-');
const cli = (...args: string[]) =>
  runCli(['--migrations', migrations, '--backup-dir', backupRoot, ...args], { cwd, env: { DATABASE_URL: db.url } });

/** Every row of a table as PostgreSQL's own text of the row: equal text, equal values. */
const rowsOf = async (table: string) =>
  (await db.sql.unsafe<{ row: string }[]>(`SELECT t::text AS row FROM ${table} t ORDER BY t.id`)).map((r) => r.row);
const countOf = async (table: string) => (await db.sql.unsafe<{ n: number }[]>(`SELECT count(*)::int AS n FROM ${table}`))[0]!.n;
const exists = async (table: string) => (await db.sql<{ ok: boolean }[]>`SELECT to_regclass(${table}) IS NOT NULL AS ok`)[0]!.ok;
const backupDirs = () => fs.readdirSync(backupRoot);
const manifestOf = (dir: string) => JSON.parse(fs.readFileSync(path.join(cwd, dir, 'manifest.json'), 'utf8')) as Manifest;

describe('examples/ai-first-simplification', () => {
  const before: Record<string, string[]> = {};
  let schemaBefore003 = '';
  let backup = '';

  it('rehearses the whole set with --dry-run: three steps, the three tables it would back up, nothing changed', async () => {
    const result = await cli('up', '--dry-run', '--json');
    expect(result.code, result.stderr).toBe(0);
    const doc = result.json<RunDoc>();
    expect(doc.dryRun).toBe(true);
    expect(doc.applied).toEqual(['001_legacy_schema', '002_sample_data', '003_ai_first']);
    const notices = doc.steps[2]!.notices;
    expect(notices.filter((n) => n.startsWith('would back up'))).toEqual([
      'would back up public.goals (2 rows) before 003_ai_first up destroys it',
      'would back up public.conversation_history (83 rows) before 003_ai_first up destroys it',
      'would back up public.user_sessions (3 rows) before 003_ai_first up destroys it',
    ]);
    expect(notices.filter((n) => n.includes('is empty: nothing to back up'))).toHaveLength(3);
    expect(await exists('users')).toBe(false);
    expect(await historyRows(db.sql)).toEqual([]);
    expect(backupDirs()).toEqual([]);
  });

  // The human rehearsal shows the whole DROP statement on one line and names the empty tables too.
  it('the human rehearsal names every table 003 drops, the empty ones included', async () => {
    const result = await cli('up', '--dry-run');
    expect(result.code, result.stderr).toBe(0);
    const step003 = result.stdout.slice(result.stdout.indexOf('003_ai_first would be applied'));
    for (const table of DROPPED) expect(step003, table).toMatch(new RegExp(`\\b${table}\\b`));
  });

  it('applies the legacy schema and the sample: the story\'s row counts, checks passing', async () => {
    const result = await cli('up', 'sample_data', '--json');
    expect(result.code, result.stderr).toBe(0);
    expect(result.json<RunDoc>().applied).toEqual(['001_legacy_schema', '002_sample_data']);
    const counts = Object.fromEntries(await Promise.all(
      ['users', 'user_preferences', ...DROPPED].map(async (t) => [t, await countOf(t)] as const)));
    expect(counts).toEqual({
      users: 6, user_preferences: 6, conversation_history: 83, goals: 2, user_sessions: 3,
      goal_progress: 0, check_ins: 0, check_in_responses: 0,
    });
    for (const table of [...DROPPED, 'users', 'user_preferences']) before[table] = await rowsOf(table);
    schemaBefore003 = await catalogSnapshot(db.sql);
    const verify = await cli('verify', '--json');
    expect(verify.code, verify.stdout).toBe(0);
  });

  it('refuses to drop tables holding rows without --yes (exit 6), touching nothing', async () => {
    const result = await cli('up');
    expect(result.code).toBe(6);
    expect(result.stderr).toContain('refusing to run a destructive step without confirmation');
    expect(result.stderr).toMatch(/public\.goals.*public\.conversation_history.*public\.user_sessions/);
    expect(await catalogSnapshot(db.sql)).toBe(schemaBefore003);
    expect(await rowsOf('conversation_history')).toEqual(before.conversation_history);
    expect(backupDirs()).toEqual([]);
  });

  it('with --yes backs up exactly the three tables holding rows, in one directory, then drops all six', async () => {
    const result = await cli('up', '--yes', '--json');
    expect(result.code, result.stderr).toBe(0);
    const doc = result.json<RunDoc>();
    expect(doc.applied).toEqual(['003_ai_first']);
    expect(doc.backups).toHaveLength(1);
    backup = doc.backups[0]!;
    expect(path.resolve(cwd, backup).startsWith(backupRoot)).toBe(true);
    expect(backupDirs()).toEqual([path.basename(backup)]);
    const manifest = manifestOf(backup);
    expect(manifest.reason).toBe('003_ai_first_up');
    expect(manifest.tables.map((t) => [t.table, t.rows]).sort()).toEqual(
      [['public.conversation_history', 83], ['public.goals', 2], ['public.user_sessions', 3]]);
    expect(fs.readdirSync(path.join(cwd, backup)).sort()).toEqual(
      ['manifest.json', ...WITH_ROWS.map((t) => `public.${t}.csv`)].sort());
    for (const table of DROPPED) expect(await exists(table), table).toBe(false);
    expect(await rowsOf('users')).toEqual(before.users);
    expect(await rowsOf('user_preferences')).toEqual(before.user_preferences);
  });

  it('verify passes on the AI-first schema', async () => {
    const result = await cli('verify', '--json');
    expect(result.code, result.stdout).toBe(0);
    const doc = result.json<{ ok: boolean; checks: { migration: string; check: string; ok: boolean }[] }>();
    expect(doc.ok).toBe(true);
    expect(doc.checks.filter((c) => c.check === 'checksum').map((c) => c.migration))
      .toEqual(['001_legacy_schema', '002_sample_data', '003_ai_first']);
  });

  // On an ephemeral server of its own, not the shared test server: test/cli/check.test.ts asserts
  // that no strata_check_* database exists on the shared server, which a concurrent check here would break.
  it('check: each migration applies, verifies, rolls back to the same schema and re-applies, on a throwaway server', { timeout: 240_000 }, async () => {
    const result = await runCli(['--migrations', migrations, 'check', '--json'], { timeoutMs: 230_000 });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const report = result.json<{ ok: boolean; steps: { migration: string; action: string; ok: boolean }[] }>();
    expect(report.ok).toBe(true);
    expect(report.steps.filter((s) => s.action === 'compare').map((s) => s.migration)).toEqual(['001_legacy_schema', '002_sample_data', '003_ai_first']);
  });

  it('rolling back recreates the six tables, empty, with their constraints and indexes', async () => {
    const result = await cli('ai_first', '--rollback', '--yes', '--json');
    expect(result.code, result.stderr).toBe(0);
    const doc = result.json<RunDoc>();
    expect(doc.reverted).toEqual(['003_ai_first']);
    expect(doc.backups).toEqual([]); // nothing destroyed: the recreated tables are new and empty
    expect(await catalogSnapshot(db.sql)).toBe(schemaBefore003);
    for (const table of DROPPED) expect(await countOf(table), table).toBe(0);
  });

  it('restore of the 003 backup brings every row back, value for value', async () => {
    const result = await cli('restore', backup, '--json');
    expect(result.code, result.stderr).toBe(0);
    const doc = result.json<{ tables: { table: string; rows: number }[] }>();
    expect(doc.tables.map((t) => [t.table, t.rows]).sort()).toEqual(
      [['public.conversation_history', 83], ['public.goals', 2], ['public.user_sessions', 3]]);
    for (const table of [...DROPPED, 'users', 'user_preferences']) {
      expect(await rowsOf(table), table).toEqual(before[table]);
    }
    // the awkward values, spelled out: NULL next to '', quotes, newlines, emoji, jsonb, arrays
    const [goal] = await db.sql`SELECT description, target_date FROM goals WHERE title = 'Gym 3x weekly'`;
    expect(goal!.description).toBe('Mon/Wed/Fri, 7am.\nNo "I\'ll go tomorrow" 🎯');
    expect(await db.sql`SELECT count(*)::int AS n FROM conversation_history WHERE content = ''`).toEqual([{ n: 5 }]);
    expect((await db.sql`SELECT ended_at FROM user_sessions WHERE platform = 'web'`)[0]!.ended_at).toBeNull();
    expect((await historyRows(db.sql)).map((r) => r.name)).toEqual(['001_legacy_schema', '002_sample_data']);
  });
});

// "A real database brings its own": `migrate baseline legacy_schema` adopts a database whose legacy
// tables already exist by recording 001 as applied without running it (Flyway's baseline).
describe('examples/ai-first-simplification on a real database that brings its own rows', () => {
  let real: TestDatabase;
  beforeAll(async () => { real = await createDatabase('strata_example_real'); });
  afterAll(async () => { await dropDatabase(real); });

  it('baselines the legacy schema, skips the sample, and runs 003 with its backup', async () => {
    // their migrations directory: the legacy schema and the change, no sample data
    const dir = tempDir('strata-example-real-');
    for (const name of ['001_legacy_schema', '003_ai_first']) fs.cpSync(path.join(migrations, name), path.join(dir, name), { recursive: true });
    await real.sql.unsafe(fs.readFileSync(path.join(dir, '001_legacy_schema', 'up.sql'), 'utf8'));
    await real.sql.unsafe(`
      INSERT INTO users (id, phone_number, name) VALUES ('00000000-0000-4000-8000-0000000000aa', '+15550000001', 'Real Person');
      INSERT INTO user_preferences (user_id) VALUES ('00000000-0000-4000-8000-0000000000aa');
      INSERT INTO goals (user_id, title) VALUES ('00000000-0000-4000-8000-0000000000aa', 'their own goal');`);
    const backups = tempDir('strata-example-real-backups-');
    const run = (...args: string[]) => runCli(['--migrations', dir, '--backup-dir', backups, ...args], { cwd: backups, env: { DATABASE_URL: real.url } });

    const baseline = await run('baseline', 'legacy_schema');
    expect(baseline.code, baseline.stderr).toBe(0);
    expect((await historyRows(real.sql)).map((r) => [r.name, r.state])).toEqual([['001_legacy_schema', 'applied']]);
    const up = await run('up', '--yes', '--json');
    expect(up.code, up.stderr).toBe(0);
    const doc = up.json<RunDoc>();
    expect(doc.applied).toEqual(['003_ai_first']);
    const manifest = JSON.parse(fs.readFileSync(path.join(backups, doc.backups[0]!, 'manifest.json'), 'utf8')) as Manifest;
    expect(manifest.tables.map((t) => [t.table, t.rows])).toEqual([['public.goals', 1]]);
  });
});
