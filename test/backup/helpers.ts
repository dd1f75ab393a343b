/**
 * Shared fixtures of the backup tests: temp roots, options, and a row-by-row text snapshot of a table.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type postgres from 'postgres';
import { quoteQualified } from '../../src/db/quote.js';
import { tempDir as fileTempDir } from '../support/temp.js';

/** A fresh temp directory, removed after the file's tests. */
export async function tempDir(prefix = 'strata-backup-'): Promise<string> {
  return fileTempDir(prefix);
}

/** Options every backup call needs. */
export function backupOptions(root: string, reason = 'test') {
  return { root: path.join(root, 'backups'), reason, database: 'postgres://strata:***@localhost:5432/test' };
}

/**
 * Each row's text form (`record_out`), ordered by the whole row: NULL is an empty field, '' is "",
 * so two tables with equal snapshots are equal value for value.
 */
export async function snapshot(sql: postgres.Sql, schema: string, table: string): Promise<string[]> {
  const rows = await sql.unsafe<{ r: string }[]>(`SELECT ROW(s.*)::text AS r FROM ${quoteQualified(schema, table)} s ORDER BY 1`);
  return rows.map((row) => row.r);
}

/** Entries of a directory, or [] when it does not exist. */
export async function list(dir: string): Promise<string[]> {
  return fs.readdir(dir).catch(() => []);
}
