/**
 * The `users` (002) and `user_profiles` (010) tables as SPEC §8 describes them, in a schema of their
 * own so each test starts clean. Written here rather than taken from the bundled migrations, which
 * are developed in parallel: the import must work against the SPEC's shape, not one file's details.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type postgres from 'postgres';
import type { Sql } from '../../src/db/connect.js';
import { quoteIdent } from '../../src/db/quote.js';
import { tempDir } from '../support/temp.js';

let counter = 0;

/** Creates a fresh schema with users, user_profiles, init_user_profile() and 010's trigger. */
export async function createProfileSchema(sql: postgres.Sql): Promise<string> {
  const schema = `profiles_${process.pid}_${++counter}`;
  const s = quoteIdent(schema);
  await sql.unsafe(`
    CREATE SCHEMA ${s};
    CREATE TABLE ${s}.users (
      user_id uuid PRIMARY KEY,
      external_id varchar(255) UNIQUE,
      email varchar(255) UNIQUE,
      first_name varchar(100),
      last_name varchar(100),
      created_at timestamp DEFAULT now()
    );
    CREATE TABLE ${s}.user_profiles (
      user_id uuid PRIMARY KEY REFERENCES ${s}.users (user_id) ON DELETE CASCADE,
      profile jsonb NOT NULL DEFAULT '{}',
      preferences jsonb NOT NULL DEFAULT '{}',
      patterns jsonb NOT NULL DEFAULT '{}',
      timezone text NOT NULL DEFAULT 'UTC',
      created_at timestamp NOT NULL DEFAULT now(),
      updated_at timestamp NOT NULL DEFAULT now()
    );
    CREATE INDEX ON ${s}.user_profiles USING gin (profile);
    CREATE FUNCTION ${s}.init_user_profile(p_user_id uuid) RETURNS void
      LANGUAGE sql SET search_path = ${s}
      AS $$ INSERT INTO user_profiles (user_id) VALUES (p_user_id) ON CONFLICT (user_id) DO NOTHING $$;
    CREATE FUNCTION ${s}.create_profile_for_user() RETURNS trigger
      LANGUAGE plpgsql SET search_path = ${s}
      AS $$ BEGIN PERFORM init_user_profile(NEW.user_id); RETURN NEW; END $$;
    CREATE TRIGGER create_user_profile AFTER INSERT ON ${s}.users
      FOR EACH ROW EXECUTE FUNCTION ${s}.create_profile_for_user();
  `);
  return schema;
}

/** The harness's client typed as strata's connection type (same driver, different type parameter). */
export function asStrataSql(sql: postgres.Sql): Sql {
  return sql as unknown as Sql;
}

/** A temp directory holding `files` (relative path → content); returns its path. */
export async function makeProfileDir(files: Record<string, string | Uint8Array>): Promise<string> {
  const dir = tempDir('strata-profiles-');
  for (const [relative, content] of Object.entries(files)) {
    const target = path.join(dir, relative);
    await fs.mkdir(path.dirname(target), { recursive: true });
    await fs.writeFile(target, content);
  }
  return dir;
}

/** Copies the read-only sample profiles into a temp dir a test may change. */
export async function copyFixtures(): Promise<string> {
  const dir = tempDir('strata-profiles-');
  await fs.cp(FIXTURES, dir, { recursive: true });
  return dir;
}

/** The sample profiles of SPEC §9 (a copy of shared/fixtures/profiles; read-only). */
export const FIXTURES = fileURLToPath(new URL('./fixtures', import.meta.url));
