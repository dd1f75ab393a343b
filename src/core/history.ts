/**
 * The history table (SPEC §4) and umzug's storage contract on top of it.
 *
 * Contract, after `sequelize/umzug/src/storage/contract.ts`:
 * - `executed()`: names umzug must treat as applied. Called by umzug at the start of `up`/`down`;
 *   answered from the rows read under the run lock (`load()`), so no extra round trip.
 * - `logMigration()` / `unlogMigration()`: called by umzug after a migration's up/down resolved.
 *   A migration's history row must commit atomically with the migration itself (a failure rolls
 *   back both; history never disagrees with the schema), so the executor writes it inside the
 *   migration's transaction (`insertAppliedSql` / `deleteSql`) and marks the name as recorded;
 *   these two methods then only update the in-memory view. Called for a name nobody recorded
 *   (another runner, a test), they write the row themselves.
 */
import type { Sql } from '../db/connect.js';
import { quoteIdent, quoteLiteral, quoteQualified } from '../db/quote.js';

/**
 * A timestamptz as whole milliseconds since the epoch (float8, an integer: exact under any
 * extra_float_digits), for reading into a JavaScript Date whatever the session's DateStyle.
 */
export const EPOCH_MS = (column: string): string => `round(extract(epoch FROM ${column}) * 1000)::float8`;
import type { UmzugStorage } from 'umzug';

/** A row of `schema_migrations`. */
export interface HistoryRow {
  name: string;
  checksum: string;
  appliedAt: Date;
  durationMs: number;
  appliedBy: string;
  state: 'applied' | 'failed';
}

/** Where history lives: `--schema` and `--history-table`. */
export interface HistoryLocation {
  schema: string;
  table: string;
}

const UNDEFINED_TABLE = '42P01';
const UNDEFINED_SCHEMA = '3F000';

/** The history table of one schema, and umzug storage over it. */
export class HistoryStore implements UmzugStorage<unknown> {
  readonly qualified: string;
  private rows = new Map<string, HistoryRow>();
  private readonly recorded = new Set<string>();
  /** Whether the last load() found the table (valid while the run lock is held). */
  private found = false;

  constructor(private readonly sql: Sql, readonly location: HistoryLocation) {
    this.qualified = quoteQualified(location.schema, location.table);
  }

  /** SPEC §4 columns; timestamptz only (011 must never find a timestamp column here). */
  createSql(): string {
    return `CREATE TABLE IF NOT EXISTS ${this.qualified} (
  name        text PRIMARY KEY,
  checksum    text NOT NULL,
  applied_at  timestamptz NOT NULL DEFAULT now(),
  duration_ms integer NOT NULL DEFAULT 0,
  applied_by  text NOT NULL DEFAULT current_user,
  state       text NOT NULL DEFAULT 'applied' CHECK (state IN ('applied', 'failed'))
)`;
  }

  /** Creates the schema and table if needed (callers hold the run lock). */
  async ensure(): Promise<void> {
    // What load() found under the same lock answers without another round trip. (A missing table
    // may be a missing schema too — the same error — and CREATE SCHEMA IF NOT EXISTS needs the
    // CREATE privilege even when the schema exists: ask the catalog.)
    if (this.found) return;
    const [found] = await this.sql.unsafe<{ schema: boolean; table: boolean }[]>(
      `SELECT to_regnamespace(${quoteLiteral(quoteIdent(this.location.schema))}) IS NOT NULL AS schema,
              to_regclass(${quoteLiteral(this.qualified)}) IS NOT NULL AS table`,
    );
    if (found?.table) return;
    if (!found?.schema) await this.sql.unsafe(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(this.location.schema)}`);
    await this.sql.unsafe(this.createSql());
    this.found = true;
  }

  /** Reads every row (a missing table or schema reads as empty history). */
  async load(): Promise<HistoryRow[]> {
    let result: { name: string; checksum: string; applied_ms: number; duration_ms: number; applied_by: string; state: 'applied' | 'failed' }[];
    try {
      // applied_at as whole milliseconds since the epoch, not as text: its text follows the session's
      // DateStyle (`24/11/2026 00:58:54 IST` under 'SQL, DMY'), which no parser can read reliably.
      result = await this.sql.unsafe(`SELECT name, checksum, ${EPOCH_MS('applied_at')} AS applied_ms, duration_ms, applied_by, state FROM ${this.qualified}`);
      this.found = true;
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === UNDEFINED_TABLE || code === UNDEFINED_SCHEMA) result = [];
      else throw error;
      this.found = false;
    }
    this.rows = new Map(result.map((r) => [r.name, {
      name: r.name, checksum: r.checksum, appliedAt: new Date(r.applied_ms), durationMs: r.duration_ms, appliedBy: r.applied_by, state: r.state,
    }]));
    return this.list();
  }

  /** Rows as last loaded or updated by this run. */
  list(): HistoryRow[] {
    return [...this.rows.values()];
  }

  /** The row of one migration, if any. */
  get(name: string): HistoryRow | undefined {
    return this.rows.get(name);
  }

  /**
   * SQL that records an applied migration inside its own transaction; `duration_ms` is measured by
   * the server (`clock_timestamp() - now()`, now() being the transaction start) so the row can be
   * pipelined with the migration; it returns `duration_ms`, so the step reports what history records.
   * Values are a validated name and a hex checksum, quoted as literals.
   */
  insertAppliedSql(name: string, checksum: string): string {
    return `INSERT INTO ${this.qualified} (name, checksum, applied_at, duration_ms, applied_by, state)
VALUES (${quoteLiteral(name)}, ${quoteLiteral(checksum)}, now(), (extract(epoch FROM clock_timestamp() - now()) * 1000)::integer, current_user, 'applied')
RETURNING duration_ms`;
  }

  /** SQL that removes a migration's row inside the down step's transaction. */
  deleteSql(name: string): string {
    return `DELETE FROM ${this.qualified} WHERE name = ${quoteLiteral(name)}`;
  }

  /** Records a no-transaction migration as `failed` before its first statement (a kill leaves it dirty). */
  async markStarted(name: string, checksum: string): Promise<void> {
    await this.sql.unsafe(`INSERT INTO ${this.qualified} (name, checksum, state) VALUES (${quoteLiteral(name)}, ${quoteLiteral(checksum)}, 'failed')
ON CONFLICT (name) DO UPDATE SET state = 'failed', checksum = EXCLUDED.checksum, applied_at = now()`);
    this.remember({ name, checksum, appliedAt: new Date(), durationMs: 0, appliedBy: '', state: 'failed' });
  }

  /** Marks a no-transaction migration applied once its last statement succeeded. */
  async markApplied(name: string, durationMs: number): Promise<void> {
    await this.sql.unsafe(`UPDATE ${this.qualified} SET state = 'applied', duration_ms = ${Math.round(durationMs)}, applied_at = now() WHERE name = ${quoteLiteral(name)}`);
    const row = this.rows.get(name);
    if (row) this.remember({ ...row, state: 'applied', durationMs });
    this.recorded.add(name);
  }

  /** Marks an applied migration failed before a no-transaction down starts. */
  async markRevertStarted(name: string): Promise<void> {
    await this.sql.unsafe(`UPDATE ${this.qualified} SET state = 'failed' WHERE name = ${quoteLiteral(name)}`);
    const row = this.rows.get(name);
    if (row) this.remember({ ...row, state: 'failed' });
  }

  /** Removes a row outside any migration (repair, and the end of a no-transaction down). */
  async remove(name: string): Promise<void> {
    await this.sql.unsafe(this.deleteSql(name));
    this.forget(name);
    this.recorded.add(name);
  }

  /** The executor wrote (or deleted) this migration's row in the migration's transaction. */
  noteRecorded(row: HistoryRow | { name: string; removed: true }): void {
    this.recorded.add(row.name);
    if ('removed' in row) this.forget(row.name);
    else this.remember(row);
  }

  private remember(row: HistoryRow): void {
    this.rows.set(row.name, row);
  }

  private forget(name: string): void {
    this.rows.delete(name);
  }

  // ---- umzug storage contract -------------------------------------------------------------

  /** umzug: names that count as executed (applied or failed: a failed one is never re-run blindly). */
  async executed(): Promise<string[]> {
    return [...this.rows.keys()];
  }

  /** umzug: the migration's up resolved. */
  async logMigration({ name }: { name: string }): Promise<void> {
    if (this.recorded.delete(name)) return;
    await this.sql.unsafe(`INSERT INTO ${this.qualified} (name, checksum) VALUES (${quoteLiteral(name)}, '')`);
    this.remember({ name, checksum: '', appliedAt: new Date(), durationMs: 0, appliedBy: '', state: 'applied' });
  }

  /** umzug: the migration's down resolved. */
  async unlogMigration({ name }: { name: string }): Promise<void> {
    if (this.recorded.delete(name)) return;
    await this.sql.unsafe(this.deleteSql(name));
    this.forget(name);
  }
}
