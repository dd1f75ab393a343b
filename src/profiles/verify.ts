/**
 * `import-profiles --verify` (SPEC §9): compares what the files say with what `user_profiles` holds,
 * down to the key, in one query. Read-only.
 */
import type { Sql } from '../db/connect.js';
import { PROFILE_COLUMNS, type ProfileColumn, type ProfileObject, type ProfileValue } from './types.js';

/** One value that differs between a user's files and the database. */
export interface ProfileDifference {
  /** The user folder's name. */
  user: string;
  userId: string;
  /** The file the value comes from. */
  path: string;
  column: ProfileColumn | 'timezone';
  /** Where in the column: `health.conditions`, `goals[2]`, `["odd key"]`; '' for the whole column. */
  key: string;
  /** The file's value; absent when the key is not in the file. */
  file?: ProfileValue;
  /** The database's value; absent when the key, or the whole profile row, is not in the database. */
  database?: unknown;
}

/** A user's values as the files give them, with the path of each file. */
export interface VerifiedProfile {
  /** The user folder's name. */
  user: string;
  userId: string;
  /** The columns whose file exists. */
  columns: Partial<Record<ProfileColumn, ProfileObject>>;
  /** From a `timezone` key in profile.md or preferences.md. */
  timezone?: string;
  paths: Partial<Record<ProfileColumn | 'timezone', string>>;
}

type StoredRow = { user_id: string; timezone: string | null } & Partial<Record<ProfileColumn, unknown>>;

/** Lists every difference between the files of `profiles` and their `user_profiles` rows. */
export async function findDifferences(sql: Sql, schema: string, profiles: readonly VerifiedProfile[]): Promise<ProfileDifference[]> {
  if (profiles.length === 0) return [];
  const rows = await sql<StoredRow[]>`
    SELECT p.user_id::text AS user_id, p.profile, p.preferences, p.patterns, p.timezone
      FROM ${sql(schema)}.user_profiles AS p
      JOIN jsonb_array_elements_text(${sql.json(profiles.map((p) => p.userId))}::jsonb) AS i(id) ON p.user_id = i.id::uuid`;
  const stored = new Map(rows.map((row) => [row.user_id, row]));
  return profiles.flatMap((profile) => differencesOf(profile, stored.get(profile.userId)));
}

function differencesOf(profile: VerifiedProfile, row: StoredRow | undefined): ProfileDifference[] {
  const out: ProfileDifference[] = [];
  const emit = (column: ProfileDifference['column'], key: string, file: unknown, database: unknown): void => {
    const difference: ProfileDifference = { user: profile.user, userId: profile.userId, path: profile.paths[column] ?? '', column, key };
    if (file !== MISSING) difference.file = file as ProfileValue;
    if (database !== MISSING) difference.database = database;
    out.push(difference);
  };
  for (const column of PROFILE_COLUMNS) {
    const value = profile.columns[column];
    if (value === undefined) continue; // no file: the column is not the import's business
    diffValues(value, row ? row[column] ?? null : MISSING, '', (key, file, db) => emit(column, key, file, db));
  }
  if (profile.timezone !== undefined) {
    const stored = row ? row.timezone : MISSING;
    if (stored !== profile.timezone) emit('timezone', '', profile.timezone, stored);
  }
  return out;
}

// Marks "no such key" apart from a stored JSON null.
const MISSING = Symbol('missing');

type Emit = (key: string, file: unknown, database: unknown) => void;

/** Walks both values and emits each leaf (or mismatched subtree) that differs. */
export function diffValues(file: unknown, database: unknown, key: string, emit: Emit): void {
  if (isObject(file) && isObject(database)) {
    for (const name of new Set([...Object.keys(file), ...Object.keys(database)])) {
      const child = objectKey(key, name);
      diffValues(Object.hasOwn(file, name) ? file[name] : MISSING, Object.hasOwn(database, name) ? database[name] : MISSING, child, emit);
    }
  } else if (Array.isArray(file) && Array.isArray(database)) {
    for (let i = 0; i < Math.max(file.length, database.length); i++) {
      diffValues(i < file.length ? file[i] : MISSING, i < database.length ? database[i] : MISSING, `${key}[${i}]`, emit);
    }
  } else if (file !== database) {
    emit(key, file, database);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function objectKey(parent: string, name: string): string {
  if (/^[\p{L}_][\p{L}\p{N}_]*$/u.test(name)) return parent === '' ? name : `${parent}.${name}`;
  return `${parent}[${JSON.stringify(name)}]`;
}
