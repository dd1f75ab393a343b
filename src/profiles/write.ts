/**
 * Writing validated profiles (SPEC §9, §10): set-based statements of `batchSize` rows (default
 * 1,000), all in ONE transaction, so an import is all-or-nothing and a dry run is the same work
 * rolled back (SPEC §7), which makes its counts exact, triggers included.
 *
 * Per batch, two statements instead of one `INSERT … ON CONFLICT DO UPDATE`: a file that is absent
 * must leave its column untouched, and for a row that does not exist yet "untouched" means the
 * column's own default, which an INSERT … SELECT cannot ask for. So:
 *   1. `INSERT (user_id) … ON CONFLICT DO NOTHING` creates missing rows with the table defaults
 *      (010's trigger already made one for every user, so this is normally a no-op);
 *   2. `UPDATE … FROM jsonb_to_recordset(…) WHERE <a given column differs>` writes only changed rows.
 * A user counts as imported when (1) or (2) returned it, or when the import created it; every other
 * user is unchanged, exactly, because jsonb equality is semantic (key order does not matter).
 */
import type postgres from 'postgres';
import type { Sql } from '../db/connect.js';
import { MigrationFailed } from '../errors.js';
import type { ImportLog, ProfileColumn, ProfileObject } from './types.js';

/** What the import writes for one user. */
export interface PlannedProfile {
  /** The user folder's name, as the user reference was written. */
  user: string;
  userId: string;
  /** Set when the user does not exist and `--create-users` creates it. */
  create?: { externalId: string | null };
  /** The columns whose file exists; absent columns are left untouched. */
  columns: Partial<Record<ProfileColumn, ProfileObject>>;
  /** From a `timezone` key in profile.md or preferences.md. */
  timezone?: string;
}

/** Counts of a real or dry run (SPEC §5 `import-profiles`). */
export interface WriteCounts {
  imported: number;
  unchanged: number;
  created: number;
}

/** Settings of one write. */
export interface WriteOptions {
  schema: string;
  dryRun: boolean;
  batchSize: number;
  /** `SET LOCAL lock_timeout` for the transaction, in ms (SPEC §7 for dry runs). */
  lockTimeoutMs?: number;
  /** `SET LOCAL statement_timeout` for the transaction, in ms. */
  statementTimeoutMs?: number;
}

type Tx = postgres.TransactionSql<Record<string, never>>;

/** Thrown inside the transaction to roll a dry run back while keeping its counts. */
class DryRunRollback extends Error {
  constructor(readonly counts: WriteCounts) {
    super('dry run: rolled back');
  }
}

/** Writes `profiles` in one transaction (rolled back for a dry run); returns the counts. */
export async function writeProfiles(sql: Sql, profiles: readonly PlannedProfile[], options: WriteOptions, log: ImportLog): Promise<WriteCounts> {
  try {
    return await sql.begin(async (tx) => {
      await setTimeouts(tx, options);
      const counts = await writeAll(tx, profiles, options, log);
      if (options.dryRun) throw new DryRunRollback(counts);
      return counts;
    });
  } catch (error) {
    if (error instanceof DryRunRollback) return error.counts;
    const detail = (error as { message?: string }).message ?? String(error);
    throw new MigrationFailed(`import failed and was rolled back, nothing was written: ${detail}`, {
      hint: 'another session may have changed users or user_profiles meanwhile; run the import again',
      cause: error,
    });
  }
}

async function writeAll(tx: Tx, profiles: readonly PlannedProfile[], options: WriteOptions, log: ImportLog): Promise<WriteCounts> {
  const created = new Set<string>();
  for (const batch of chunks(profiles.filter((p) => p.create), options.batchSize)) {
    for (const id of await insertUsers(tx, options.schema, batch)) created.add(id);
  }
  const written = new Set(created);
  const batches = chunks(profiles, options.batchSize);
  for (const [index, batch] of batches.entries()) {
    for (const id of await insertMissingRows(tx, options.schema, batch)) written.add(id);
    for (const id of await updateChangedRows(tx, options.schema, batch)) written.add(id);
    if (batches.length > 1) log.info(`profiles: batch ${index + 1}/${batches.length} written`);
  }
  return { imported: written.size, unchanged: profiles.length - written.size, created: created.size };
}

async function insertUsers(tx: Tx, schema: string, batch: readonly PlannedProfile[]): Promise<string[]> {
  const users = batch.map((p) => ({ user_id: p.userId, external_id: p.create?.externalId ?? null }));
  const rows = await tx<{ user_id: string }[]>`
    INSERT INTO ${tx(schema)}.users (user_id, external_id)
    SELECT r.user_id, r.external_id
      FROM jsonb_to_recordset(${tx.json(users)}::jsonb) AS r(user_id uuid, external_id text)
    RETURNING user_id::text AS user_id`;
  return rows.map((row) => row.user_id);
}

async function insertMissingRows(tx: Tx, schema: string, batch: readonly PlannedProfile[]): Promise<string[]> {
  const rows = await tx<{ user_id: string }[]>`
    INSERT INTO ${tx(schema)}.user_profiles (user_id)
    SELECT id::uuid FROM jsonb_array_elements_text(${tx.json(batch.map((p) => p.userId))}::jsonb) AS i(id)
    ON CONFLICT (user_id) DO NOTHING
    RETURNING user_id::text AS user_id`;
  return rows.map((row) => row.user_id);
}

async function updateChangedRows(tx: Tx, schema: string, batch: readonly PlannedProfile[]): Promise<string[]> {
  // A NULL field in the record means "no such file": COALESCE keeps the stored value.
  const records = batch.map((p) => ({ user_id: p.userId, ...p.columns, timezone: p.timezone ?? null }));
  const rows = await tx<{ user_id: string }[]>`
    UPDATE ${tx(schema)}.user_profiles AS p
       SET profile = COALESCE(r.profile, p.profile),
           preferences = COALESCE(r.preferences, p.preferences),
           patterns = COALESCE(r.patterns, p.patterns),
           timezone = COALESCE(r.timezone, p.timezone),
           updated_at = now()
      FROM jsonb_to_recordset(${tx.json(records)}::jsonb)
           AS r(user_id uuid, profile jsonb, preferences jsonb, patterns jsonb, timezone text)
     WHERE p.user_id = r.user_id
       AND (   (r.profile IS NOT NULL AND p.profile IS DISTINCT FROM r.profile)
            OR (r.preferences IS NOT NULL AND p.preferences IS DISTINCT FROM r.preferences)
            OR (r.patterns IS NOT NULL AND p.patterns IS DISTINCT FROM r.patterns)
            OR (r.timezone IS NOT NULL AND p.timezone IS DISTINCT FROM r.timezone))
    RETURNING p.user_id::text AS user_id`;
  return rows.map((row) => row.user_id);
}

async function setTimeouts(tx: Tx, options: WriteOptions): Promise<void> {
  // set_config(..., true) is SET LOCAL with the value as a parameter.
  if (options.lockTimeoutMs !== undefined) await tx`SELECT set_config('lock_timeout', ${`${options.lockTimeoutMs}ms`}, true)`;
  if (options.statementTimeoutMs !== undefined) await tx`SELECT set_config('statement_timeout', ${`${options.statementTimeoutMs}ms`}, true)`;
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
