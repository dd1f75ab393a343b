import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import postgres from 'postgres';
import { createBackup, planRestore, restoreBackup } from '../../src/backup/index.js';
import { useDatabase } from '../support/database.js';
import { backupOptions, snapshot, tempDir } from './helpers.js';

const db = useDatabase();
let backup: string;
let original: Record<string, string[]>;
const TABLES = ['users', 'profiles', 'sessions'];

beforeAll(async () => {
  const sql = db.current.sql;
  await sql.unsafe(`
    CREATE TABLE users (id serial PRIMARY KEY, email text UNIQUE NOT NULL);
    CREATE TABLE profiles (user_id int PRIMARY KEY REFERENCES users, bio text);
    CREATE TABLE sessions (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, user_id int NOT NULL REFERENCES users, n int);
    CREATE TABLE audit (id serial PRIMARY KEY, user_id int REFERENCES users);
    CREATE TABLE seen (id int PRIMARY KEY);
    -- as 010's trigger: a profile row appears for every new user
    CREATE FUNCTION init_profile() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN INSERT INTO profiles (user_id, bio) VALUES (NEW.id, 'auto'); INSERT INTO seen VALUES (NEW.id) ON CONFLICT DO NOTHING; RETURN NEW; END $$;
    CREATE TRIGGER users_init_profile AFTER INSERT ON users FOR EACH ROW EXECUTE FUNCTION init_profile();
    INSERT INTO users (email) SELECT 'u' || g || '@example.com' FROM generate_series(1, 20) g;
    UPDATE profiles SET bio = 'written by hand ' || user_id;
    DELETE FROM profiles WHERE user_id = 7; -- a user without profile must stay without one
    INSERT INTO sessions (user_id, n) SELECT 1 + g % 20, g FROM generate_series(1, 40) g;
    TRUNCATE seen;`);
  // Children first on purpose: the restore must reorder.
  ({ dir: backup } = await createBackup(sql, ['sessions', 'profiles', 'users'], backupOptions(await tempDir())));
  original = Object.fromEntries(await Promise.all(TABLES.map(async (t) => [t, await snapshot(sql, 'public', t)] as const)));
});

beforeEach(async () => {
  await db.current.sql.unsafe('TRUNCATE users, profiles, sessions, audit, seen');
});

async function current(): Promise<Record<string, string[]>> {
  return Object.fromEntries(await Promise.all(TABLES.map(async (t) => [t, await snapshot(db.current.sql, 'public', t)] as const)));
}

describe('restoreBackup', () => {
  it('loads parents before children, with user triggers off and foreign keys checked', async () => {
    const result = await restoreBackup(db.current.sql, backup);
    // users first; the children keep the backup's order (sessions was listed before profiles)
    expect(result.tables.map((t) => t.table)).toEqual(['public.users', 'public.sessions', 'public.profiles']);
    expect(result.triggersDisabled).toBe(1);
    expect(await current()).toEqual(original);
    expect(await snapshot(db.current.sql, 'public', 'seen')).toEqual([]); // the trigger never fired
    const [trigger] = await db.current.sql`SELECT tgenabled::text AS state FROM pg_trigger WHERE tgname = 'users_init_profile'`;
    expect(trigger?.state).toBe('O'); // and is enabled again
  });

  it('moves serial and identity sequences past the restored values', async () => {
    const sql = db.current.sql;
    await restoreBackup(sql, backup);
    const [user] = await sql`INSERT INTO users (email) VALUES ('new@example.com') RETURNING id`;
    expect(user?.id).toBe(21);
    const [session] = await sql`INSERT INTO sessions (user_id, n) VALUES (1, 0) RETURNING id`;
    expect(session?.id).toBe(41);
    expect(await snapshot(sql, 'public', 'seen')).toEqual(['(21)']); // triggers work again after the restore
  });

  it('fails on conflicting rows, naming the table and the key, and loads nothing', async () => {
    const sql = db.current.sql;
    await sql`INSERT INTO users (id, email) VALUES (3, 'someone-else@example.com')`;
    await sql`DELETE FROM profiles`;
    const before = await current();
    await expect(restoreBackup(sql, backup)).rejects.toMatchObject({
      exitCode: 1,
      message: expect.stringMatching(/failed on public\.users: duplicate key value violates unique constraint "users_pkey" \(Key \(id\)=\(3\) already exists\.\); nothing was loaded/),
    });
    expect(await current()).toEqual(before);
  });

  it('replaces existing rows with --truncate', async () => {
    const sql = db.current.sql;
    await restoreBackup(sql, backup);
    await sql.unsafe(`UPDATE users SET email = 'changed' || id WHERE id < 5; DELETE FROM sessions WHERE n > 10; INSERT INTO users (email) VALUES ('extra')`);
    const plan = await planRestore(sql, backup, { truncate: true });
    expect(plan.tables).toEqual([
      { table: 'public.users', rows: 20, existingRows: 21 },
      { table: 'public.sessions', rows: 40, existingRows: 10 },
      { table: 'public.profiles', rows: 19, existingRows: 20 },
    ]);
    expect(plan).toMatchObject({ truncate: true, alsoEmptied: ['public.audit'], rowsToLoad: 79, rowsToTruncate: 51 });
    const result = await restoreBackup(sql, backup, { truncate: true });
    expect(result.truncated).toEqual(['public.users', 'public.sessions', 'public.profiles', 'public.audit']);
    expect(await current()).toEqual(original);
  });

  it('refuses --truncate when a table outside the restore references it and holds rows', async () => {
    const sql = db.current.sql;
    await restoreBackup(sql, backup);
    await sql`INSERT INTO audit (user_id) VALUES (1)`;
    const before = await current();
    const failure = { exitCode: 1, message: expect.stringMatching(/public\.audit references the restored tables and holds rows; nothing was changed/) };
    await expect(planRestore(sql, backup, { truncate: true })).rejects.toMatchObject(failure);
    await expect(restoreBackup(sql, backup, { truncate: true })).rejects.toMatchObject(failure);
    expect(await current()).toEqual(before);
    expect(await snapshot(sql, 'public', 'audit')).toHaveLength(1);
  });

  it('restores chosen tables only, and reports a foreign-key failure found at the end of COPY', async () => {
    const sql = db.current.sql;
    // profiles without users: the FK is checked after the data ended (the driver would hang there, see copy.ts)
    await expect(restoreBackup(sql, backup, { tables: ['profiles'] })).rejects.toMatchObject({
      exitCode: 1,
      message: expect.stringMatching(/failed on public\.profiles: insert or update on table "profiles" violates foreign key constraint .*nothing was loaded/),
    });
    const result = await restoreBackup(sql, backup, { tables: ['public.users', 'profiles'] });
    expect(result.tables.map((t) => t.table)).toEqual(['public.users', 'public.profiles']);
    expect(await snapshot(sql, 'public', 'sessions')).toEqual([]);
    await expect(restoreBackup(sql, backup, { tables: ['nope'] })).rejects.toMatchObject({ exitCode: 2, message: expect.stringMatching(/nope is not in this backup/) });
  });

  it('loads by column name when the live table has its columns in another order', async () => {
    const sql = db.current.sql;
    const { dir } = await createBackup(sql, ['seen'], backupOptions(await tempDir())); // empty table: header only
    await sql.unsafe(`CREATE TABLE reordered (a int, b text, c jsonb); INSERT INTO reordered VALUES (1, 'x', '{"k": [1]}'), (2, NULL, NULL)`);
    const copy = await createBackup(sql, ['reordered'], backupOptions(await tempDir()));
    const before = await snapshot(sql, 'public', 'reordered');
    await sql.unsafe('DROP TABLE reordered; CREATE TABLE reordered (c jsonb, extra text DEFAULT \'d\', b text, a int)');
    await restoreBackup(sql, copy.dir);
    const rows = await sql`SELECT a, b, c, extra FROM reordered ORDER BY a`;
    expect(rows).toEqual([{ a: 1, b: 'x', c: { k: [1] }, extra: 'd' }, { a: 2, b: null, c: null, extra: 'd' }]);
    expect(before).toHaveLength(2);
    expect((await restoreBackup(sql, dir)).tables).toEqual([{ table: 'public.seen', rows: 0 }]);
  });

  it('needs no superuser: the tables\' owner can restore, triggers off, foreign keys still checked', async () => {
    const sql = db.current.sql;
    const role = `strata_owner_${db.current.name.slice(-10)}`;
    await sql.unsafe(`CREATE ROLE ${role} LOGIN PASSWORD 'owner-pw' NOSUPERUSER;
      GRANT CREATE, USAGE ON SCHEMA public TO ${role};
      ALTER TABLE users OWNER TO ${role}; ALTER TABLE profiles OWNER TO ${role}; ALTER TABLE sessions OWNER TO ${role};
      ALTER TABLE audit OWNER TO ${role}; ALTER TABLE seen OWNER TO ${role}`);
    const url = new URL(db.current.url);
    url.username = role;
    url.password = 'owner-pw';
    const owner = postgres(url.toString(), { max: 1, onnotice: () => {} });
    try {
      const [me] = await owner`SELECT rolsuper FROM pg_roles WHERE rolname = current_user`;
      expect(me?.rolsuper).toBe(false);
      await expect(restoreBackup(owner, backup, { tables: ['profiles'] })).rejects.toMatchObject({ message: expect.stringMatching(/violates foreign key constraint/) });
      await restoreBackup(owner, backup);
      expect(await current()).toEqual(original);
      expect(await snapshot(sql, 'public', 'seen')).toEqual([]);
    } finally {
      await owner.end();
      await sql.unsafe(`REASSIGN OWNED BY ${role} TO CURRENT_USER; DROP OWNED BY ${role}; DROP ROLE ${role}`);
    }
  });

  it('fails with a hint when a table of the backup no longer exists', async () => {
    const sql = db.current.sql;
    await sql.unsafe('CREATE TABLE doomed (id int); INSERT INTO doomed VALUES (1)');
    const { dir } = await createBackup(sql, ['doomed'], backupOptions(await tempDir()));
    await sql.unsafe('DROP TABLE doomed');
    await expect(restoreBackup(sql, dir)).rejects.toMatchObject({
      exitCode: 1, message: expect.stringMatching(/table public\.doomed no longer exists/), hint: expect.stringMatching(/re-apply the migration/),
    });
  });
});
