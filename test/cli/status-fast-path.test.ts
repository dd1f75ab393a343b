/**
 * `migrate status` skips commander for its plain forms (src/cli/main.ts, statusFastPath). Whatever
 * the fast path accepts, commander must read the same way: the same command, the same options.
 * Everything else must be left to commander (its messages and exit codes).
 */
import { describe, expect, it } from 'vitest';
import { commanderParse, statusFastPath } from '../../src/cli/main.js';

const URL = 'postgres://app:s3cret@db.example:5432/app?sslmode=disable';

describe('statusFastPath', () => {
  it.each([
    [['status']],
    [['status', '--database-url', URL, '--migrations', '/tmp/m']],
    [['--json', 'status']],
    [['-d', URL, 'status', '-q', '-v', '--no-color']],
    [['status', `--database-url=${URL}`, '--schema=app', '--history-table', 'hist']],
    [['status', '--lock-timeout', '5', '--connect-timeout', '3', '--ddl-lock-timeout', '7', '--retries', '0', '--statement-timeout', '100']],
    [['status', '--bundled', '--embedded', '--yes', '--backup-dir', 'b', '--assume-timezone', 'Europe/Paris']],
    [['--migrations', 'status', 'status']],
    [['status', '--migrations', 'a', '--migrations', 'b']],
    [['status', '-y', '--quiet', '--verbose', '--json']],
    [['status', '--database-url', '']],
    [['status', '--schema=']],
    [['status', '--lock-timeout', 'soon']],
  ])('reads %j exactly as commander does', async (args) => {
    const fast = statusFastPath(args);
    expect(fast).toBeDefined();
    const parsed = await commanderParse(args);
    expect(parsed).toBeDefined();
    expect(parsed!.name).toBe('status');
    // commander keeps options it never saw out of the record; the fast path does too.
    expect(fast).toEqual(parsed!.raw);
  });

  it.each([
    [[]],
    [['up']],
    [['status', 'extra']],
    [['status', 'status']],
    [['status', '--help']],
    [['-h', 'status']],
    [['--version']],
    [['status', '--frob']],
    [['status', '-qv']],
    [['status', `-d${URL}`]],
    [[`-d=${URL}`, 'status']],
    [['status', '--json=1']],
    [['status', '--no-color=yes']],
    [['status', '--']],
    [['status', '--migrations']],
    [['status', '--migrations', '--json']],
    [['status', '--migrations', '-']],
    [['add_program_tables', '--rollback']],
    // Options that do not apply to status: commander's path refuses them (exit 2).
    [['status', '--dry-run']],
    [['status', '--rollback']],
    [['--allow-changed', 'status']],
    [['status', '--no-backup']],
  ])('leaves %j to commander', (args) => {
    expect(statusFastPath(args)).toBeUndefined();
  });
});
