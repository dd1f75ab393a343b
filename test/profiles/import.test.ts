import fs from 'node:fs/promises';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { importProfiles, readProfiles, type ImportOptions } from '../../src/profiles/import.js';
import { MAX_NESTING } from '../../src/profiles/tree.js';
import { mappedUserId } from '../../src/profiles/users.js';
import { useDatabase } from '../support/database.js';
import { FIXTURES, asStrataSql, copyFixtures, createProfileSchema, makeProfileDir } from './schema.js';

const TG_PROFILE = {
  name: 'Maya Cohen', age: '34', timezone: 'America/New_York', height: '168 cm', allergies: 'peanuts, shellfish',
  goals: ['Lose 5 kg by March', 'Sleep 7+ hours on weeknights', 'Walk 8,000 steps a day'],
  health: { conditions: 'mild asthma', medication: 'none' },
  notes: 'Prefers short messages in the morning.\n\nWorks night shifts twice a month, so "morning" moves.',
};
const TG_PATTERNS = {
  eating: ['Skips breakfast on weekdays', 'Late-night snacking after night shifts (first seen 2025-10-01)'],
  sleep: ['Bedtime drifts later on weekends'],
};
const UUID_USER = '6f1c2b9e-3a4d-4e5f-8a7b-1c2d3e4f5a6b';
const FB_USER = 'fb_Zq8uL2mXk9aP3rT0yW1vB7nC4dE';
const PROFILE = (name: string) => `# Profile\n\n- **Name:** ${name}\n`;

const db = useDatabase();
let schema: string;

interface ProfileRow {
  user_id: string;
  external_id: string | null;
  profile: unknown;
  preferences: unknown;
  patterns: unknown;
  timezone: string;
}

function options(overrides: Partial<ImportOptions> = {}): ImportOptions {
  return { dryRun: false, verify: false, createUsers: false, skipInvalid: false, schema, ...overrides };
}

function run(dir: string, overrides: Partial<ImportOptions> = {}) {
  return importProfiles(asStrataSql(db.current.sql), dir, options(overrides));
}

/** Adds users by external id (their user_id by 002's mapping) or by UUID. */
async function addUsers(...ids: string[]): Promise<void> {
  const rows = ids.map((id) => (/^[0-9a-f-]{36}$/i.test(id) ? { user_id: id, external_id: null } : { user_id: mappedUserId(id), external_id: id }));
  await db.current.sql`INSERT INTO ${db.current.sql(schema)}.users ${db.current.sql(rows)}`;
}

async function profiles(): Promise<ProfileRow[]> {
  return db.current.sql<ProfileRow[]>`
    SELECT u.user_id::text, u.external_id, p.profile, p.preferences, p.patterns, p.timezone
      FROM ${db.current.sql(schema)}.users u LEFT JOIN ${db.current.sql(schema)}.user_profiles p USING (user_id)
     ORDER BY u.external_id NULLS FIRST, u.user_id`;
}

async function profileOf(externalId: string): Promise<ProfileRow | undefined> {
  return (await profiles()).find((row) => row.external_id === externalId);
}

beforeEach(async () => {
  schema = await createProfileSchema(db.current.sql);
});

describe('importProfiles on the fixtures', () => {
  it('imports the three users: by external_id, by UUID, and one created with 002\'s mapping', async () => {
    await addUsers('tg_100231', UUID_USER);
    const result = await run(FIXTURES, { createUsers: true });
    expect(result).toEqual({ dryRun: false, imported: 3, unchanged: 0, created: 1, errors: [], skipped: 0 });

    const rows = await profiles();
    expect(rows).toHaveLength(3); // the trigger's row and the import's are one row per user
    const [uuidUser] = rows;
    expect(uuidUser).toMatchObject({ user_id: UUID_USER, profile: {}, preferences: {}, timezone: 'UTC' });
    expect(uuidUser?.patterns).toEqual({
      mood: ['Energy dips mid-afternoon', 'Feels better after a lunchtime walk'], notes: 'Tends to under-report water intake.',
    });
    const tg = await profileOf('tg_100231');
    expect(tg).toMatchObject({ profile: TG_PROFILE, patterns: TG_PATTERNS, timezone: 'America/New_York' });
    expect(tg?.preferences).toEqual({ coaching_style: 'direct, a bit of humour', reminder_time: '08:00', units: 'metric', language: 'en' });

    const fb = await profileOf(FB_USER);
    const [expectedId] = await db.current.sql<{ id: string }[]>`SELECT md5('strata-user:' || ${FB_USER})::uuid::text AS id`;
    expect(fb?.user_id).toBe(expectedId?.id);
    expect(fb).toMatchObject({ timezone: 'Europe/London', patterns: {}, profile: { dog: 'yes — a beagle called Biscuit' } });
  });

  it('is idempotent: a second run reports every user unchanged and writes nothing', async () => {
    await addUsers('tg_100231', UUID_USER, FB_USER);
    expect(await run(FIXTURES)).toMatchObject({ imported: 3, unchanged: 0, created: 0, errors: [] });
    const [before] = await db.current.sql`SELECT max(xmin::text::bigint) AS x FROM ${db.current.sql(schema)}.user_profiles`;
    expect(await run(FIXTURES, { createUsers: true })).toMatchObject({ imported: 0, unchanged: 3, created: 0, errors: [] });
    const [after] = await db.current.sql`SELECT max(xmin::text::bigint) AS x FROM ${db.current.sql(schema)}.user_profiles`;
    expect(after).toEqual(before);
  });

  it('dry run reports exactly what would be written, and writes nothing', async () => {
    await addUsers('tg_100231', UUID_USER);
    const before = await profiles();
    expect(await run(FIXTURES, { dryRun: true, createUsers: true })).toEqual({
      dryRun: true, imported: 3, unchanged: 0, created: 1, errors: [], skipped: 0,
    });
    expect(await profiles()).toEqual(before);
  });

  it('verify lists every difference after someone edits the database, and none before', async () => {
    await addUsers('tg_100231', UUID_USER, FB_USER);
    await run(FIXTURES);
    expect(await run(FIXTURES, { verify: true })).toMatchObject({ errors: [], differences: [], unchanged: 3 });

    const sql = db.current.sql;
    await sql`UPDATE ${sql(schema)}.user_profiles
                 SET profile = jsonb_set(profile - 'height', '{health,conditions}', '"none"') || '{"extra": 1}',
                     timezone = 'Europe/Paris'
               WHERE user_id = ${mappedUserId('tg_100231')}`;
    await sql`DELETE FROM ${sql(schema)}.user_profiles WHERE user_id = ${UUID_USER}`;
    const result = await run(FIXTURES, { verify: true });
    const profilePath = path.join(FIXTURES, 'tg_100231', 'profile.md');
    expect(result.unchanged).toBe(1);
    expect(result.differences).toEqual([
      { user: UUID_USER, userId: UUID_USER, path: path.join(FIXTURES, UUID_USER, 'patterns.md'), column: 'patterns', key: '', file: expect.any(Object) },
      { user: 'tg_100231', userId: mappedUserId('tg_100231'), path: profilePath, column: 'profile', key: 'height', file: '168 cm' },
      { user: 'tg_100231', userId: mappedUserId('tg_100231'), path: profilePath, column: 'profile', key: 'health.conditions', file: 'mild asthma', database: 'none' },
      { user: 'tg_100231', userId: mappedUserId('tg_100231'), path: profilePath, column: 'profile', key: 'extra', database: 1 },
      { user: 'tg_100231', userId: mappedUserId('tg_100231'), path: profilePath, column: 'timezone', key: '', file: 'America/New_York', database: 'Europe/Paris' },
    ]);
  });
});

describe('validation before writing', () => {
  it('an unknown user is an error for its folder, and nothing is written; --create-users creates it', async () => {
    await addUsers('tg_100231', UUID_USER);
    const result = await run(FIXTURES);
    expect(result).toMatchObject({ imported: 0, created: 0, skipped: 1 });
    expect(result.errors).toEqual([{
      path: path.join(FIXTURES, FB_USER), message: `no user with external_id "${FB_USER}": pass --create-users to create it`,
    }]);
    expect((await profiles()).every((row) => JSON.stringify(row.profile) === '{}' && JSON.stringify(row.patterns) === '{}')).toBe(true);

    expect(await run(FIXTURES, { createUsers: true })).toMatchObject({ imported: 3, created: 1, errors: [] });
  });

  it('an unknown UUID user is created with that UUID and no external_id', async () => {
    const upper = '0A1B2C3D-4E5F-4A6B-8C7D-9E0F1A2B3C4D';
    const dir = await makeProfileDir({ [`${upper}/profile.md`]: PROFILE('Ada') });
    expect(await run(dir, { createUsers: true })).toMatchObject({ imported: 1, created: 1, errors: [] });
    expect(await profiles()).toMatchObject([{ user_id: upper.toLowerCase(), external_id: null, profile: { name: 'Ada' } }]);
    // Any case finds it again.
    expect(await run(dir)).toMatchObject({ imported: 0, unchanged: 1, errors: [] });
  });

  it('a UUID folder name is also looked up as external_id', async () => {
    const external = 'a3e1c6f0-0000-4000-8000-00000000abcd';
    await db.current.sql`INSERT INTO ${db.current.sql(schema)}.users (user_id, external_id) VALUES (${mappedUserId(external)}, ${external})`;
    const dir = await makeProfileDir({ [`${external}/profile.md`]: PROFILE('Bo') });
    expect(await run(dir)).toMatchObject({ imported: 1, created: 0, errors: [] });
    expect(await profileOf(external)).toMatchObject({ profile: { name: 'Bo' } });
  });

  it('a UUID folder name finds its external_id in any case (no duplicate user); two external_ids differing only in case are an error', async () => {
    const upper = 'ABCDEF00-0000-4000-8000-00000000ABCD';
    const sql = db.current.sql;
    await sql`INSERT INTO ${sql(schema)}.users (user_id, external_id) VALUES (${mappedUserId(upper)}, ${upper})`;
    const dir = await makeProfileDir({ [`${upper.toLowerCase()}/profile.md`]: PROFILE('Cy') });
    expect(await run(dir, { createUsers: true })).toMatchObject({ imported: 1, created: 0, errors: [] });
    expect(await profiles()).toMatchObject([{ user_id: mappedUserId(upper), external_id: upper, profile: { name: 'Cy' } }]);

    const mixed = 'AbCdEf00-0000-4000-8000-00000000aBcD';
    await sql`INSERT INTO ${sql(schema)}.users (user_id, external_id) VALUES (${mappedUserId(mixed)}, ${mixed})`;
    const result = await run(dir, { createUsers: true });
    expect(result).toMatchObject({ imported: 0, created: 0, skipped: 1 });
    expect(result.errors).toEqual([{
      path: path.join(dir, upper.toLowerCase()),
      message: `external_ids "${upper}", "${mixed}" all match this folder (a UUID name matches in any case): make them one user, or rename the folder to the user_id of the one you mean`,
    }]);
    expect(await profiles()).toHaveLength(2);
  });

  it('an invalid time zone is an error for that user; one wrong case gets a suggestion', async () => {
    await addUsers('u1', 'u2', 'u3');
    const dir = await makeProfileDir({
      'u1/profile.md': PROFILE('A'),
      'u2/preferences.md': '- **Timezone:** Mars/Olympus_Mons\n',
      'u3/profile.md': '- **Timezone:** europe/london\n',
    });
    const result = await run(dir);
    expect(result).toMatchObject({ imported: 0, skipped: 2 });
    expect(result.errors).toEqual([
      { path: path.join(dir, 'u2', 'preferences.md'), message: 'time zone "Mars/Olympus_Mons" is not known to PostgreSQL (see pg_timezone_names), e.g. "Europe/London" or "UTC"' },
      { path: path.join(dir, 'u3', 'profile.md'), message: 'time zone "europe/london" is spelled "Europe/London" in PostgreSQL: use that spelling' },
    ]);
    expect(await profileOf('u1')).toMatchObject({ profile: {} });
  });

  it('--skip-invalid imports the valid users and lists the rest', async () => {
    await addUsers('u1', 'u2');
    const dir = await makeProfileDir({
      'u1/profile.md': PROFILE('A'),
      'u2/profile.md': '## Goals\n\nIntro\n\n- Run\n',
      'u3/profile.md': PROFILE('C'),
    });
    await fs.mkdir(path.join(dir, 'empty'));
    const result = await run(dir, { skipInvalid: true });
    expect(result).toMatchObject({ imported: 1, unchanged: 0, created: 0, skipped: 3 });
    expect(result.errors.map((e) => `${path.relative(dir, e.path)}: ${e.message}`)).toEqual([
      'empty: empty folder: a user folder needs at least one of the three files',
      'u2/profile.md: line 5: section "Goals" mixes paragraphs and a list: use one kind per section, or ### subsections',
      'u3: no user with external_id "u3": pass --create-users to create it',
    ]);
    expect(await profileOf('u1')).toMatchObject({ profile: { name: 'A' } });
    expect(await profileOf('u2')).toMatchObject({ profile: {} });
  });

  it('nothing is written when any error exists, even one bad file among many good ones', async () => {
    const users = Array.from({ length: 30 }, (_, i) => `user${i}`);
    await addUsers(...users);
    const files: Record<string, string | Uint8Array> = Object.fromEntries(users.map((u) => [`${u}/profile.md`, PROFILE(u)]));
    files['user29/patterns.md'] = Buffer.from([0x2d, 0x20, 0xff, 0x0a]);
    const result = await run(await makeProfileDir(files), { batchSize: 7 });
    expect(result).toMatchObject({ imported: 0, unchanged: 0, skipped: 1 });
    expect(result.errors).toHaveLength(1);
    expect((await profiles()).filter((row) => JSON.stringify(row.profile) !== '{}')).toEqual([]);
  });

  it('two folders naming the same user are both refused', async () => {
    await addUsers(UUID_USER);
    const dir = await makeProfileDir({ [`${UUID_USER}/profile.md`]: PROFILE('A'), [`${UUID_USER.toUpperCase()}/profile.md`]: PROFILE('B') });
    const result = await run(dir);
    expect(result.errors.map((e) => e.message)).toEqual([
      `folders ${UUID_USER.toUpperCase()}, ${UUID_USER} are the same user (user_id ${UUID_USER}): keep one`,
      `folders ${UUID_USER.toUpperCase()}, ${UUID_USER} are the same user (user_id ${UUID_USER}): keep one`,
    ]);
  });

  it('differing time zones in profile.md and preferences.md are an error', async () => {
    await addUsers('u1');
    const dir = await makeProfileDir({ 'u1/profile.md': '- Timezone: UTC\n', 'u1/preferences.md': '- Timezone: Europe/Paris\n' });
    expect((await run(dir)).errors).toEqual([{
      path: path.join(dir, 'u1', 'preferences.md'),
      message: `timezone "Europe/Paris" differs from "UTC" in ${path.join(dir, 'u1', 'profile.md')}: keep one`,
    }]);
  });

  it('a directory without user folders is an error', async () => {
    const dir = await makeProfileDir({ 'README.md': 'x' });
    expect((await run(dir)).errors).toEqual([{ path: dir, message: 'no user folders: expected DIR/<user>/profile.md, preferences.md or patterns.md' }]);
  });
});

describe('reading, checking and writing overlap, and the rules still hold', () => {
  const many = (count: number) => Array.from({ length: count }, (_, i) => `m_${String(i).padStart(3, '0')}`);

  it('an error in a late folder rolls back the batches already sent, and --skip-invalid keeps them', async () => {
    // 400 folders are read in several chunks: batches of the first ones normally go out (and are
    // rolled back) before the last folder is read.
    const users = many(400);
    await addUsers(...users);
    const files: Record<string, string | Uint8Array> = Object.fromEntries(users.map((u) => [`${u}/profile.md`, PROFILE(u)]));
    files['m_399/patterns.md'] = '## Goals\n\nIntro\n\n- Run\n';
    const dir = await makeProfileDir(files);
    expect(await run(dir, { batchSize: 10 })).toMatchObject({ imported: 0, unchanged: 0, skipped: 1 });
    expect((await profiles()).filter((row) => JSON.stringify(row.profile) !== '{}')).toEqual([]);

    expect(await run(dir, { batchSize: 10, skipInvalid: true })).toMatchObject({ imported: 399, skipped: 1 });
    expect(await profileOf('m_398')).toMatchObject({ profile: { name: 'm_398' } });
    expect(await profileOf('m_399')).toMatchObject({ profile: {} });
  });

  it('folders naming one user are both refused, however far apart they are read', async () => {
    const uuid = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';
    const users = many(70);
    await addUsers(...users);
    await db.current.sql`INSERT INTO ${db.current.sql(schema)}.users (user_id, external_id) VALUES (${uuid}, 'zz_last')`;
    const files = Object.fromEntries([...users, uuid, 'zz_last'].map((u) => [`${u}/profile.md`, PROFILE(u)]));
    const dir = await makeProfileDir(files);
    const result = await run(dir, { batchSize: 10, skipInvalid: true });
    expect(result).toMatchObject({ imported: 70, skipped: 2 });
    expect(result.errors.map((e) => path.basename(e.path))).toEqual([uuid, 'zz_last']);
    expect(await profileOf('zz_last')).toMatchObject({ profile: {} });
  });

  it('a dry run over many batches counts exactly and leaves nothing behind', async () => {
    const users = many(75);
    const dir = await makeProfileDir(Object.fromEntries(users.map((u) => [`${u}/profile.md`, PROFILE(u)])));
    expect(await run(dir, { dryRun: true, createUsers: true, batchSize: 10 })).toMatchObject({ dryRun: true, imported: 75, created: 75, errors: [] });
    expect(await profiles()).toEqual([]);
  });

  it('a crafted 1 MiB file is an error for that file, with its path and line', async () => {
    await addUsers('u1', 'u2');
    const dir = await makeProfileDir({ 'u1/profile.md': PROFILE('A'), 'u2/patterns.md': `${'>'.repeat(1024 * 1024 - 1)}a` });
    const result = await run(dir);
    expect(result.errors).toEqual([{
      path: path.join(dir, 'u2', 'patterns.md'),
      message: `line 1: nested more than ${MAX_NESTING} levels deep (lists, quotes, emphasis and links): flatten it`,
    }]);
    expect(result).toMatchObject({ imported: 0, skipped: 1 });
  });
});

describe('writing', () => {
  it('a file that is absent leaves its column untouched', async () => {
    await addUsers('u1');
    const sql = db.current.sql;
    await sql`UPDATE ${sql(schema)}.user_profiles SET preferences = '{"units": "imperial"}', timezone = 'Asia/Tokyo'`;
    const dir = await makeProfileDir({ 'u1/profile.md': PROFILE('A') });
    expect(await run(dir)).toMatchObject({ imported: 1 });
    expect(await profileOf('u1')).toMatchObject({ profile: { name: 'A' }, preferences: { units: 'imperial' }, patterns: {}, timezone: 'Asia/Tokyo' });
  });

  it('creates a missing profile row with the table defaults, in batches, counting exactly', async () => {
    const users = Array.from({ length: 5 }, (_, i) => `u${i}`);
    await addUsers(...users);
    const sql = db.current.sql;
    await sql`DELETE FROM ${sql(schema)}.user_profiles WHERE user_id = ${mappedUserId('u0')}`;
    await sql`UPDATE ${sql(schema)}.user_profiles SET profile = '{"name": "u1"}' WHERE user_id = ${mappedUserId('u1')}`;
    const dir = await makeProfileDir(Object.fromEntries(users.map((u) => [`${u}/profile.md`, PROFILE(u)])));
    expect(await run(dir, { batchSize: 2 })).toMatchObject({ imported: 4, unchanged: 1, errors: [] });
    expect(await profileOf('u0')).toMatchObject({ profile: { name: 'u0' }, preferences: {}, timezone: 'UTC' });
    expect(await run(dir, { batchSize: 2 })).toMatchObject({ imported: 0, unchanged: 5 });
  });

  it('writes one batch mixing created and existing users, with and without each file and a time zone', async () => {
    await addUsers('old1', 'old2');
    const sql = db.current.sql;
    await sql`UPDATE ${sql(schema)}.user_profiles SET preferences = '{"units": "imperial"}', timezone = 'Asia/Tokyo' WHERE user_id = ${mappedUserId('old2')}`;
    const dir = await makeProfileDir({
      'old1/profile.md': '- **Name:** O1\n- **Timezone:** Europe/Paris\n',
      'old2/patterns.md': '## Sleep\n\n- Late\n',
      'new1/profile.md': PROFILE('N1'),
      'new2/preferences.md': '- **Timezone:** America/New_York\n',
      'new3/profile.md': PROFILE('N3'), 'new3/preferences.md': '- **Units:** metric\n', 'new3/patterns.md': '',
    });
    expect(await run(dir, { createUsers: true })).toEqual({ dryRun: false, imported: 5, unchanged: 0, created: 3, errors: [], skipped: 0 });
    const rows = Object.fromEntries((await profiles()).map((row) => [row.external_id, row]));
    expect(rows.old1).toMatchObject({ profile: { name: 'O1', timezone: 'Europe/Paris' }, preferences: {}, patterns: {}, timezone: 'Europe/Paris' });
    expect(rows.old2).toMatchObject({ profile: {}, preferences: { units: 'imperial' }, patterns: { sleep: ['Late'] }, timezone: 'Asia/Tokyo' });
    // A created user's absent files and time zone are the table's defaults.
    expect(rows.new1).toMatchObject({ profile: { name: 'N1' }, preferences: {}, patterns: {}, timezone: 'UTC' });
    expect(rows.new2).toMatchObject({ profile: {}, preferences: { timezone: 'America/New_York' }, patterns: {}, timezone: 'America/New_York' });
    expect(rows.new3).toMatchObject({ profile: { name: 'N3' }, preferences: { units: 'metric' }, patterns: {}, timezone: 'UTC' });
    expect(await run(dir, { createUsers: true })).toMatchObject({ imported: 0, unchanged: 5, created: 0 });
  });

  it('reads with a source started before the run (as the CLI does before connecting)', async () => {
    await addUsers('tg_100231', UUID_USER, FB_USER);
    const source = readProfiles(FIXTURES);
    await source.listing;
    expect(await importProfiles(asStrataSql(db.current.sql), source, options())).toMatchObject({ imported: 3, errors: [] });
    // A source that is never used is closed without waiting for anything.
    await readProfiles(FIXTURES).close();
    // An unusable DIR is reported when reading starts (the CLI: before it connects), and by an import given its path.
    const missing = path.join(FIXTURES, 'no-such-dir');
    expect(() => readProfiles(missing)).toThrow(/cannot read the profiles directory/);
    await expect(importProfiles(asStrataSql(db.current.sql), missing, options())).rejects.toThrow(/cannot read the profiles directory/);
  });

  it('its progress says what happened: users checked, written (or would be, in a dry run), unchanged', async () => {
    await addUsers('u1', 'u2');
    const dir = await makeProfileDir({ 'u1/profile.md': PROFILE('A'), 'u2/profile.md': PROFILE('B') });
    const said: string[] = [];
    const log = { info: (m: string) => { said.push(m); }, warn: () => {} };
    const runLogged = async (overrides: Partial<ImportOptions>) => {
      said.length = 0;
      await importProfiles(asStrataSql(db.current.sql), dir, options(overrides), log);
      return said.filter((m) => m.startsWith('profiles: ') && !m.endsWith('user folders'));
    };
    expect(await runLogged({ dryRun: true })).toEqual(['profiles: 2 users checked, 2 would be written, 0 unchanged (dry run)']);
    expect(await runLogged({})).toEqual(['profiles: 2 users checked, 2 written, 0 unchanged']);
    expect(await runLogged({})).toEqual(['profiles: 2 users checked, 0 written, 2 unchanged']);
  });

  it('a dry run of created users leaves no user behind', async () => {
    const dir = await copyFixtures();
    expect(await run(dir, { dryRun: true, createUsers: true })).toMatchObject({ imported: 3, created: 3 });
    expect(await profiles()).toEqual([]);
  });

  it('waits at most lockTimeoutMs for a table lock, then fails with nothing written', async () => {
    await addUsers('u1');
    const dir = await makeProfileDir({ 'u1/profile.md': PROFILE('A') });
    const sql = db.current.sql;
    const holder = await sql.reserve();
    try {
      await holder`BEGIN`;
      await holder`LOCK TABLE ${sql(schema)}.user_profiles IN ACCESS EXCLUSIVE MODE`;
      await expect(run(dir, { lockTimeoutMs: 200 })).rejects.toThrow(/import failed and was rolled back, nothing was written: canceling statement due to lock timeout/);
      await holder`ROLLBACK`;
    } finally {
      holder.release();
    }
    expect(await profileOf('u1')).toMatchObject({ profile: {} });
  });

  it('a re-run neither writes nor locks the rows that did not change', async () => {
    await addUsers('tg_100231', UUID_USER, FB_USER);
    expect(await run(FIXTURES)).toMatchObject({ imported: 3 });
    const sql = db.current.sql;
    const holder = await sql.reserve();
    try {
      await holder`BEGIN`;
      await holder`SELECT 1 FROM ${sql(schema)}.user_profiles WHERE user_id = ${mappedUserId('tg_100231')} FOR UPDATE`;
      // Waiting for that row lock would fail after 200 ms.
      expect(await run(FIXTURES, { lockTimeoutMs: 200 })).toMatchObject({ imported: 0, unchanged: 3, errors: [] });
    } finally {
      await holder`ROLLBACK`;
      holder.release();
    }
  });

  it('says which tables are missing when the schema has no users table', async () => {
    await db.current.sql`CREATE SCHEMA IF NOT EXISTS empty_schema`;
    await expect(run(FIXTURES, { schema: 'empty_schema' })).rejects.toMatchObject({
      exitCode: 1,
      message: expect.stringMatching(/^import-profiles could not read the database: relation "empty_schema.users" does not exist/),
      hint: 'users and user_profiles must exist in schema "empty_schema": apply the migrations up to 010_user_profiles first',
    });
  });

  it('refuses a dotted schema name (porsager would quote it as two identifiers)', async () => {
    await expect(run(FIXTURES, { schema: 'a.b' })).rejects.toThrow(/invalid schema name/);
  });
});
