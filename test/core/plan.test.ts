import { describe, expect, it } from 'vitest';
import type { HistoryRow } from '../../src/core/history.js';
import { findTarget, migrationStatus, selectDown, selectUp } from '../../src/core/plan.js';
import type { ResolvedMigration } from '../../src/core/resolver.js';
import { IntegrityError, MigrationFailed, UsageError } from '../../src/errors.js';

function migration(name: string, options: { checksum?: string; down?: boolean } = {}): ResolvedMigration {
  const [number, ...rest] = name.split('_');
  return {
    name, number: number!, phase: rest.join('_'), kind: 'sql', path: `/m/${name}`, checksum: options.checksum ?? `c-${name}`,
    up: { path: '', displayPath: `${name}/up.sql`, text: '' },
    ...(options.down === false ? {} : { down: { path: '', displayPath: `${name}/down.sql`, text: '' } }),
  };
}

function row(name: string, state: 'applied' | 'failed' = 'applied', checksum = `c-${name}`): HistoryRow {
  return { name, checksum, state, appliedAt: new Date('2026-01-01T00:00:00Z'), durationMs: 1, appliedBy: 'me' };
}

const disk = [migration('001_mvp'), migration('002_add_user_tables'), migration('003_add_program_tables')];

describe('migrationStatus', () => {
  it('gives every state of SPEC §5', () => {
    const entries = migrationStatus(
      [migration('001_a'), migration('002_b', { checksum: 'new' }), migration('003_c'), migration('005_e')],
      [row('001_a'), row('002_b'), row('003_c', 'failed'), row('004_d')],
    );
    expect(entries.map((e) => [e.name, e.state])).toEqual([
      ['001_a', 'applied'], ['002_b', 'changed'], ['003_c', 'failed'], ['004_d', 'missing'], ['005_e', 'pending'],
    ]);
    expect(entries[1]!.recordedChecksum).toBe('c-002_b');
  });
});

describe('selectUp', () => {
  it('selects pending migrations up to and including the target phase', () => {
    const entries = migrationStatus(disk, [row('001_mvp')]);
    expect(selectUp(entries, 'add_user_tables').steps.map((s) => s.name)).toEqual(['002_add_user_tables']);
    expect(selectUp(entries, undefined).steps.map((s) => s.name)).toEqual(['002_add_user_tables', '003_add_program_tables']);
    expect(selectUp(entries, '003_add_program_tables').steps).toHaveLength(2);
    expect(selectUp(entries, 'mvp').steps).toHaveLength(0);
  });

  it('refuses changed or missing history with exit 5 unless --allow-changed', () => {
    const entries = migrationStatus([migration('001_mvp', { checksum: 'edited' }), migration('002_add_user_tables')], [row('001_mvp')]);
    expect(() => selectUp(entries, undefined)).toThrow(IntegrityError);
    const allowed = selectUp(entries, undefined, { allowChanged: true });
    expect(allowed.steps.map((s) => s.name)).toEqual(['002_add_user_tables']);
    expect(allowed.warnings.join()).toContain('001_mvp (changed)');
  });

  it('refuses a failed migration even with --allow-changed', () => {
    const entries = migrationStatus(disk, [row('001_mvp', 'failed')]);
    const error = (() => { try { selectUp(entries, undefined, { allowChanged: true }); } catch (e) { return e as IntegrityError; } })();
    expect(error).toBeInstanceOf(IntegrityError);
    expect(error?.hint).toContain('migrate repair 001_mvp');
  });

  it('warns when a pending migration is older than an applied one', () => {
    const entries = migrationStatus(disk, [row('001_mvp'), row('003_add_program_tables')]);
    const selection = selectUp(entries, undefined);
    expect(selection.steps.map((s) => s.name)).toEqual(['002_add_user_tables']);
    expect(selection.warnings.join()).toContain('out of order');
  });
});

describe('selectDown', () => {
  const applied = migrationStatus(disk, [row('001_mvp'), row('002_add_user_tables'), row('003_add_program_tables')]);

  it('reverts the newest by default, and down to TARGET newest first', () => {
    expect(selectDown(applied, undefined).steps.map((s) => s.name)).toEqual(['003_add_program_tables']);
    expect(selectDown(applied, 'add_user_tables').steps.map((s) => s.name)).toEqual(['003_add_program_tables', '002_add_user_tables']);
  });

  it('refuses an irreversible migration with exit 1 before anything runs', () => {
    const entries = migrationStatus([migration('001_mvp', { down: false })], [row('001_mvp')]);
    expect(() => selectDown(entries, 'mvp')).toThrow(MigrationFailed);
  });

  it('refuses to revert a migration whose file is gone', () => {
    const entries = migrationStatus([migration('001_mvp')], [row('001_mvp'), row('002_gone')]);
    expect(() => selectDown(entries, undefined)).toThrow(IntegrityError);
  });
});

describe('findTarget', () => {
  it('accepts a phase, a full name or a number and rejects anything else with exit 2', () => {
    const entries = migrationStatus(disk, []);
    expect(findTarget(entries, 'add_program_tables').name).toBe('003_add_program_tables');
    expect(findTarget(entries, '002_add_user_tables').name).toBe('002_add_user_tables');
    expect(findTarget(entries, '3').name).toBe('003_add_program_tables');
    const error = (() => { try { findTarget(entries, 'add_nothing'); } catch (e) { return e; } })();
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).hint).toContain('add_program_tables');
  });
});
