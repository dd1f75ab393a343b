/**
 * `migrate restore DIR [--table T]... [--truncate]` (SPEC §6): verify every file against the
 * manifest (exit 5, nothing loaded on a mismatch), then load in one transaction. `--truncate` is
 * destructive: it asks (or needs --yes) and backs up what it empties, inside the restore's own
 * transaction after the tables are locked.
 */
import fs from 'node:fs';
import path from 'node:path';
import { withRunLock } from '../../core/lock.js';
import { Refused, UsageError } from '../../errors.js';
import { askYesNo } from '../prompt.js';
import { groupDigits } from '../render.js';
import { connectionTarget, withDatabase, type CommandContext } from '../session.js';

export async function run(ctx: CommandContext, dir: string, options: { table?: string[]; truncate?: boolean }): Promise<number> {
  const { settings, out } = ctx;
  const { backupInTransaction, planRestore, restoreBackup } = await import('../../backup/index.js');
  const backupDir = path.resolve(ctx.cwd, dir);
  // A DIR that is not there is a mistyped argument (exit 2), before connecting; a directory that is
  // not a valid backup stays an integrity failure (exit 5, SPEC §6).
  const stat = fs.statSync(backupDir, { throwIfNoEntry: false });
  if (!stat) throw new UsageError(`backup directory ${dir} does not exist`, { hint: `backups are under ${settings.backupDir}/<UTC yyyymmddThhmmssZ>_<reason>/` });
  if (!stat.isDirectory()) throw new UsageError(`${dir} is not a directory`, { hint: 'pass the backup directory, the one that holds manifest.json' });
  const restoreOptions = { tables: options.table ?? [], truncate: options.truncate === true, schema: settings.schema, lockTimeoutMs: settings.ddlLockTimeout };
  const backups: string[] = [];
  const progress = await out.spinner(`restoring ${dir}`);
  const result = await withDatabase(ctx, connectionTarget(ctx), async (db) => {
    return withRunLock(db.sql, { schema: settings.schema, table: settings.historyTable }, settings.lockTimeout, async () => {
      if (restoreOptions.truncate) {
        // Sizes and headers only: the restore below verifies every byte it loads before it commits.
        const plan = await planRestore(db.sql, backupDir, { ...restoreOptions, listingOnly: true });
        const full = plan.tables.filter((t) => t.existingRows > 0);
        if (full.length > 0) await confirmTruncate(ctx, full.map((t) => `${t.table} (${t.existingRows} rows)`).join(', '));
      }
      return await restoreBackup(db.sql, backupDir, {
        ...restoreOptions,
        onTable: (t) => progress.update(`restored ${t.table}: ${groupDigits(t.rows)} rows`),
        beforeTruncate: settings.backup ? async (tx, tables) => {
          const auto = await backupInTransaction(tx, tables.map((t) => ({ schema: t.schema, table: t.name })), {
            root: path.resolve(ctx.cwd, settings.backupDir), reason: 'restore_truncate', database: db.redactedUrl,
          });
          if (auto.backup) {
            backups.push(path.relative(ctx.cwd, auto.backup.dir) || auto.backup.dir);
            out.progress(`backed up what --truncate empties: ${auto.backup.manifest.tables.map((t) => `${t.table} (${t.rows} rows)`).join(', ')} to ${backups.at(-1)}`);
          }
        } : undefined,
      });
    });
  }).finally(() => progress.stop());
  if (out.json) {
    out.document({ dir: path.relative(ctx.cwd, result.dir) || result.dir, tables: result.tables, truncated: result.truncated, backups, triggersDisabled: result.triggersDisabled, sequencesReset: result.sequencesReset, foreignKeysDeferred: result.foreignKeysDeferred, foreignKeysChecked: result.foreignKeysChecked });
  } else {
    for (const t of result.tables) out.result(`${t.table}: ${groupDigits(t.rows)} rows restored`);
    if (result.foreignKeysChecked.length > 0) out.result(`reference cycle: ${result.foreignKeysChecked.join(', ')} loaded with the check off, then every row checked before COMMIT`);
    if (backups.length > 0) out.result(`emptied tables were backed up first to ${backups.join(', ')}`);
    out.result(`restore complete: ${result.tables.length} table${result.tables.length === 1 ? '' : 's'} loaded in one transaction${result.sequencesReset ? `, ${result.sequencesReset} sequences reset` : ''}`);
  }
  return 0;
}

/** SPEC §6: --truncate on tables holding rows needs --yes without a terminal; a terminal is asked. */
async function confirmTruncate(ctx: CommandContext, what: string): Promise<void> {
  if (!ctx.settings.backup && !ctx.settings.yes) throw new Refused('--no-backup skips the safety backups and needs --yes');
  if (ctx.settings.yes) return;
  const message = `--truncate empties ${what}${ctx.settings.backup ? ' (backed up first)' : ' WITHOUT a backup'}`;
  if (!ctx.interactive) throw new Refused(`refusing to restore with --truncate without confirmation: ${message}`, { hint: 'nothing was changed; rerun with --yes' });
  if (!(await askYesNo(`${message}. Continue?`))) throw new Refused('cancelled: nothing was changed');
}
