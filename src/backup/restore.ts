/**
 * `migrate restore DIR` (SPEC §6): verify every file first (exit 5, nothing loaded), then load the
 * chosen tables in ONE transaction with COPY FROM STDIN: parents before children, user triggers
 * disabled, sequences moved past the restored values. Conflicting rows fail the whole restore
 * (exit 1); `truncate` empties the tables first, never by CASCADE.
 *
 * Triggers: `session_replication_role = replica` and `ALTER TABLE ... DISABLE TRIGGER ALL` (what
 * `pg_restore --disable-triggers` does) need superuser and also switch off the internal triggers
 * that check foreign keys. We disable each enabled *user* trigger by name (`DISABLE TRIGGER name`:
 * table owner suffices, foreign keys stay checked) and put each back in its own mode (ENABLE,
 * ENABLE ALWAYS, ENABLE REPLICA) before commit; being DDL in the same transaction, no other
 * session ever sees them disabled. Foreign keys inside a reference cycle are the exception
 * (restore-cycles.ts): deferred when DEFERRABLE, else (superuser only) their check triggers are off
 * for the load and every row is checked against them by query before COMMIT.
 *
 * The files are parsed with the settings the manifest says they were written with (copy-settings.ts),
 * not the session's: a DMY DateStyle or another TimeZone must not change what is read.
 */
import { createReadStream } from 'node:fs';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { IntegrityError, MigrationFailed, StrataError } from '../errors.js';
import { quoteQualified } from '../db/quote.js';
import { serverVersion } from './catalog.js';
import { copyInSql, observeCompletion, type AnySql, type ClientSql } from './copy.js';
import { applyCopySettings } from './copy-settings.js';
import { TableCopyError } from './copy-table.js';
import { readManifest, type BackupManifest } from './manifest.js';
import { displayName, displayPart, type QualifiedName } from './names.js';
import { columnSequences, countRows, resetSequence, triggerToggles, userTriggers, type ForeignKey } from './restore-catalog.js';
import { checkForeignKey, foreignKeyCheckTriggers } from './restore-cycles.js';
import {
  checkReferencingEmpty, prepareRestore, selectEntries, type PlannedTable, type PreparedRestore, type RestoreOptions,
} from './restore-plan.js';
import { inTransaction, isConnectionLost } from '../db/transaction.js';
import { checkListing, FileCheck, verifyBackup, verifyFile } from './verify.js';

export type { RestoreOptions } from './restore-plan.js';

/** A table in a restore plan. */
export interface RestorePlanTable {
  table: string;
  /** Rows the backup holds (to be loaded). */
  rows: number;
  /** Rows the live table holds now (with `truncate`, they are removed first). */
  existingRows: number;
}

/** What `restoreBackup` would do, without doing it (for the plan, the confirmation and the pre-truncate backup). */
export interface RestorePlan {
  dir: string;
  manifest: BackupManifest;
  truncate: boolean;
  /** In load order. */
  tables: RestorePlanTable[];
  /** Empty tables outside the restore that reference restored ones; with `truncate` they are emptied too. */
  alsoEmptied: string[];
  rowsToLoad: number;
  /** Rows `truncate` would remove (0 without it). */
  rowsToTruncate: number;
}

/** What a restore did. */
export interface RestoreResult {
  dir: string;
  /** In load order. */
  tables: { table: string; rows: number }[];
  /** Tables emptied first (with `truncate`). */
  truncated: string[];
  /** User triggers switched off during the load (and back on before commit). */
  triggersDisabled: number;
  /** Sequences moved past the restored values. */
  sequencesReset: number;
  /** DEFERRABLE foreign keys of a reference cycle, deferred: PostgreSQL checks them at COMMIT (`schema.table.constraint`). */
  foreignKeysDeferred: string[];
  /** Foreign keys of a cycle that are not DEFERRABLE: loaded with their check off, then every row checked by strata. */
  foreignKeysChecked: string[];
}

/**
 * Verifies the backup and reports what a restore would do; loads nothing, changes nothing. With
 * `listingOnly`, only the manifest, the file list, sizes and headers are checked: for a plan that a
 * `restoreBackup` follows, which verifies every byte it loads before it commits (one read, not two).
 */
export async function planRestore(sql: ClientSql, dir: string, options: RestoreOptions & { listingOnly?: boolean } = {}): Promise<RestorePlan> {
  const manifest = options.listingOnly ? await readManifest(dir) : (await verifyBackup(dir)).manifest;
  if (options.listingOnly) await checkListing(dir, manifest);
  const entries = selectEntries(manifest.tables, options);
  return inTransaction(sql, 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', async (tx) => {
    const prepared = await prepareRestore(tx, entries);
    if (options.truncate) await checkReferencingEmpty(tx, prepared.referencing);
    const tables: RestorePlanTable[] = [];
    for (const { entry, live } of prepared.tables) {
      tables.push({ table: entry.table, rows: entry.rows, existingRows: await countRows(tx, live, live.relkind === 'r') });
    }
    return {
      dir,
      manifest,
      truncate: options.truncate === true,
      tables,
      alsoEmptied: prepared.referencing.map(displayName),
      rowsToLoad: tables.reduce((sum, t) => sum + t.rows, 0),
      rowsToTruncate: options.truncate ? tables.reduce((sum, t) => sum + t.existingRows, 0) : 0,
    };
  });
}

/**
 * Verifies, then loads the backup in one transaction; any failure rolls everything back.
 * SPEC §6 "verify first, nothing loaded on a mismatch": the manifest, the listing and every file's
 * size are checked before anything else; files not restored are then read and checked in full;
 * the restored ones are checked (size, SHA-256, records, header) on the very bytes streamed to the
 * server — one read instead of two, which keeps restore at psql's speed (SPEC §10) — and the
 * transaction commits only after every check passed, so a mismatch loads nothing (exit 5).
 */
export async function restoreBackup(sql: ClientSql, dir: string, options: RestoreOptions = {}): Promise<RestoreResult> {
  const manifest = await readManifest(dir);
  await checkListing(dir, manifest);
  const entries = selectEntries(manifest.tables, options);
  for (const entry of manifest.tables) if (!entries.includes(entry)) await verifyFile(dir, entry);
  if (entries.length === 0) return { dir, tables: [], truncated: [], triggersDisabled: 0, sequencesReset: 0, foreignKeysDeferred: [], foreignKeysChecked: [] };
  try {
    return await inTransaction(sql, 'BEGIN', async (tx) => {
      await tx`SELECT pg_catalog.set_config('lock_timeout', ${`${options.lockTimeoutMs ?? 5000}ms`}, true)`;
      // Older backups record no settings: they were written with the session's, the best guess to read them with.
      if (manifest.copySettings) await applyCopySettings(tx);
      const prepared = await prepareRestore(tx, entries);
      await lockTables(tx, prepared, options.truncate === true);
      if (options.truncate) await checkReferencingEmpty(tx, prepared.referencing);
      return load(tx, dir, prepared, options);
    });
  } catch (error) {
    throw restoreError(dir, error);
  }
}

async function lockTables(tx: AnySql, prepared: PreparedRestore, truncate: boolean): Promise<void> {
  const targets = [...prepared.tables.map((t) => t.live), ...(truncate ? prepared.referencing : [])];
  const list = targets.map((t) => quoteQualified(t.schema, t.name)).join(', ');
  // SHARE ROW EXCLUSIVE is what DISABLE TRIGGER takes anyway; it keeps writers out during the load.
  await tx.unsafe(`LOCK TABLE ${list} IN ${truncate ? 'ACCESS EXCLUSIVE' : 'SHARE ROW EXCLUSIVE'} MODE`);
}

/** Inside the transaction: triggers off, truncate, COPY each table, triggers back, sequences. */
async function load(tx: AnySql, dir: string, prepared: PreparedRestore, options: RestoreOptions): Promise<RestoreResult> {
  const restored = prepared.tables.map((t) => t.live);
  const emptied = options.truncate ? prepared.referencing : [];
  // The emptied tables too: their ON TRUNCATE triggers are user triggers as well.
  const triggers = await userTriggers(tx, [...restored, ...emptied].map((t) => t.oid));
  const toggles = triggers.map(triggerToggles);
  // Keys of a cycle that are not DEFERRABLE (prepareRestore made sure we are superuser): checked by query below.
  const keyToggles = (await foreignKeyCheckTriggers(tx, prepared.unchecked)).map(triggerToggles);
  for (const toggle of [...toggles, ...keyToggles]) await tx.unsafe(toggle.disable);
  // DEFERRABLE keys are checked when the load is done, so tables in a reference cycle can load.
  await tx`SET CONSTRAINTS ALL DEFERRED`;
  if (options.truncate) {
    await options.beforeTruncate?.(tx, [...restored, ...emptied]);
    await truncate(tx, prepared.tables, emptied);
  }
  const { num } = await serverVersion(tx);
  const loaded: RestoreResult['tables'] = [];
  for (const table of prepared.tables) {
    const rows = await loadTable(tx, dir, table, num);
    loaded.push({ table: table.entry.table, rows });
    options.onTable?.({ table: table.entry.table, rows });
  }
  for (const toggle of [...toggles, ...keyToggles]) await tx.unsafe(toggle.restore);
  for (const key of prepared.unchecked) await checkForeignKey(tx, key);
  // setval is not transactional: only once every table loaded.
  const sequences = await columnSequences(tx, restored.map((t) => t.oid));
  const byOid = new Map(restored.map((t) => [t.oid, t]));
  for (const seq of sequences) await resetSequence(tx, byOid.get(seq.tableOid) as QualifiedName, seq);
  return {
    dir,
    tables: loaded,
    truncated: options.truncate ? [...prepared.tables.map((t) => t.entry.table), ...emptied.map(displayName)] : [],
    triggersDisabled: toggles.length,
    sequencesReset: sequences.length,
    foreignKeysDeferred: prepared.deferred.map(keyName),
    foreignKeysChecked: prepared.unchecked.map(keyName),
  };
}

/** `public.cx.cx_y_id_fkey`. */
function keyName(key: ForeignKey): string {
  return `${displayName(key.childTable)}.${displayPart(key.name)}`;
}

/** One TRUNCATE for all (no CASCADE: a forgotten referencing table makes it fail instead of emptying it). */
async function truncate(tx: AnySql, tables: PlannedTable[], emptied: QualifiedName[]): Promise<void> {
  // ONLY for ordinary tables: their backup holds their own rows, not those of inheritance children.
  const targets = [
    ...tables.map(({ live }) => `${live.relkind === 'r' ? 'ONLY ' : ''}${quoteQualified(live.schema, live.name)}`),
    ...emptied.map((t) => quoteQualified(t.schema, t.name)),
  ];
  await tx.unsafe(`TRUNCATE ${targets.join(', ')}`);
}

/** COPY FROM STDIN with the manifest's columns, checking the bytes sent against the manifest on the way. */
async function loadTable(tx: AnySql, dir: string, { entry }: PlannedTable, serverVersionNum: number): Promise<number> {
  const file = path.join(dir, entry.file);
  const check = new FileCheck(file, entry);
  try {
    const query = tx.unsafe(copyInSql({ schema: entry.schema, name: entry.name, columns: entry.columns.map((c) => c.name) }, serverVersionNum));
    const outcome = observeCompletion(query);
    const writable = await query.writable();
    const checking = new Transform({
      transform(chunk: Buffer, _encoding, callback) { check.feed(chunk); callback(null, chunk); },
    });
    const piped = pipeline(createReadStream(file, { highWaterMark: 1024 * 1024 }), checking, writable);
    piped.catch(() => undefined);
    // The writable never finishes when the server rejects the data after its end (see copy.ts): race the outcome.
    const rows = await Promise.race([outcome, piped.then(() => outcome)]);
    await piped;
    check.finish();
    if (rows !== entry.rows) throw new IntegrityError(`${file}: the server loaded ${rows} rows, the manifest says ${entry.rows}`);
    return rows;
  } catch (error) {
    if (error instanceof StrataError) throw error;
    // The server refused the data or the read failed: a damaged file is reported as such (exit 5).
    if (!isConnectionLost(error)) await verifyFile(dir, entry);
    throw new TableCopyError(entry.table, error);
  }
}

/** One line: which table, what PostgreSQL said (the duplicate key, the missing parent), and that nothing was loaded. */
function restoreError(dir: string, error: unknown): unknown {
  if (error instanceof StrataError) return error;
  const original = error instanceof TableCopyError ? error.original : error;
  const pg = original as { message?: string; detail?: string; hint?: string; schema_name?: string; table_name?: string };
  const table = error instanceof TableCopyError
    ? error.table
    : pg.table_name ? displayName({ schema: pg.schema_name ?? 'public', name: pg.table_name }) : undefined;
  const detail = pg.detail ? ` (${pg.detail})` : '';
  const message = `restore from ${dir} failed${table ? ` on ${table}` : ''}: ${(pg.message ?? String(original)).split('\n')[0]}${detail}; nothing was loaded`;
  return new MigrationFailed(message, {
    cause: original,
    hint: pg.hint ?? 'the restore runs in one transaction: fix the cause (or use --truncate to replace existing rows) and run it again',
  });
}
