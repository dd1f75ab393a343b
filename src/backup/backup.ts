/**
 * Writing backups (SPEC §6): `createBackup` for `migrate backup` (its own REPEATABLE READ
 * snapshot, optionally parallel), and `backupInTransaction` for the automatic backup the runner
 * takes inside a migration's transaction before a destructive statement. Both write the same
 * format through `writeBackup`: room checked first, files into `<name>.incomplete`, each file
 * fsynced and verified, the manifest written and fsynced, the directory fsynced and renamed.
 * Any failure removes the incomplete directory and throws `MigrationFailed` (exit 1), one line
 * naming the path.
 */
import { MigrationFailed, StrataError, UsageError } from '../errors.js';
import { quoteQualified } from '../db/quote.js';
import {
  commitBackupDir, createBackupDir, describeFsError, discardBackupDir, estimateBackupBytes,
  prepareRoot, statfsFreeSpace, type BackupDir, type FreeSpaceProbe,
} from './backup-dir.js';
import { hasRows, requireTables, resolveTables, serverVersion, type CatalogTable } from './catalog.js';
import type { AnySql, ClientSql } from './copy.js';
import { applyCopySettings, COPY_SETTINGS, withCopySettings } from './copy-settings.js';
import { copyTable, copyTablesInParallel, TableCopyError, type Connect } from './copy-table.js';
import type { SinkOptions } from './file-sink.js';
import { inTransaction, isConnectionLost } from '../db/transaction.js';
import { writeManifest, type BackupManifest, type ManifestTable } from './manifest.js';
import { displayName, type TableRef } from './names.js';

/** Options shared by both kinds of backup. */
export interface BackupOptions extends SinkOptions {
  /** Directory holding backups (`--backup-dir`, default `./backups`); created 0700 if missing. */
  root: string;
  /** Why the backup is taken (`manual`, `003_add_program_tables_down`); sanitised into the directory name. */
  reason: string;
  /** The database URL, already redacted by the caller, recorded in the manifest. */
  database: string;
  /** Clock (tests). */
  now?: () => Date;
  /** Free bytes of the backup disk; default `fs.statfs` (tests simulate a full disk). */
  freeSpace?: FreeSpaceProbe;
  /** Called (and awaited) after each table is written and verified: progress on stderr. */
  onTable?: (entry: ManifestTable) => void | Promise<void>;
}

/** Options of `createBackup`. */
export interface CreateBackupOptions extends BackupOptions {
  /** Opens another connection to the same database: enables parallel COPY of several tables. */
  connect?: Connect;
  /** Connections in all, the caller's included (default 4, only with `connect`). */
  jobs?: number;
  /** Longest wait for the ACCESS SHARE locks, in ms (default 10000). */
  lockTimeoutMs?: number;
  /** Warnings (fewer parallel connections than asked): stderr. */
  onWarning?: (message: string) => void;
}

/** Options of `backupInTransaction`. */
export interface InTransactionOptions extends BackupOptions {
  /** Report tables that do not exist as skipped instead of failing with `UsageError`. */
  skipMissing?: boolean;
}

/** A finished, verified backup. */
export interface BackupResult {
  /** The backup directory (final name). */
  dir: string;
  manifest: BackupManifest;
}

/** A table the automatic backup did not copy, and why. */
export interface SkippedTable {
  table: string;
  reason: 'empty' | 'missing';
}

/** What `backupInTransaction` did: the backup, unless every table was empty or missing. */
export interface AutoBackupResult {
  backup: BackupResult | undefined;
  skipped: SkippedTable[];
}

/**
 * `migrate backup TABLE...`: every table in one REPEATABLE READ READ ONLY snapshot, locked
 * ACCESS SHARE (as pg_dump: a concurrent DROP waits for the backup instead of breaking it).
 * Unknown tables are a `UsageError` (exit 2) before anything is written.
 */
export async function createBackup(sql: ClientSql, tables: readonly TableRef[], options: CreateBackupOptions): Promise<BackupResult> {
  try {
    return await inTransaction(sql, 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', async (tx) => {
      // First: pg_table_size in the catalog query already waits for a lock held by another session.
      await tx`SELECT pg_catalog.set_config('lock_timeout', ${`${options.lockTimeoutMs ?? 10_000}ms`}, true)`;
      // Our own transaction: the COPY settings simply hold until its end (helpers set their own).
      await applyCopySettings(tx);
      const found = await requireTables(tx, tables);
      await lockTables(tx, found);
      const version = await serverVersion(tx);
      return writeBackup(found, version.version, options, (dir) => copyTablesInParallel(tx, found, dir, options));
    });
  } catch (error) {
    throw error instanceof StrataError ? error : new MigrationFailed(`backup failed: ${describeCause(error)}`, { cause: error });
  }
}

/**
 * The automatic backup (SPEC §6), on the migration's own transaction `tx`: the caller has locked
 * the tables ACCESS EXCLUSIVE, so the copy holds exactly the rows the next statement destroys.
 * Empty tables are skipped (and reported). On failure the transaction may be aborted: the caller
 * rolls back.
 */
export async function backupInTransaction(tx: AnySql, tables: readonly TableRef[], options: InTransactionOptions): Promise<AutoBackupResult> {
  const skipped: SkippedTable[] = [];
  let found: CatalogTable[];
  if (options.skipMissing) {
    const resolution = await resolveTables(tx, tables);
    found = resolution.tables;
    for (const u of resolution.unknown) skipped.push({ table: u.ref, reason: 'missing' });
  } else {
    found = await requireTables(tx, tables);
  }
  // Under the COPY settings (row_security off among them): a table whose rows a policy hides from
  // this role must not pass for empty — the check fails loudly instead, like the COPY would.
  const withRows = await withCopySettings(tx, async () => {
    const holding: CatalogTable[] = [];
    for (const table of found) {
      if (await hasRows(tx, table)) holding.push(table);
      else skipped.push({ table: displayName(table), reason: 'empty' });
    }
    return holding;
  });
  if (withRows.length === 0) return { backup: undefined, skipped };
  const version = await serverVersion(tx);
  // The caller's transaction: its own DateStyle, TimeZone… are back as soon as the COPYs are done
  // (inside writeBackup, so a failure to set them back fails the backup like any other).
  const backup = await writeBackup(withRows, version.version, options, (dir) => withCopySettings(tx, async () => {
    const entries: ManifestTable[] = [];
    for (const table of withRows) {
      const entry = await copyTable(tx, table, dir, options);
      entries.push(entry);
      await options.onTable?.(entry);
    }
    return entries;
  }));
  return { backup, skipped };
}

async function lockTables(tx: AnySql, tables: CatalogTable[]): Promise<void> {
  const list = tables.map((t) => quoteQualified(t.schema, t.name)).join(', ');
  try {
    await tx.unsafe(`LOCK TABLE ${list} IN ACCESS SHARE MODE`);
  } catch (error) {
    if ((error as { code?: string }).code === '55P03') {
      throw new MigrationFailed(`backup: could not lock ${tables.map(displayName).join(', ')} in time (${(error as Error).message})`, {
        hint: 'another session holds an exclusive lock (a running migration?); retry later', cause: error,
      });
    }
    throw error;
  }
}

/** Checks room, writes every table with `copyAll`, the manifest, and commits the directory. */
async function writeBackup(
  tables: CatalogTable[], version: string, options: BackupOptions,
  copyAll: (dir: string) => Promise<ManifestTable[]>,
): Promise<BackupResult> {
  const at = (options.now ?? (() => new Date()))();
  const needed = estimateBackupBytes(tables.reduce((sum, t) => sum + t.sizeBytes, 0));
  await prepareRoot(options.root, needed, options.freeSpace ?? statfsFreeSpace);
  const dir = await createBackupDir(options.root, at, options.reason);
  try {
    const entries = await copyAll(dir.incomplete);
    const order = new Map(tables.map((t, i) => [displayName(t), i]));
    entries.sort((a, b) => (order.get(a.table) ?? 0) - (order.get(b.table) ?? 0));
    const manifest: BackupManifest = {
      formatVersion: 1,
      createdAt: at.toISOString(),
      reason: options.reason,
      database: options.database,
      serverVersion: version,
      copySettings: { ...COPY_SETTINGS },
      tables: entries,
    };
    await writeManifest(dir.incomplete, manifest);
    await commitBackupDir(dir);
    return { dir: dir.final, manifest };
  } catch (error) {
    throw await failed(dir, error);
  }
}

/** Removes the incomplete directory and builds the one-line error (SPEC §6: exit 1, with the path). */
async function failed(dir: BackupDir, error: unknown): Promise<StrataError> {
  const cleanup = await discardBackupDir(dir);
  const where = cleanup === undefined
    ? `removed ${dir.incomplete}`
    : `left ${dir.incomplete} (could not remove it: ${cleanup})`;
  if (error instanceof UsageError) return error;
  const reason = error instanceof TableCopyError
    ? `${error.table}: ${describeCause(error.original)}`
    : describeCause(error);
  return new MigrationFailed(`backup to ${dir.final} failed: ${reason}; ${where}`, {
    cause: error instanceof TableCopyError ? error.original : error,
    hint: 'nothing was changed; fix the cause and run again',
  });
}

function describeCause(error: unknown): string {
  const pg = error as { code?: string; message?: string; detail?: string; errno?: unknown; syscall?: string };
  if (isConnectionLost(error)) return `the connection to the database was lost (${pg.code}: ${pg.message?.split('\n')[0] ?? ''})`;
  if (typeof pg.errno === 'number' || typeof pg.syscall === 'string') return describeFsError(error);
  const message = (pg.message ?? String(error)).split('\n')[0] ?? '';
  return pg.detail ? `${message} (${pg.detail})` : message;
}
