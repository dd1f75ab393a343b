import { beforeAll, describe, expect, it } from 'vitest';
import { generateSampleData } from '../../src/sample/generate.js';
import { useDatabase } from '../support/database.js';
import { type Client, inRollback, runChecks, runStep } from './apply.js';
import { schemaSnapshot, tableDigest } from './snapshot.js';

const NAME = '010_user_profiles';
const ONE_PER_USER = 'one profile per user (every user has exactly one)';
const OBJECTS = 'profile, preferences and patterns are JSON objects';
const ZONES = 'every timezone is a time zone name PostgreSQL knows (pg_timezone_names)';

const failing = async (sql: Client) =>
  Object.fromEntries((await runChecks(sql, NAME)).filter((c) => c.violations.length > 0).map((c) => [c.check, c.violations]));

describe('010_user_profiles on generated data', () => {
  const db = useDatabase();
  let sql: Client;
  let schemaBefore: string[];
  let usersBefore: string;
  let userCount: number;

  beforeAll(async () => {
    sql = db.current.sql;
    await runStep(db.current.url, '001_mvp', 'up');
    await generateSampleData(db.current.sql, { users: 80, seed: 10, conversationsPerUser: 3, messagesPerConversation: 3 });
    for (const name of ['002_add_user_tables', '003_add_program_tables', '004_add_transcripts']) await runStep(db.current.url, name, 'up');
    schemaBefore = await schemaSnapshot(sql);
    usersBefore = await tableDigest(sql, 'users', 'user_id');
    userCount = (await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM users`)[0]!.n;
    await runStep(db.current.url, NAME, 'up');
  });

  it('gives every existing user exactly one profile with the defaults', async () => {
    expect(userCount).toBeGreaterThan(50);
    const rows = await sql`
      SELECT count(*)::int AS profiles, count(DISTINCT user_id)::int AS users,
             count(*) FILTER (WHERE profile = '{}' AND preferences = '{}' AND patterns = '{}' AND timezone = 'UTC')::int AS defaults
      FROM user_profiles`;
    expect(rows[0]).toEqual({ profiles: userCount, users: userCount, defaults: userCount });
    expect(await tableDigest(sql, 'users', 'user_id')).toBe(usersBefore);
  });

  it('has the SPEC table: primary key → users on delete cascade, NOT NULL jsonb defaults, timezone UTC, GIN index on profile', async () => {
    expect(await schemaSnapshot(sql)).toEqual(expect.arrayContaining([
      'column user_profiles.user_id uuid not null default ',
      "column user_profiles.profile jsonb not null default '{}'::jsonb",
      "column user_profiles.preferences jsonb not null default '{}'::jsonb",
      "column user_profiles.patterns jsonb not null default '{}'::jsonb",
      "column user_profiles.timezone text not null default 'UTC'::text",
      'column user_profiles.created_at timestamp without time zone not null default now()',
      'column user_profiles.updated_at timestamp without time zone not null default now()',
      'constraint user_profiles.user_profiles_user_id_fkey FOREIGN KEY (user_id) REFERENCES users(user_id) ON DELETE CASCADE',
      'constraint user_profiles.user_profiles_pkey PRIMARY KEY (user_id)',
      'index CREATE INDEX idx_user_profiles_profile ON public.user_profiles USING gin (profile)',
      'function init_user_profile(p_user_id uuid)',
    ]));
    await inRollback(db.current.sql, async (tx) => {
      await tx`SET LOCAL enable_seqscan = off`;
      const plan = await tx.unsafe(`EXPLAIN SELECT user_id FROM user_profiles WHERE profile @> '{"has_dog": "yes"}'`);
      expect(JSON.stringify(plan)).toContain('idx_user_profiles_profile');
    });
  });

  it('creates the profile of a user inserted after 010 through the trigger (single, multi-row, upsert, COPY-style bulk)', async () => {
    await inRollback(db.current.sql, async (tx) => {
      const [one] = await tx`INSERT INTO users (email) VALUES ('one@example.com') RETURNING user_id`;
      const many = await tx`INSERT INTO users (email) SELECT 'bulk' || g || '@example.com' FROM generate_series(1, 500) g RETURNING user_id`;
      // An upsert that inserts one user and updates an existing one: only the inserted one is new.
      await tx`INSERT INTO users (user_id, email) VALUES (${one!.user_id}, 'changed@example.com'), (gen_random_uuid(), 'upsert@example.com')
               ON CONFLICT (user_id) DO UPDATE SET email = EXCLUDED.email`;
      const [counts] = await tx`
        SELECT (SELECT count(*)::int FROM users) AS users, (SELECT count(*)::int FROM user_profiles) AS profiles,
               (SELECT count(*)::int FROM user_profiles WHERE user_id = ${one!.user_id}) AS of_one`;
      expect(counts).toEqual({ users: userCount + 502, profiles: userCount + 502, of_one: 1 });
      expect(many.length).toBe(500);
      expect(await failing(tx)).toEqual({});
    });
  });

  it('the trigger and init_user_profile are idempotent: a profile made first is kept as it is', async () => {
    await inRollback(db.current.sql, async (tx) => {
      const [user] = await tx`INSERT INTO users (email) VALUES ('idem@example.com') RETURNING user_id`;
      await tx`UPDATE user_profiles SET profile = '{"name": "Ada"}', timezone = 'Europe/London' WHERE user_id = ${user!.user_id}`;
      const [again] = await tx`SELECT init_user_profile(${user!.user_id}) AS made`;
      expect(again!.made).toBe(false);
      // The statement's own init_user_profile makes the profile before the trigger fires: no conflict error.
      const [both] = await tx`
        WITH u AS (INSERT INTO users (email) VALUES ('fresh@example.com') RETURNING user_id)
        SELECT user_id, init_user_profile(user_id) AS made FROM u`;
      expect(both!.made).toBe(true);
      const [count] = await tx`SELECT count(*)::int AS n FROM user_profiles WHERE user_id = ${both!.user_id}`;
      expect(count!.n).toBe(1);
      const [kept] = await tx`SELECT profile, timezone FROM user_profiles WHERE user_id = ${user!.user_id}`;
      expect(kept).toEqual({ profile: { name: 'Ada' }, timezone: 'Europe/London' });
    });
  });

  it('the trigger works from a session whose search_path does not include the schema', async () => {
    await inRollback(db.current.sql, async (tx) => {
      await tx`SET LOCAL search_path = pg_catalog`;
      const [user] = await tx`INSERT INTO public.users (email) VALUES ('elsewhere@example.com') RETURNING user_id`;
      const [made] = await tx`SELECT public.init_user_profile(${user!.user_id}) AS made,
                                     (SELECT count(*)::int FROM public.user_profiles WHERE user_id = ${user!.user_id}) AS n`;
      expect(made).toEqual({ made: false, n: 1 });
    });
  });

  it('deletes a profile with its user (on delete cascade)', async () => {
    await inRollback(db.current.sql, async (tx) => {
      const [user] = await tx`INSERT INTO users (email) VALUES ('gone@example.com') RETURNING user_id`;
      await tx`DELETE FROM users WHERE user_id = ${user!.user_id}`;
      const [left] = await tx`SELECT count(*)::int AS n FROM user_profiles WHERE user_id = ${user!.user_id}`;
      expect(left!.n).toBe(0);
    });
  });

  it('checks pass on the migrated data', async () => {
    expect(await failing(sql)).toEqual({});
  });

  it('checks fail on crafted databases: a user without a profile, a non-object profile, an unknown zone', async () => {
    await inRollback(db.current.sql, async (tx) => {
      const [victim] = await tx`SELECT user_id FROM users ORDER BY user_id LIMIT 1`;
      await tx`DELETE FROM user_profiles WHERE user_id = ${victim!.user_id}`;
      await tx`ALTER TABLE users DISABLE TRIGGER trg_users_create_profile`;
      const [ghost] = await tx`INSERT INTO users (email) VALUES ('ghost@example.com') RETURNING user_id`;
      const [odd] = await tx`SELECT user_id FROM user_profiles ORDER BY user_id DESC LIMIT 1`;
      await tx`UPDATE user_profiles SET patterns = '["not", "an", "object"]', timezone = 'Mars/Olympus' WHERE user_id = ${odd!.user_id}`;
      const failures = await failing(tx);
      expect(Object.keys(failures).sort()).toEqual([ONE_PER_USER, OBJECTS, ZONES].sort());
      expect(failures[ONE_PER_USER]!.map((r) => [r.user_id, Number(r.profiles)]).sort()).toEqual(
        [[victim!.user_id, 0], [ghost!.user_id, 0]].sort());
      expect(failures[OBJECTS]).toEqual([{ user_id: odd!.user_id, profile: 'object', preferences: 'object', patterns: 'array' }]);
      expect(failures[ZONES]).toEqual([{ timezone: 'Mars/Olympus', profiles: '1' }]);
    });
  });

  it('down removes the trigger, both functions and the table, and restores the schema exactly', async () => {
    await runStep(db.current.url, NAME, 'down');
    expect(await schemaSnapshot(sql)).toEqual(schemaBefore);
    const [left] = await sql`
      SELECT (SELECT count(*)::int FROM pg_trigger WHERE tgname = 'trg_users_create_profile') AS triggers,
             (SELECT count(*)::int FROM pg_proc WHERE proname IN ('init_user_profile', 'user_profiles_create_for_new_users')) AS functions,
             to_regclass('user_profiles') IS NULL AS table_gone`;
    expect(left).toEqual({ triggers: 0, functions: 0, table_gone: true });
    // Users can be inserted again without 010's trigger, and re-applying gives them profiles too.
    await sql`INSERT INTO users (email) VALUES ('between@example.com')`;
    await runStep(db.current.url, NAME, 'up');
    const [counts] = await sql`SELECT (SELECT count(*)::int FROM users) AS users, (SELECT count(*)::int FROM user_profiles) AS profiles`;
    expect(counts).toEqual({ users: userCount + 1, profiles: userCount + 1 });
    expect(await failing(sql)).toEqual({});
  });
});
