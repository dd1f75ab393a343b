/**
 * examples/normalize-memory-profiles end to end through the CLI (issue 8): a JSONB blob per user
 * becomes six user_* tables and a summary, messy entries are counted and kept, old names keep
 * working during the deploy, and a rollback rebuilds every blob — exactly, plus what the new code
 * wrote meanwhile. The counts the migration reports are checked against an independent reading of
 * the blobs written here in TypeScript (`classify`).
 */
import fs from 'node:fs';
import path from 'node:path';
import type postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { historyRows } from '../support/catalog.js';
import { repoRoot, runCli } from '../support/cli.js';
import { createDatabase, dropDatabase, type TestDatabase } from '../support/database.js';
import { tempDir } from '../support/migrations.js';

const migrations = path.join(repoRoot, 'examples', 'normalize-memory-profiles', 'migrations');
const ALL = ['001_legacy_schema', '002_sample_data', '003_normalize_memory', '004_rename_conversation_tables', '005_contract'];

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type RunDoc = { dryRun: boolean; applied: string[]; reverted: string[]; backups: string[]; steps: { name: string; notices: string[] }[] };
type VerifyDoc = { ok: boolean; checks: { migration: string; check: string; ok: boolean; violations: number; sample: Record<string, unknown>[] }[] };
type Manifest = { reason: string; tables: { table: string; rows: number }[] };

// ---- The classification rules of 003_normalize_memory.js, written independently ----

type Field = 'text' | 'date' | readonly string[] | readonly [number, number];
interface Spec { table: string; label: string; fields: Record<string, Field>; same: (e: Record<string, Json>) => string }
const lower = (e: Record<string, Json>, key: string) => String(e[key]).toLowerCase();
const SPECS: Record<string, Spec> = {
  themes: { table: 'user_themes', label: 'name', fields: { name: 'text', intensity: [1, 5], first_mentioned: 'date' }, same: (e) => lower(e, 'name') },
  people: { table: 'user_people', label: 'name', same: (e) => `${lower(e, 'name')}\0${String(e.relationship ?? '')}`,
    fields: { name: 'text', relationship: ['parent', 'sibling', 'partner', 'friend', 'colleague', 'therapist', 'child', 'other'], notes: 'text' } },
  coping_tools: { table: 'user_coping_tools', label: 'name', fields: { name: 'text', effectiveness: [1, 5] }, same: (e) => lower(e, 'name') },
  goals: { table: 'user_goals', label: 'title', fields: { title: 'text', status: ['active', 'achieved', 'paused', 'dropped'], target_date: 'date' }, same: (e) => lower(e, 'title') },
  strengths: { table: 'user_strengths', label: 'name', fields: { name: 'text', evidence: 'text' }, same: (e) => lower(e, 'name') },
  daily_habits: { table: 'user_daily_habits', label: 'name', fields: { name: 'text', time_of_day: ['morning', 'afternoon', 'evening', 'night'], days_per_week: [1, 7] }, same: (e) => lower(e, 'name') },
};

function validValue(value: Json, field: Field): boolean {
  if (field === 'text') return typeof value === 'string';
  if (field === 'date') {
    if (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(value)) return false;
    return new Date(`${value}T00:00:00Z`).toISOString().startsWith(value);
  }
  if (typeof field[0] === 'number') return Number.isInteger(value) && (value as number) >= field[0] && (value as number) <= (field[1] as number);
  return typeof value === 'string' && (field as readonly string[]).includes(value);
}

/** Why an entry is not normalized (before duplicates), or null. */
function problemOf(entry: Json, spec: Spec): string | null {
  if (entry === null) return 'null';
  if (typeof entry === 'string') return 'string instead of an object';
  if (typeof entry !== 'object' || Array.isArray(entry)) return 'not an object';
  const label = entry[spec.label];
  if (typeof label !== 'string' || label.replace(/^ +| +$/g, '') === '') return `missing ${spec.label}`;
  if (Object.keys(entry).some((k) => !(k in spec.fields))) return 'unknown key';
  if (Object.values(entry).some((v) => v === null)) return 'explicit null';
  if (Object.entries(entry).some(([k, v]) => !validValue(v, spec.fields[k]!))) return 'invalid value';
  return null;
}

interface CategoryCount { entries: number; rows: number; table: string; kept: Record<string, number>; notArray: number }

function classify(blobs: Record<string, Json>[]): Record<string, CategoryCount> {
  const counts: Record<string, CategoryCount> = {};
  for (const [key, spec] of Object.entries(SPECS)) {
    const c: CategoryCount = { entries: 0, rows: 0, table: spec.table, kept: {}, notArray: 0 };
    for (const blob of blobs) {
      if (!(key in blob)) continue;
      const value = blob[key]!;
      if (!Array.isArray(value)) { c.notArray++; continue; }
      const seen = new Set<string>();
      for (const entry of value) {
        c.entries++;
        let reason = problemOf(entry, spec);
        if (reason === null) {
          const same = spec.same(entry as Record<string, Json>);
          if (seen.has(same)) reason = 'duplicate';
          seen.add(same);
        }
        if (reason === null) c.rows++;
        else c.kept[reason] = (c.kept[reason] ?? 0) + 1;
      }
    }
    counts[key] = c;
  }
  return counts;
}

/** `themes: 654 entries → 543 rows in user_themes, 111 kept in unparsed (27 invalid value, …); 5 not an array, kept whole` */
function parseNotice(line: string): [string, CategoryCount] | undefined {
  const m = /^(\w+): ([\d,]+) entries → ([\d,]+) rows in (\w+), ([\d,]+) kept in unparsed(?: \((.*?)\))?(?:; (\d+) not an array, kept whole)?$/.exec(line);
  if (!m) return undefined;
  const n = (s: string | undefined) => Number((s ?? '0').replace(/,/g, ''));
  const kept = Object.fromEntries((m[6] ?? '').split(', ').filter(Boolean).map((part) => {
    const [, count, reason] = /^(\d+) (.+)$/.exec(part)!;
    return [reason!, Number(count)];
  }));
  expect(Object.values(kept).reduce((a, b) => a + b, 0)).toBe(n(m[5]));
  return [m[1]!, { entries: n(m[2]), rows: n(m[3]), table: m[4]!, kept, notArray: n(m[7]) }];
}

// ---- The run ----

let db: TestDatabase;
beforeAll(async () => { db = await createDatabase('strata_example'); });
afterAll(async () => { await dropDatabase(db); });

const cwd = tempDir('strata-example-memory-');
const backupRoot = tempDir('strata-example-memory-backups-');
const cli = (...args: string[]) =>
  runCli(['--migrations', migrations, '--backup-dir', backupRoot, ...args], { cwd, env: { DATABASE_URL: db.url } });

const exists = async (name: string) => (await db.sql<{ ok: boolean }[]>`SELECT to_regclass(${name}) IS NOT NULL AS ok`)[0]!.ok;
const rowsOf = async (table: string) =>
  (await db.sql.unsafe<{ row: string }[]>(`SELECT t::text AS row FROM ${table} t ORDER BY t.id`)).map((r) => r.row);
const manifestOf = (dir: string) => JSON.parse(fs.readFileSync(path.join(cwd, dir, 'manifest.json'), 'utf8')) as Manifest;
const NORMALIZED = [...Object.values(SPECS).map((s) => s.table), 'user_profile_summary'];

interface Profile { id: string; user_id: string; summary: string | null; mood_baseline: number | null; memory: string; created_at: string; updated_at: string }
/** memory_profiles (table or view) with every value as text: equal text is equal values. */
const profiles = async () => new Map((await db.sql<Profile[]>`
  SELECT id::text, user_id::text, summary, mood_baseline, memory::text AS memory, created_at::text, updated_at::text
  FROM memory_profiles`).map((p) => [p.user_id, p]));

describe('examples/normalize-memory-profiles', () => {
  let before: Map<string, Profile>;
  let usersWithoutProfile: string[] = [];
  const newCode = { user: '', theme: { name: 'loneliness at weekends', intensity: 2 }, tool: { name: 'texting my brother', effectiveness: 4 } };
  let normalizedBeforeRollback: Record<string, string[]> = {};
  let rollbackBackup = '';

  it('rehearses all five steps with --dry-run: the normalization report, the backup it would take, nothing changed', async () => {
    const result = await cli('up', '--dry-run', '--json');
    expect(result.code, result.stderr).toBe(0);
    const doc = result.json<RunDoc>();
    expect(doc.applied).toEqual(ALL);
    const normalize = doc.steps.find((s) => s.name === '003_normalize_memory')!;
    expect(normalize.notices).toHaveLength(7);
    expect(normalize.notices.at(-1)).toMatch(/^normalized [\d,]+ of [\d,]+ entries into 6 tables; .* 4 users without a profile got an empty summary$/);
    expect(doc.steps.find((s) => s.name === '005_contract')!.notices)
      .toEqual(['would back up public.memory_profiles_legacy (296 rows) before 005_contract up destroys it']);
    expect(await exists('users')).toBe(false);
    expect(await historyRows(db.sql)).toEqual([]);
    expect(fs.readdirSync(backupRoot)).toEqual([]);
  });

  it('applies the legacy schema and a messy sample', async () => {
    const result = await cli('up', 'sample_data');
    expect(result.code, result.stderr).toBe(0);
    before = await profiles();
    expect(before.size).toBe(296);
    usersWithoutProfile = (await db.sql<{ id: string }[]>`
      SELECT id::text FROM users u WHERE NOT EXISTS (SELECT 1 FROM memory_profiles p WHERE p.user_id = u.id) ORDER BY id`).map((r) => r.id);
    expect(usersWithoutProfile).toHaveLength(4);
    // the sample really is messy: every kind of problem occurs in every category
    const counts = classify([...before.values()].map((p) => JSON.parse(p.memory) as Record<string, Json>));
    for (const [key, c] of Object.entries(counts)) {
      expect(Object.keys(c.kept).sort(), key).toEqual(['duplicate', 'explicit null', 'invalid value', `missing ${SPECS[key]!.label}`,
        'not an object', 'null', 'string instead of an object', 'unknown key'].sort());
      expect(c.notArray, key).toBeGreaterThan(0);
    }
  });

  it('normalizes set-based and reports exactly what it kept aside, and why (the expand phase needs no --yes)', async () => {
    const result = await cli('up', 'rename_conversation_tables', '--json');
    expect(result.code, result.stderr).toBe(0);
    const doc = result.json<RunDoc>();
    expect(doc.applied).toEqual(['003_normalize_memory', '004_rename_conversation_tables']);
    expect(doc.backups).toEqual([]);
    const notices = doc.steps[0]!.notices;
    const reported = Object.fromEntries(notices.map(parseNotice).filter((x) => x !== undefined));
    const expected = classify([...before.values()].map((p) => JSON.parse(p.memory) as Record<string, Json>));
    expect(reported).toEqual(expected);
    // ... and what is in the database says the same
    for (const [key, c] of Object.entries(expected)) {
      const [row] = await db.sql.unsafe<{ n: number }[]>(`SELECT count(*)::int AS n FROM ${c.table}`);
      expect(row!.n, c.table).toBe(c.rows);
      const kept = await db.sql<{ reason: string; n: number }[]>`
        SELECT u.value ->> 'reason' AS reason, count(*)::int AS n
        FROM user_profile_summary s CROSS JOIN LATERAL jsonb_array_elements(
          CASE WHEN jsonb_typeof(s.unparsed -> ${key}) = 'array' THEN s.unparsed -> ${key} ELSE '[]' END) AS u
        GROUP BY 1`;
      expect(Object.fromEntries(kept.map((k) => [k.reason, k.n])), key).toEqual(c.kept);
    }
    const total = Object.values(expected).reduce((sum, c) => sum + c.entries, 0);
    const rows = Object.values(expected).reduce((sum, c) => sum + c.rows, 0);
    expect(notices.at(-1)).toContain(`normalized ${rows.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} entries`);
  });

  it('old names keep working during the deploy: the conversation views read and write, memory_profiles reads the live blobs', async () => {
    // the old name shows every profile, its blob rebuilt live from the tables, text for text
    expect(await profiles()).toEqual(before);
    const [user] = await db.sql<{ id: string }[]>`SELECT id FROM users ORDER BY id LIMIT 1`;
    const [conversation] = await db.sql<{ id: string; started_at: Date }[]>`
      INSERT INTO conversations (user_id, title) VALUES (${user!.id}, 'from an old instance') RETURNING id, started_at`;
    expect(conversation!.started_at).toBeInstanceOf(Date); // the table's default, through the view
    await db.sql`INSERT INTO conversation_messages (conversation_id, role, content) VALUES (${conversation!.id}, 'user', 'still here')`;
    expect(await db.sql`SELECT content FROM user_conversation_messages WHERE conversation_id = ${conversation!.id}`).toEqual([{ content: 'still here' }]);
    await db.sql`DELETE FROM conversations WHERE id = ${conversation!.id}`;
    expect(await db.sql`SELECT 1 FROM user_conversation_messages WHERE conversation_id = ${conversation!.id}`).toHaveLength(0);
    expect((await db.sql`SELECT count(*)::int AS n FROM crisis_flags`)[0]!.n).toBe(25);
    // a write to the old blob fails loudly instead of being silently lost
    await expect(db.sql`UPDATE memory_profiles SET summary = 'lost?' WHERE user_id = ${user!.id}`).rejects.toThrow(/cannot update view "memory_profiles"/);
  });

  it('verify compares the tables with the legacy blobs, and catches a lost entry', async () => {
    const ok = await cli('verify', '--json');
    expect(ok.code, ok.stdout).toBe(0);
    const titles = ok.json<VerifyDoc>().checks.filter((c) => c.migration === '003_normalize_memory').map((c) => c.check);
    expect(titles).toEqual(['checksum', 'every user has a profile summary', 'no orphan rows: every summary and normalized row belongs to a user',
      'legacy blobs: entries per category = rows in its table + entries kept in unparsed', 'legacy blobs: each profile is rebuilt exactly from the new tables']);

    const [lost] = await db.sql<{ id: string; user_id: string; row: unknown }[]>`SELECT id, user_id::text, to_jsonb(t) AS row FROM user_themes t ORDER BY id LIMIT 1`;
    await db.sql`DELETE FROM user_themes WHERE id = ${lost!.id}`;
    const failed = await cli('verify', '--json');
    expect(failed.code).toBe(1);
    const bad = failed.json<VerifyDoc>().checks.filter((c) => !c.ok);
    expect(bad.map((c) => [c.check, c.violations])).toEqual([
      ['legacy blobs: entries per category = rows in its table + entries kept in unparsed', 1],
      ['legacy blobs: each profile is rebuilt exactly from the new tables', 1],
    ]);
    expect(bad[0]!.sample[0]).toMatchObject({ user_id: lost!.user_id, category: 'themes' });
    expect(bad[1]!.sample[0]).toMatchObject({ user_id: lost!.user_id, differing_keys: ['themes'] });
    await db.sql`INSERT INTO user_themes SELECT (jsonb_populate_record(NULL::user_themes, ${db.sql.json(lost!.row as postgres.JSONValue)})).*`;
    expect((await cli('verify')).code).toBe(0);
  });

  it('the contract step refuses without --yes, then backs up the legacy blobs (one directory) and drops the old names', async () => {
    const refused = await cli('up');
    expect(refused.code).toBe(6);
    expect(refused.stderr).toContain('public.memory_profiles_legacy');
    expect(await exists('memory_profiles_legacy')).toBe(true);

    const result = await cli('up', '--yes', '--json');
    expect(result.code, result.stderr).toBe(0);
    const doc = result.json<RunDoc>();
    expect(doc.applied).toEqual(['005_contract']);
    expect(doc.backups).toHaveLength(1);
    expect(fs.readdirSync(backupRoot)).toEqual([path.basename(doc.backups[0]!)]);
    const manifest = manifestOf(doc.backups[0]!);
    expect(manifest.reason).toBe('005_contract_up');
    expect(manifest.tables.map((t) => [t.table, t.rows])).toEqual([['public.memory_profiles_legacy', 296]]);
    for (const name of ['memory_profiles_legacy', 'memory_profiles', 'conversations', 'conversation_messages', 'crisis_flags']) {
      expect(await exists(name), name).toBe(false);
    }
  });

  it('verify passes after the contract (the legacy comparisons end with the legacy table)', async () => {
    const result = await cli('verify', '--json');
    expect(result.code, result.stdout).toBe(0);
    expect(result.json<VerifyDoc>().checks.some((c) => c.check.startsWith('legacy blobs'))).toBe(false);
  });

  // On an ephemeral server of its own, not the shared test server: test/cli/check.test.ts asserts
  // that no strata_check_* database exists on the shared server, which a concurrent check here would break.
  it('check: each migration applies, verifies, rolls back to the same schema and re-applies, on a throwaway server', { timeout: 240_000 }, async () => {
    const result = await runCli(['--migrations', migrations, 'check', '--json'], { timeoutMs: 230_000 });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    const report = result.json<{ ok: boolean; steps: { migration: string; action: string; ok: boolean }[] }>();
    expect(report.ok).toBe(true);
    expect(report.steps.filter((s) => s.action === 'compare').map((s) => s.migration)).toEqual(ALL);
  });

  it('rolling back rebuilds every blob from the tables: nothing lost, not even what the new code wrote', async () => {
    // the new code at work: a theme for an existing user, and a new user (its summary comes from the trigger)
    const someone = [...before.keys()].sort().find((id) => Array.isArray((JSON.parse(before.get(id)!.memory) as Record<string, Json>).themes))!;
    await db.sql`INSERT INTO user_themes (user_id, name, intensity) VALUES (${someone}, ${newCode.theme.name}, ${newCode.theme.intensity})`;
    const [fresh] = await db.sql<{ id: string }[]>`INSERT INTO users (email) VALUES ('new@example.com') RETURNING id::text`;
    newCode.user = fresh!.id;
    await db.sql`INSERT INTO user_coping_tools (user_id, name, effectiveness) VALUES (${newCode.user}, ${newCode.tool.name}, ${newCode.tool.effectiveness})`;
    normalizedBeforeRollback = Object.fromEntries(await Promise.all(NORMALIZED.map(async (t) => [t, await rowsOf(t)] as const)));

    const result = await cli('normalize_memory', '--rollback', '--yes', '--json');
    expect(result.code, result.stderr).toBe(0);
    const doc = result.json<RunDoc>();
    expect(doc.reverted).toEqual(['005_contract', '004_rename_conversation_tables', '003_normalize_memory']);
    expect(doc.backups).toHaveLength(1);
    rollbackBackup = doc.backups[0]!;
    const manifest = manifestOf(rollbackBackup);
    expect(manifest.reason).toBe('003_normalize_memory_down');
    expect(Object.fromEntries(manifest.tables.map((t) => [t.table, t.rows]))).toEqual(
      Object.fromEntries(NORMALIZED.map((t) => [`public.${t}`, normalizedBeforeRollback[t]!.length])));
    for (const name of NORMALIZED) expect(await exists(name), name).toBe(false);

    const after = await profiles();
    // every profile is back exactly — row for row, text for text — except the one the new code changed
    for (const [userId, profile] of before) {
      if (userId === someone) continue;
      expect(after.get(userId), userId).toEqual(profile);
    }
    const changed = JSON.parse(before.get(someone)!.memory) as Record<string, Json>;
    changed.themes = [...(changed.themes as Json[]), newCode.theme];
    expect({ ...after.get(someone)!, memory: JSON.parse(after.get(someone)!.memory) as Json })
      .toEqual({ ...before.get(someone)!, memory: changed });
    // users who had no profile still have none; the new user has one, with what the new code stored
    for (const userId of usersWithoutProfile) expect(after.has(userId), userId).toBe(false);
    expect(JSON.parse(after.get(newCode.user)!.memory)).toEqual({ coping_tools: [newCode.tool] });
    expect(after.size).toBe(296 + 1);
  });

  it('restore of the rollback\'s backup puts the normalized rows back, value for value, after re-applying 003', async () => {
    const reapplied = await cli('normalize_memory', '--json');
    expect(reapplied.code, reapplied.stderr).toBe(0);
    expect(reapplied.json<RunDoc>().applied).toEqual(['003_normalize_memory']);
    // re-derived from the blobs: same content, but not the same rows (the new code's rows had no position, other ids)
    expect(await rowsOf('user_coping_tools')).not.toEqual(normalizedBeforeRollback.user_coping_tools);

    const restored = await cli('restore', rollbackBackup, '--truncate', '--yes', '--json');
    expect(restored.code, restored.stderr).toBe(0);
    const doc = restored.json<{ tables: { table: string; rows: number }[]; truncated: string[]; backups: string[] }>();
    expect(doc.tables).toHaveLength(NORMALIZED.length);
    expect(doc.backups).toHaveLength(1); // --truncate backed up what it emptied
    for (const table of NORMALIZED) expect(await rowsOf(table), table).toEqual(normalizedBeforeRollback[table]);
    const verify = await cli('verify', '--json');
    expect(verify.code, verify.stdout).toBe(0);
  });
});
