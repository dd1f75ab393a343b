/**
 * `migrate import-profiles` through the CLI (SPEC §9), on the bundled schema up to 010.
 */
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { useDatabase } from '../support/database.js';
import { tempDir } from '../support/migrations.js';

// A copy of the SPEC's sample profiles (shared/fixtures/profiles), kept in the repository.
const fixtures = path.resolve('test', 'profiles', 'fixtures');

type Result = { dryRun: boolean; imported: number; unchanged: number; created: number; errors: { path: string; message: string }[]; differences?: unknown[] };

describe('migrate import-profiles', () => {
  const db = useDatabase();
  const cwd = tempDir('strata-import-');
  const cli = (...args: string[]) => runCli(args, { cwd, env: { DATABASE_URL: db.current.url } });
  const profileOf = async (external: string) => (await db.current.sql`
    SELECT p.profile, p.preferences, p.patterns, p.timezone FROM user_profiles p JOIN users u USING (user_id) WHERE u.external_id = ${external}`)[0];

  beforeAll(async () => {
    expect((await cli('--bundled', 'user_profiles', '-q')).code).toBe(0);
  });

  it('refuses unknown users, listing every one with its path, and writes nothing (exit 1)', async () => {
    const result = await cli('import-profiles', fixtures, '--json');
    expect(result.code).toBe(1);
    const doc = result.json<Result>();
    expect(doc.errors.map((e) => path.basename(e.path)).sort()).toEqual(['6f1c2b9e-3a4d-4e5f-8a7b-1c2d3e4f5a6b', 'fb_Zq8uL2mXk9aP3rT0yW1vB7nC4dE', 'tg_100231']);
    expect(doc.imported).toBe(0);
    expect((await db.current.sql`SELECT count(*)::int AS n FROM users`)[0]!.n).toBe(0);
  });

  it('a dry run with --create-users reports what it would write and writes nothing', async () => {
    const result = await cli('import-profiles', fixtures, '--create-users', '--dry-run', '--json');
    expect(result.code).toBe(0);
    expect(result.json<Result>()).toMatchObject({ dryRun: true, imported: 3, created: 3, errors: [] });
    expect(result.stderr).toContain('profiles: 3 users checked, 3 would be written, 0 unchanged (dry run)');
    expect(result.stderr).toContain('dry run: nothing was changed');
    expect((await db.current.sql`SELECT count(*)::int AS n FROM users`)[0]!.n).toBe(0);
  });

  it('imports with --create-users: the fixture README\'s JSON exactly, and the timezone column', async () => {
    const result = await cli('import-profiles', fixtures, '--create-users', '--json');
    expect(result.code).toBe(0);
    expect(result.json<Result>()).toMatchObject({ dryRun: false, imported: 3, unchanged: 0, created: 3, errors: [] });
    const maya = await profileOf('tg_100231');
    expect(maya!.profile).toEqual({
      name: 'Maya Cohen', age: '34', timezone: 'America/New_York', height: '168 cm', allergies: 'peanuts, shellfish',
      goals: ['Lose 5 kg by March', 'Sleep 7+ hours on weeknights', 'Walk 8,000 steps a day'],
      health: { conditions: 'mild asthma', medication: 'none' },
      notes: 'Prefers short messages in the morning.\n\nWorks night shifts twice a month, so "morning" moves.',
    });
    expect(maya!.patterns).toEqual({ eating: ['Skips breakfast on weekdays', 'Late-night snacking after night shifts (first seen 2025-10-01)'], sleep: ['Bedtime drifts later on weekends'] });
    expect(maya!.timezone).toBe('America/New_York');
    const [uuidUser] = await db.current.sql`SELECT p.patterns, p.profile FROM user_profiles p WHERE p.user_id = '6f1c2b9e-3a4d-4e5f-8a7b-1c2d3e4f5a6b'`;
    expect(uuidUser!.patterns).toMatchObject({ mood: ['Energy dips mid-afternoon', 'Feels better after a lunchtime walk'] });
    expect(uuidUser!.profile).toEqual({}); // profile.md absent: column untouched
  });

  it('users it creates get the engagement_analytics row 002 gives a user without messages: verify passes', async () => {
    const verify = await cli('--bundled', 'verify', '--json');
    expect(verify.code, verify.stdout).toBe(0);
    const checks = verify.json<{ checks: { migration: string; check: string; ok: boolean }[] }>().checks;
    expect(checks).toContainEqual(expect.objectContaining({ migration: '002_add_user_tables', check: 'one engagement_analytics row per user', ok: true }));
    const rows = await db.current.sql`
      SELECT u.external_id, a.analytics_id = md5('strata-analytics:' || u.user_id::text)::uuid AS derived_id, a.total_messages,
             a.avg_response_time, a.last_activity, a.session_completion_rate, a.engagement_score, a.updated_at IS NOT NULL AS has_updated_at
      FROM users u JOIN engagement_analytics a USING (user_id) ORDER BY u.external_id NULLS FIRST`;
    const without = { derived_id: true, total_messages: 0, avg_response_time: null, last_activity: null, session_completion_rate: null, engagement_score: null, has_updated_at: true };
    expect(rows).toEqual([null, 'fb_Zq8uL2mXk9aP3rT0yW1vB7nC4dE', 'tg_100231'].map((external_id) => ({ external_id, ...without })));
  });

  it('is idempotent: a re-run counts everyone as unchanged', async () => {
    const result = await cli('import-profiles', fixtures, '--json');
    expect(result.code).toBe(0);
    expect(result.json<Result>()).toMatchObject({ imported: 0, unchanged: 3, created: 0 });
    expect(result.stderr).toContain('profiles: 3 users checked, 0 written, 3 unchanged');
  });

  it('--verify passes, then lists a difference after someone edits the database (exit 1)', async () => {
    expect((await cli('import-profiles', fixtures, '--verify')).code).toBe(0);
    await db.current.sql`UPDATE user_profiles SET profile = jsonb_set(profile, '{age}', '"35"') FROM users u WHERE u.user_id = user_profiles.user_id AND u.external_id = 'tg_100231'`;
    const result = await cli('import-profiles', fixtures, '--verify', '--json');
    expect(result.code).toBe(1);
    expect(result.json<Result>().differences).toEqual([expect.objectContaining({ column: 'profile', key: 'age', file: '34', database: '35' })]);
  });

  it('bad input gets a clear error with its path; --skip-invalid imports the rest', async () => {
    const dir = tempDir('strata-profiles-');
    fs.mkdirSync(path.join(dir, 'tg_1'));
    fs.writeFileSync(path.join(dir, 'tg_1', 'profile.md'), '# Profile\n\n- **Name:** One\n- **Timezone:** Mars/Olympus\n');
    fs.mkdirSync(path.join(dir, 'tg_2'));
    fs.writeFileSync(path.join(dir, 'tg_2', 'profile.md'), Buffer.from([0x23, 0x20, 0xff, 0xfe, 0x0a]));
    fs.mkdirSync(path.join(dir, 'tg_3'));
    fs.mkdirSync(path.join(dir, 'tg_4'));
    fs.writeFileSync(path.join(dir, 'tg_4', 'preferences.md'), '# Preferences\n\n- **Units:** metric\n');
    const refused = await cli('import-profiles', dir, '--create-users', '--json');
    expect(refused.code).toBe(1);
    const errors = refused.json<Result>().errors;
    expect(errors.find((e) => e.path.endsWith(path.join('tg_1', 'profile.md')) || e.path.endsWith('tg_1'))?.message).toMatch(/Mars\/Olympus/);
    expect(errors.find((e) => e.path.includes('tg_2'))?.message).toMatch(/UTF-8/);
    expect(errors.find((e) => e.path.endsWith('tg_3'))?.message).toBeTruthy();
    expect((await db.current.sql`SELECT count(*)::int AS n FROM users WHERE external_id = 'tg_4'`)[0]!.n).toBe(0);
    const skipping = await cli('import-profiles', dir, '--create-users', '--skip-invalid', '--json');
    expect(skipping.code).toBe(1);
    expect(skipping.json<Result>()).toMatchObject({ imported: 1, created: 1 });
    expect((await profileOf('tg_4'))!.preferences).toEqual({ units: 'metric' });
  });
});

describe('import-profiles DIR that cannot be read', () => {
  it('is exit 2 before connecting: a missing DIR is never hidden behind a connection failure', async () => {
    const cwd = tempDir('strata-import-');
    const unreachable = { DATABASE_URL: 'postgres://u:pw@127.0.0.1:1/db' };
    const missing = await runCli(['import-profiles', 'no-such-dir'], { cwd, env: unreachable });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('error: cannot read the profiles directory no-such-dir: no such file or directory');
    fs.writeFileSync(path.join(cwd, 'notes.md'), '# not a directory\n');
    const file = await runCli(['import-profiles', 'notes.md', '--json'], { cwd, env: unreachable });
    expect(file.code).toBe(2);
    expect(file.json<{ error: { message: string } }>().error.message).toBe('notes.md is not a directory');
    // Given a directory, the same command gets as far as connecting: exit 3.
    const connect = await runCli(['import-profiles', '.'], { cwd, env: unreachable });
    expect(connect.code).toBe(3);
  });

  it('a failure after reading started and before connecting ends the run: the parse worker never keeps it alive', async () => {
    // More than 85 folders: reading and parsing go to a worker thread before the connection is resolved.
    const dir = tempDir('strata-import-many-');
    for (let i = 0; i < 120; i++) {
      fs.mkdirSync(path.join(dir, `tg_${i}`));
      fs.writeFileSync(path.join(dir, `tg_${i}`, 'profile.md'), `# Profile\n\n- **Name:** User ${i}\n`);
    }
    const none = await runCli(['import-profiles', dir], { timeoutMs: 20_000 });
    expect(none.code).toBe(3);
    expect(none.stderr).toContain('no database given');
    const badTimeout = await runCli(['import-profiles', dir], { env: { DATABASE_URL: 'postgres://u:pw@127.0.0.1:1/db', PGCONNECT_TIMEOUT: 'soon' }, timeoutMs: 20_000 });
    expect(badTimeout.code).toBe(2);
    expect(badTimeout.stderr).toContain('invalid PGCONNECT_TIMEOUT "soon"');
  });
});
