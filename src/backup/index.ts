/**
 * The backup engine (SPEC §6) behind `migrate backup`, `migrate restore` and the automatic backups
 * before destructive steps. Functions return data; the CLI renders it.
 */
export {
  createBackup, backupInTransaction,
  type BackupOptions, type CreateBackupOptions, type InTransactionOptions,
  type BackupResult, type AutoBackupResult, type SkippedTable,
} from './backup.js';
export { verifyBackup, type VerifyOptions, type VerifiedBackup } from './verify.js';
export { planRestore, restoreBackup, type RestoreOptions, type RestorePlan, type RestorePlanTable, type RestoreResult } from './restore.js';
export { readManifest, MANIFEST_FILE, type BackupManifest, type ManifestTable, type ManifestColumn } from './manifest.js';
export { parseTableRef, tableFileName, backupDirName, sanitizeReason, displayName, type TableRef, type QualifiedName } from './names.js';
export { INCOMPLETE_SUFFIX, estimateBackupBytes, statfsFreeSpace, type FreeSpaceProbe } from './backup-dir.js';
export type { AnySql, ClientSql } from './copy.js';
export type { Connect } from './copy-table.js';
