/**
 * Writing validated profiles (SPEC §9, §10): set-based statements of up to 1,000 rows a batch, all
 * in ONE transaction, so an import is all-or-nothing and a dry run is the same work rolled back
 * (SPEC §7), which makes its counts exact, triggers included.
 *
 * One statement per batch (per kind of row, see below), pipelined on the connection. The batch
 * travels as one jsonb parameter built from the JSON text the workers already produced (encode.ts):
 * nothing is re-serialised here, and PostgreSQL decides "unchanged" itself (jsonb equality is
 * semantic: key order does not matter), so nothing is read back; each statement answers two counts.
 * - Users that --create-users creates: `INSERT INTO users` and `INSERT INTO user_profiles` with the
 *   values, in one statement (data-modifying CTEs). 010's trigger runs at the end of the statement
 *   and finds the profile row there (ON CONFLICT DO NOTHING). When the schema has 002's
 *   `engagement_analytics`, the same statement gives each created user the row 002's backfill gives
 *   a user without messages (its md5-derived id, total_messages 0, the rest NULL or default), so
 *   002's check "one engagement_analytics row per user" holds after an import.
 * - Existing users: `INSERT INTO user_profiles … WHERE NOT EXISTS` for the rare user without a
 *   profile row, and `UPDATE … WHERE <a given column differs>`: only changed rows are written (or
 *   locked); both see the table as it was before the statement, so no row is counted twice.
 * A user counts as imported when its profile row was inserted or updated, and as unchanged otherwise.
 *
 * A file that is absent must leave its column untouched, and for a row that does not exist yet
 * "untouched" means the column's own default, which an INSERT … SELECT cannot ask for per row. So a
 * batch is split by which columns its rows carry (nearly always one group: all three files and a
 * time zone), and each group's statement lists only those columns.
 */
import type postgres from 'postgres';
import type { Sql } from '../db/connect.js';
import { MigrationFailed } from '../errors.js';
import { quoteIdent } from '../db/quote.js';
import { PROFILE_COLUMNS, type ImportLog, type ProfileColumn } from './types.js';

/** What the import writes for one user. */
export interface PlannedProfile {
  /** The user folder's name, as the user reference was written. */
  user: string;
  userId: string;
  /** Set when the user does not exist and `--create-users` creates it. */
  create?: { externalId: string | null };
  /** The JSON text of each column whose file exists (encode.ts); absent columns are left untouched. */
  json: Partial<Record<ProfileColumn, string>>;
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
  private created = 0;
  private written = 0;
  private planned = 0;
  /** Whether the schema has 002's engagement_analytics (asked once, in the transaction). */
  private hasAnalytics = false;
  private readonly texts = new Map<number, string>();

  constructor(private readonly sql: Sql, private readonly options: WriteOptions, private readonly log: ImportLog) {}

  /** Queues one batch (at most `batchSize` profiles, no user twice across batches); keeps no reference to it. */
  write(batch: readonly PlannedProfile[]): void {
    // After a failure the transaction is lost: a statement sent now could only fail, or never answer.
    if (batch.length === 0 || this.failure !== undefined || this.ended) return;
    this.planned += batch.length;
    const planned = this.planned;
    const open = (this.open ??= this.begin());
    // Built now: the caller may let go of the batch's JSON once this returns.
    const statements = [...byKind(batch)].map(([kind, rows]) => ({ kind, rows: rowsJson(rows, kind) }));
    this.statements.push(open.then(async ({ tx }) => {
      if (this.ended) return;
      const counts = await Promise.all(statements.map(({ kind, rows }) => tx.unsafe<WrittenRow[]>(this.statement(kind), [rows], { prepare: true })));
      for (const [row] of counts) {
        this.created += row?.created ?? 0;
        this.written += row?.written ?? 0;
      }
      // Batches answer in the order they were sent: the counts cover every user sent so far.
      const written = this.options.dryRun ? 'would be written' : 'written';
      this.log.info(`profiles: ${planned} users checked, ${this.written} ${written}, ${planned - this.written} unchanged${this.options.dryRun ? ' (dry run)' : ''}`);
    }).catch((error: unknown) => {
      this.failure ??= error;
    }));
  }

  /** The statement for rows of `kind` (see the top of this file). */
  private statement(kind: number): string {
    let text = this.texts.get(kind);
    if (text) return text;
    const schema = quoteIdent(this.options.schema);
    const columns = WRITTEN_COLUMNS.filter((_, bit) => kind & (1 << bit));
    const list = columns.map((c) => `, ${c}`).join('');
    const differs = (other: string) => columns.map((c) => `p.${c} IS DISTINCT FROM ${other}.${c}`).join(' OR ') || 'false';
    const record = `jsonb_to_recordset($1::text::jsonb)
      AS r(user_id uuid${kind & CREATE ? ', external_id text' : ''}${columns.map((c) => `, ${c} ${c === 'timezone' ? 'text' : 'jsonb'}`).join('')})`;
    text = kind & CREATE
      ? `WITH r AS (SELECT * FROM ${record}),
made AS (
  INSERT INTO ${schema}.users (user_id, external_id) SELECT user_id, external_id FROM r RETURNING user_id
),${this.hasAnalytics ? `
analytics AS (
  INSERT INTO ${schema}.engagement_analytics (analytics_id, user_id, total_messages)
  SELECT md5('strata-analytics:' || user_id::text)::uuid, user_id, 0 FROM made
),` : ''} written AS (
  INSERT INTO ${schema}.user_profiles AS p (user_id${list}) SELECT user_id${list} FROM r
  ON CONFLICT (user_id) DO UPDATE SET ${columns.map((c) => `${c} = excluded.${c}, `).join('')}updated_at = now() WHERE ${differs('excluded')}
  RETURNING p.user_id
)
SELECT (SELECT count(*) FROM made)::int AS created,
       (SELECT count(*) FROM (SELECT user_id FROM made UNION SELECT user_id FROM written) AS w)::int AS written`
      : `WITH r AS (SELECT * FROM ${record}),
missing AS (
  INSERT INTO ${schema}.user_profiles AS p (user_id${list})
  SELECT user_id${list} FROM r WHERE NOT EXISTS (SELECT FROM ${schema}.user_profiles AS q WHERE q.user_id = r.user_id)
  ON CONFLICT (user_id) DO NOTHING
  RETURNING 1
), changed AS (
  UPDATE ${schema}.user_profiles AS p SET ${columns.map((c) => `${c} = r.${c}, `).join('')}updated_at = now()
    FROM r WHERE p.user_id = r.user_id AND (${differs('r')})
  RETURNING 1
)
SELECT 0 AS created, ((SELECT count(*) FROM missing) + (SELECT count(*) FROM changed))::int AS written`;
    this.texts.set(kind, text);
    return text;
  }

  /** True once a statement failed: `finish` will throw. */
  get hasFailed(): boolean {
    return this.failure !== undefined || this.ended !== undefined;
  }

  /** Waits for every batch, commits (a dry run rolls back) and returns the counts; throws if any statement failed. */
  async finish(): Promise<WriteCounts> {
    await this.close(!this.options.dryRun);
    return { imported: this.written, unchanged: this.planned - this.written, created: this.created };
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
        const analytics = `${quoteIdent(this.options.schema)}.engagement_analytics`;
        const [row] = await tx<{ ok: boolean }[]>`SELECT to_regclass(${analytics}) IS NOT NULL AS ok`;
        this.hasAnalytics = row?.ok === true;
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

/** What a batch statement answers. */
interface WrittenRow {
  created: number;
  written: number;
}

/** The columns a statement may write, in the bit order of a row's kind. */
const WRITTEN_COLUMNS: readonly (ProfileColumn | 'timezone')[] = [...PROFILE_COLUMNS, 'timezone'];

/** The bit of a row's kind that says its user is created. */
const CREATE = 1 << WRITTEN_COLUMNS.length;

/** A row's kind: which columns it carries (one bit each, WRITTEN_COLUMNS order), and whether its user is created. */
function kindOf(profile: PlannedProfile): number {
  let kind = profile.create ? CREATE : 0;
  WRITTEN_COLUMNS.forEach((column, bit) => {
    if (column === 'timezone' ? profile.timezone !== undefined : profile.json[column] !== undefined) kind |= 1 << bit;
  });
  return kind;
}

/** The batch split by kind, in order of first appearance. */
function byKind(batch: readonly PlannedProfile[]): Map<number, PlannedProfile[]> {
  const groups = new Map<number, PlannedProfile[]>();
  for (const profile of batch) {
    const kind = kindOf(profile);
    const group = groups.get(kind);
    if (group) group.push(profile);
    else groups.set(kind, [profile]);
  }
  return groups;
}

/** The rows as one JSON array, built from the JSON text each column already is. */
export function rowsJson(rows: readonly PlannedProfile[], kind: number): string {
  const parts: string[] = [];
  for (const p of rows) {
    let row = `{"user_id":${JSON.stringify(p.userId)}`;
    if (kind & CREATE) row += `,"external_id":${JSON.stringify(p.create?.externalId ?? null)}`;
    for (let bit = 0; bit < WRITTEN_COLUMNS.length; bit++) {
      if (!(kind & (1 << bit))) continue;
      const column = WRITTEN_COLUMNS[bit] as ProfileColumn | 'timezone';
      row += `,"${column}":${column === 'timezone' ? JSON.stringify(p.timezone) : p.json[column]}`;
    }
    parts.push(`${row}}`);
  }
  return `[${parts.join(',')}]`;
}

async function setTimeouts(tx: Tx, options: WriteOptions): Promise<void> {
  // set_config(..., true) is SET LOCAL with the value as a parameter.
  if (options.lockTimeoutMs !== undefined) await tx`SELECT set_config('lock_timeout', ${`${options.lockTimeoutMs}ms`}, true)`;
  if (options.statementTimeoutMs !== undefined) await tx`SELECT set_config('statement_timeout', ${`${options.statementTimeoutMs}ms`}, true)`;
}
