/**
 * What must hold after a run of the fixture was killed (issue 9): `status` tells the truth, history
 * matches the schema exactly, no run lock is left, no backup directory looks complete unless it is,
 * and a plain run (after `repair` where needed) finishes the job.
 */
import fs from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { verifyBackup } from '../../../src/backup/verify.js';
import { historyRows } from '../../support/catalog.js';
import type { CliResult } from '../../support/cli.js';
import type { TestDatabase } from '../../support/database.js';
import { CRASH, runLockHolders, type FaultMode } from './faults.js';
import { downStatements, NAMES, NO_TRANSACTION, presence, type Presence } from './fixture.js';

export type State = 'applied' | 'pending' | 'failed';

/** Expected states when a run was cut inside step `cut` (index into `order`, -1: before any step). */
export function expectedStates(order: string[], cut: number, start: State, end: State): Record<string, State> {
  const states: Record<string, State> = {};
  order.forEach((name, i) => {
    if (i < cut) states[name] = end;
    else if (i > cut) states[name] = start;
    else states[name] = name === NO_TRANSACTION ? 'failed' : start;
  });
  return states;
}

/** The CLI ended the way a fault allows: SIGKILL is SIGKILL; a terminated connection is exit 1, one clean error. */
export function expectCleanEnd(result: CliResult, mode: FaultMode): void {
  if (mode === 'sigkill') {
    expect(result.signal).toBe('SIGKILL');
    return;
  }
  const context = `stdout: ${result.stdout}\nstderr: ${result.stderr}`;
  expect(result.code, context).toBe(1);
  expect(result.stderr, context).not.toMatch(CRASH);
  const doc = result.json<{ error?: { code: number; message: string } }>();
  expect(doc.error?.code, context).toBe(1);
  // "read ECONNRESET" (restore) is terse but names the cause; see the report.
  expect(doc.error?.message, context).toMatch(/connection|terminat|ECONNRESET/i);
}

/** Every backup directory without `.incomplete` verifies against its manifest. */
export async function expectBackupsSound(root: string): Promise<{ complete: number; incomplete: number }> {
  const names = fs.existsSync(root) ? fs.readdirSync(root) : [];
  let complete = 0;
  for (const name of names.filter((n) => !n.endsWith('.incomplete'))) {
    await expect(verifyBackup(path.join(root, name)), `${name} looks complete but is not`).resolves.toBeDefined();
    complete += 1;
  }
  return { complete, incomplete: names.length - complete };
}

/** `migrate status` agrees with `expected`, history agrees with status, and the schema with history. */
export async function expectTruth(db: TestDatabase, cli: (...args: string[]) => Promise<CliResult>, expected: Record<string, State>): Promise<Record<string, Presence>> {
  const status = await cli('status', '--json');
  expect(status.code, status.stderr).toBe(0);
  const shown = Object.fromEntries(status.json<{ migrations: { name: string; state: string }[] }>().migrations.map((m) => [m.name, m.state]));
  expect(shown).toEqual(expected);
  const rows = await historyRows(db.sql);
  expect(Object.fromEntries(rows.map((r) => [r.name, r.state]))).toEqual(
    Object.fromEntries(Object.entries(expected).filter(([, s]) => s !== 'pending')),
  );
  const found = await presence(db.sql);
  for (const name of NAMES) {
    if (expected[name] === 'applied') expect(found[name], `${name} is recorded as applied`).toBe('present');
    if (expected[name] === 'pending') expect(found[name], `${name} is not recorded`).toBe('absent');
  }
  expect(await runLockHolders(db.sql)).toBe(0);
  return found;
}

/**
 * A cut no-transaction migration: `run` refuses (exit 5), `repair` lists what PostgreSQL can tell
 * (INVALID indexes of a cut CREATE INDEX CONCURRENTLY), a human finishes the job by hand (the
 * down statements of the fixture are idempotent), then it is pending and fully absent.
 */
export async function repairCut(db: TestDatabase, cli: (...args: string[]) => Promise<CliResult>, refusedArgs: string[], invalidIndex?: string): Promise<void> {
  const refused = await cli(...refusedArgs);
  expect(refused.code, refused.stderr).toBe(5);
  expect(refused.stderr).toContain(`migrate repair ${NO_TRANSACTION}`);
  const repaired = await cli('repair', NO_TRANSACTION, '--json');
  expect(repaired.code, repaired.stderr).toBe(0);
  const leftovers = repaired.json<{ leftovers: { name: string }[] }>().leftovers.map((l) => l.name);
  if (invalidIndex) expect(leftovers).toContain(`public.${invalidIndex}`);
  for (const statement of downStatements(NO_TRANSACTION)) await db.sql.unsafe(statement);
  expect((await presence(db.sql))[NO_TRANSACTION]).toBe('absent');
}
