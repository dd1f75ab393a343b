import { describe, expect, it } from 'vitest';
import { backupDirName, displayName, parseTableRef, sanitizeReason, tableFileName } from '../../src/backup/names.js';
import { selectEntries } from '../../src/backup/restore-plan.js';

describe('parseTableRef', () => {
  it('reads table and schema.table with SQL identifier rules', () => {
    expect(parseTableRef('users')).toEqual({ name: 'users' });
    expect(parseTableRef('Public.Users')).toEqual({ schema: 'public', name: 'users' });
    expect(parseTableRef('"Mixed Case"."weird""name"')).toEqual({ schema: 'Mixed Case', name: 'weird"name' });
    expect(parseTableRef('"a.b".c')).toEqual({ schema: 'a.b', name: 'c' });
    expect(parseTableRef({ schema: 'x.y', table: 'A b' })).toEqual({ schema: 'x.y', name: 'A b' });
  });

  it('refuses anything that is not a name, so it can never become SQL', () => {
    for (const bad of ['users; drop table x', 'a b', '', 'a.', '.a', 'a.b.c', '"open', '"a"b', '"" ', '1abc', 'a--b']) {
      expect(parseTableRef(bad), bad).toBeUndefined();
    }
  });
});

describe('selectEntries (restore --table)', () => {
  const entry = (schema: string, name: string) => ({
    table: displayName({ schema, name }), schema, name, file: tableFileName({ schema, name }), rows: 0, bytes: 0, sha256: '0'.repeat(64), columns: [],
  });
  const entries = [entry('public', 'users'), entry('app', 'users'), entry('public', 'Mixed Case')];

  it('picks tables by name, schema-qualified or with --schema, and refuses ambiguous or unknown names', () => {
    expect(selectEntries(entries, {}).map((e) => e.table)).toEqual(['public.users', 'app.users', 'public."Mixed Case"']);
    expect(selectEntries(entries, { tables: ['app.users'] }).map((e) => e.table)).toEqual(['app.users']);
    expect(selectEntries(entries, { tables: ['users'], schema: 'public' }).map((e) => e.table)).toEqual(['public.users']);
    expect(selectEntries(entries, { tables: ['"Mixed Case"'] }).map((e) => e.table)).toEqual(['public."Mixed Case"']);
    expect(() => selectEntries(entries, { tables: ['users'] })).toThrow(/users is ambiguous \(public\.users, app\.users\)/);
    expect(() => selectEntries(entries, { tables: ['orders', 'users; drop table users'] })).toThrow(/orders is not in this backup; users; drop table users is not in this backup/);
  });
});

describe('file and directory names', () => {
  it('keeps plain names readable', () => {
    expect(tableFileName({ schema: 'public', name: 'users' })).toBe('public.users.csv');
    expect(tableFileName({ schema: 'public', name: 'session_takeaways' })).toBe('public.session_takeaways.csv');
  });

  it('encodes dots, quotes, spaces, slashes and upper case so names cannot collide or escape', () => {
    expect(tableFileName({ schema: 'my.schema', name: 'weird"name with space' })).toBe('my%2Eschema.weird%22name%20with%20space.csv');
    expect(tableFileName({ schema: 'public', name: '../../etc/passwd' })).toBe('public.%2E%2E%2F%2E%2E%2Fetc%2Fpasswd.csv');
    expect(tableFileName({ schema: 'public', name: 'Users' })).not.toBe(tableFileName({ schema: 'public', name: 'users' }));
    expect(tableFileName({ schema: 'a.b', name: 'c' })).not.toBe(tableFileName({ schema: 'a', name: 'b.c' }));
    expect(tableFileName({ schema: 'con', name: 'x' })).toBe('%63on.x.csv');
  });

  it('keeps file names under 255 bytes for the longest identifiers', () => {
    const long = 'é'.repeat(31);
    const a = tableFileName({ schema: long, name: long });
    const b = tableFileName({ schema: long, name: `${'é'.repeat(30)}e` });
    expect(a.length).toBeLessThanOrEqual(240);
    expect(a).toMatch(/~[0-9a-f]{16}\.csv$/);
    expect(a).not.toBe(b);
  });

  it('names the directory <UTC yyyymmddThhmmssZ>_<reason>', () => {
    expect(backupDirName(new Date('2025-06-23T07:08:09.123Z'), '003_add_program_tables down')).toBe('20250623T070809Z_003_add_program_tables_down');
    expect(sanitizeReason('../../Évil/"x"')).toBe('vil_x');
    expect(sanitizeReason('!!!')).toBe('backup');
  });

  it('displays names quoted only where needed', () => {
    expect(displayName({ schema: 'public', name: 'users' })).toBe('public.users');
    expect(displayName({ schema: 'my.schema', name: 'weird"name' })).toBe('"my.schema"."weird""name"');
    expect(parseTableRef(displayName({ schema: 'my.schema', name: 'weird"name' }))).toEqual({ schema: 'my.schema', name: 'weird"name' });
  });
});

describe('tableRefCandidates', () => {
  it('reads a reference as SQL first, then as the exact name typed on a command line, then split at each dot', async () => {
    const { tableRefCandidates } = await import('../../src/backup/names.js');
    expect(tableRefCandidates('Users')).toEqual([{ name: 'users' }, { name: 'Users' }]);
    expect(tableRefCandidates('Mixed Case')).toEqual([{ name: 'Mixed Case' }]);
    expect(tableRefCandidates('weird"name')).toEqual([{ name: 'weird"name' }]);
    expect(tableRefCandidates('my schema.a.b')).toEqual([{ name: 'my schema.a.b' }, { schema: 'my schema', name: 'a.b' }, { schema: 'my schema.a', name: 'b' }]);
    expect(tableRefCandidates('"a.b"')).toEqual([{ name: 'a.b' }, { name: '"a.b"' }, { schema: '"a', name: 'b"' }]);
  });
});
