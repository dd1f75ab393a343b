/**
 * The contracts between strata's core and the migrations it runs (SPEC §3), and the small shared
 * types of the core. Migration authors import these from the package root (`strata`).
 */
import type { Sql } from '../db/connect.js';

/** Where progress lines go; the CLI decides (stderr, spinner, or nothing with -q). */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  debug(message: string): void;
}

/** A logger that drops everything (library use, tests). */
export const silentLogger: Logger = { info: () => {}, warn: () => {}, debug: () => {} };

/** Direction a step runs in. */
export type Direction = 'up' | 'down';

/** What a TS/JS migration receives: `{ sql, direction, dryRun, schema, log }` (SPEC §3). */
export interface MigrationContext {
  /** `postgres` tagged-template function bound to the migration's transaction (or session for no-transaction). */
  sql: Sql;
  direction: Direction;
  /** True during `--dry-run`: everything runs and is rolled back at the end. */
  dryRun: boolean;
  /** The target schema (`--schema`, default `public`). */
  schema: string;
  log: Logger;
  /** Command-line settings a migration may read, e.g. `assumeTimezone` (`--assume-timezone`). */
  options: Readonly<Record<string, string | undefined>>;
}

/** A table a step destroys: `"name"`, `"schema.name"`, or an object. */
export type DestroyedTable = string | { schema?: string; table: string };

/** One named check's result from a module's `verify(ctx)`. */
export interface ModuleCheckResult {
  check: string;
  /** Rows that violate the check; empty when it passes. */
  violations: Record<string, unknown>[];
}

/** The shape of a TS/JS migration module (`NNN_name.ts|.js`). */
export interface MigrationModule {
  up(ctx: MigrationContext): Promise<unknown> | unknown;
  down?(ctx: MigrationContext): Promise<unknown> | unknown;
  /** Named checks; each returns its violating rows. */
  verify?(ctx: MigrationContext): Promise<ModuleCheckResult[]> | ModuleCheckResult[];
  /** Tables the step in `ctx.direction` destroys, so strata backs them up first (SPEC §6). */
  destroys?(ctx: MigrationContext): Promise<DestroyedTable[]> | DestroyedTable[];
  /** `false` is the no-transaction directive. */
  transaction?: boolean;
}
