/**
 * Writing validated profiles (SPEC §9, §10): set-based statements of up to 1,000 rows a batch, all
 * in ONE transaction, so an import is all-or-nothing and a dry run is the same work rolled back
 * (SPEC §7), which makes its counts exact, triggers included.
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
  /** `SET LOCAL lock_timeout` for the transaction, in ms (SPEC §7 for dry runs). */
  lockTimeoutMs?: number;
  /** `SET LOCAL statement_timeout` for the transaction, in ms. */
  statementTimeoutMs?: number;
}

type Tx = postgres.TransactionSql<Record<string, never>>;

/** Thrown inside the transaction to roll it back (a dry run, or an import that found errors). */
class RollBack extends Error {
  constructor() {
    super('rolled back');
  }
}

/**
 * Writes batches of profiles in ONE transaction, opened with the first batch. `write` does not wait:
 * each batch's statements are pipelined on the connection, so the server writes batch N while the
 * import reads and parses the folders of batch N+1 (import.ts). Nothing is visible to anyone else
 * until `finish` commits; `abandon` (or a dry run) rolls everything back.
 */
export class ProfileWriter {
  private transaction?: Promise<unknown>;
  private open?: Promise<{ tx: Tx }>;
  private decide: (commit: boolean) => void = () => {};
  /** Set once the transaction is over, however (committed, rolled back, or its connection lost). */
  private ended?: { error?: unknown };
  private readonly statements: Promise<void>[] = [];
  private failure: unknown;
  private readonly created = new Set<string>();
  private readonly written = new Set<string>();
  private planned = 0;

  constructor(private readonly sql: Sql, private readonly options: WriteOptions, private readonly log: ImportLog) {}

  /** Queues one batch (at most `batchSize` profiles, no user twice across batches). */
  write(batch: readonly PlannedProfile[]): void {
    // After a failure the transaction is lost: a statement sent now could only fail, or never answer.
    if (batch.length === 0 || this.failure !== undefined || this.ended) return;
    this.planned += batch.length;
    const planned = this.planned;
    const open = (this.open ??= this.begin());
    this.statements.push(open.then(async ({ tx }) => {
      if (this.ended) return;
      const { schema } = this.options;
      const toCreate = batch.filter((p) => p.create);
      // Sent together, executed in order: the trigger of 010 makes a profile row for each created user.
      const [created, inserted, updated] = await Promise.all([
        toCreate.length > 0 ? insertUsers(tx, schema, toCreate) : [],
        insertMissingRows(tx, schema, batch),
        updateChangedRows(tx, schema, batch),
      ]);
      for (const id of created) this.created.add(id);
      for (const id of [...created, ...inserted, ...updated]) this.written.add(id);
      this.log.info(`profiles: ${planned} users written`);
    }).catch((error: unknown) => {
      this.failure ??= error;
    }));
  }

  /** True once a statement failed: `finish` will throw. */
  get hasFailed(): boolean {
    return this.failure !== undefined || this.ended !== undefined;
  }

  /** Waits for every batch, commits (a dry run rolls back) and returns the counts; throws if any statement failed. */
  async finish(): Promise<WriteCounts> {
    await this.close(!this.options.dryRun);
    return { imported: this.written.size, unchanged: this.planned - this.written.size, created: this.created.size };
  }

  /** Rolls back whatever was written (the import found errors). */
  async abandon(): Promise<void> {
    await this.close(false);
  }

  private begin(): Promise<{ tx: Tx }> {
    return new Promise((opened, failed) => {
      const decided = new Promise<boolean>((resolve) => { this.decide = resolve; });
      this.transaction = this.sql.begin(async (tx) => {
        await setTimeouts(tx, this.options);
        opened({ tx });
        if (!(await decided)) throw new RollBack();
      });
      this.transaction.then(() => { this.ended = {}; }, (error: unknown) => {
        this.ended = { error };
        failed(error);
      });
    });
  }

  private async close(commit: boolean): Promise<void> {
    const transaction = this.transaction;
    if (!transaction) return;
    // A lost connection ends the transaction (postgres.js rejects it) while statements may never answer.
    const over = transaction.then(() => undefined, () => undefined);
    await Promise.race([Promise.all(this.statements), over]);
    // Only a live transaction is told how to end: a ROLLBACK sent on a lost connection would crash the driver.
    if (!this.ended) this.decide(commit && this.failure === undefined);
    await over;
    const ended = this.ended?.error;
    const failure = this.failure ?? (ended instanceof RollBack ? undefined : ended);
    if (failure === undefined) return;
    const detail = (failure as { message?: string }).message ?? String(failure);
    throw new MigrationFailed(`import failed and was rolled back, nothing was written: ${detail}`, {
      hint: 'another session may have changed users or user_profiles meanwhile; run the import again',
      cause: failure,
    });
  }
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
