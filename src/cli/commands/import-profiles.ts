/**
 * `migrate import-profiles DIR [--dry-run] [--verify] [--create-users] [--skip-invalid]` (SPEC §9):
 * markdown profiles into `user_profiles`, under the run lock, all validated before anything is
 * written. Exit 1 when any file has an error (nothing written, unless --skip-invalid) or, with
 * --verify, when the database differs from the files.
 */
import { withRunLock } from '../../core/lock.js';
import { DRY_RUN_STATEMENT_TIMEOUT_MS } from '../../core/runner.js';
import { connectionTarget, withDatabase, type CommandContext } from '../session.js';

interface Flags { createUsers?: boolean; skipInvalid?: boolean; verify?: boolean }

export async function run(ctx: CommandContext, dir: string, flags: Flags): Promise<number> {
  const { settings, out } = ctx;
  const { importProfiles, readProfiles } = await import('../../profiles/import.js');
  // Reading and parsing start now, on worker threads, while the connection is made (SPEC §10). An
  // unusable DIR is exit 2 here, before connecting: a missing directory is the user's input, and
  // must not hide behind (or wait for) a connection failure. DIR as given: error paths then read
  // the way the user typed them.
  const source = readProfiles(dir);
  // Closed however this ends: its worker thread would otherwise keep the process alive after an
  // error that comes before the connection (no database given, a bad PGCONNECT_TIMEOUT).
  let result: Awaited<ReturnType<typeof importProfiles>>;
  try {
    result = await withDatabase(ctx, connectionTarget(ctx), (db) =>
      withRunLock(db.sql, { schema: settings.schema, table: settings.historyTable }, settings.lockTimeout, () =>
        importProfiles(db.sql, source, {
          dryRun: settings.dryRun,
          verify: flags.verify === true,
          createUsers: flags.createUsers === true,
          skipInvalid: flags.skipInvalid === true,
          schema: settings.schema,
          lockTimeoutMs: settings.ddlLockTimeout,
          statementTimeoutMs: settings.statementTimeout ?? (settings.dryRun ? DRY_RUN_STATEMENT_TIMEOUT_MS : undefined),
        }, { info: (m) => out.progress(m), warn: (m) => out.warn(m) })));
  } finally {
    await source.close();
  }
  const errors = result.errors;
  const failed = errors.length > 0 || (result.differences?.length ?? 0) > 0;
  if (out.json) {
    out.document({ ...result, errors });
    if (result.dryRun) out.progress('dry run: nothing was changed');
    return failed ? 1 : 0;
  }
  for (const e of errors) out.result(`${out.paint.red('✗')} ${e.path}: ${e.message}`);
  for (const d of result.differences ?? []) {
    out.result(`${out.paint.yellow('≠')} ${d.user} ${d.column}${d.key ? `.${d.key}` : ''}: file ${JSON.stringify(d.file ?? null)}, database ${JSON.stringify(d.database ?? null)}`);
  }
  if (flags.verify) {
    out.result(result.differences?.length ? `${result.differences.length} differences between the files and the database` : `database matches the files (${result.unchanged} users)`);
  } else {
    const verb = result.dryRun ? 'would import' : 'imported';
    out.result(`${verb} ${result.imported}, unchanged ${result.unchanged}, created ${result.created} users${errors.length ? `; ${errors.length} errors${settings.dryRun || !flags.skipInvalid ? ', nothing written' : `, ${result.skipped} folders skipped`}` : ''}`);
  }
  if (result.dryRun) out.result('dry run: nothing was changed');
  return failed ? 1 : 0;
}
