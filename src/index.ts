/**
 * The library API: what migration authors type against, and what programs embedding strata call.
 */
export * from './errors.js';
export type { DestroyedTable, Direction, Logger, MigrationContext, MigrationModule, ModuleCheckResult } from './core/types.js';
export { silentLogger } from './core/types.js';
export { resolveMigrations, type ResolvedMigration } from './core/resolver.js';
export { migrationStatus, type MigrationState, type StatusEntry } from './core/plan.js';
export { readStatus } from './core/status.js';
export { runMigrations, type RunRequest, type RunResult } from './core/runner.js';
export { verifyMigrations, type VerifyResult, type CheckResult } from './core/verify.js';
export { openDatabase, resolveConnection, type Database } from './db/connect.js';
export { redactUrl, parseDatabaseUrl } from './db/url.js';
