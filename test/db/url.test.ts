import { describe, expect, it } from 'vitest';
import { connectionFromLibpqEnv, formatDatabaseUrl, parseDatabaseUrl, redactUrl, scrubSecrets } from '../../src/db/url.js';
import { UsageError } from '../../src/errors.js';

describe('URLs', () => {
  it('redacts the password as user:***@host:port/db (SPEC §2)', () => {
    expect(redactUrl('postgres://alice:s3cr3t@db.example.com:6543/app')).toBe('postgres://alice:***@db.example.com:6543/app');
    expect(redactUrl('postgresql://alice@db/app')).toBe('postgres://alice:***@db:5432/app');
    expect(redactUrl('postgres://u:p%40ss@h/d?sslmode=require&password=x')).toBe('postgres://u:***@h:5432/d?sslmode=require');
  });

  it('masks what it cannot parse', () => {
    expect(redactUrl('postgres://u:pw@[bad')).not.toContain('pw');
  });

  it('round-trips URL-encoded credentials', () => {
    const parts = parseDatabaseUrl('postgres://us%3Aer:p%40ss%2Fw@localhost:5433/my%20db');
    expect(parts).toMatchObject({ user: 'us:er', password: 'p@ss/w', port: 5433, database: 'my db' });
    expect(parseDatabaseUrl(formatDatabaseUrl(parts))).toEqual(parts);
  });

  it('rejects other schemes and garbage with a usage error that hides the password', () => {
    expect(() => parseDatabaseUrl('mysql://u:p@h/d')).toThrow(UsageError);
    const error = (() => { try { parseDatabaseUrl('not a url with secretpw'); } catch (e) { return e as Error; } })();
    expect(error).toBeInstanceOf(UsageError);
  });

  it('builds the connection from libpq variables', () => {
    expect(connectionFromLibpqEnv({ PGHOST: 'h', PGPORT: '7000', PGUSER: 'u', PGPASSWORD: 'p', PGDATABASE: 'd' }))
      .toEqual({ host: 'h', port: 7000, user: 'u', password: 'p', database: 'd', params: {} });
    expect(() => connectionFromLibpqEnv({ PGPORT: 'x' })).toThrow(UsageError);
  });

  it('scrubs secrets, raw and URL-encoded, from any text', () => {
    expect(scrubSecrets('failed for p@ss and p%40ss', ['p@ss'])).toBe('failed for *** and ***');
    expect(scrubSecrets('x:S3cr.t!,(S3cr.t!)', ['S3cr.t!'])).toBe('x:***,(***)');
  });

  it('masks whole tokens only, never a URL scheme, and leaves a password alone that equals a name printed anyway', () => {
    // A weak password must not eat the names the output is about.
    expect(scrubSecrets('001_init applied; init failed', ['init'])).toBe('001_init applied; *** failed');
    expect(scrubSecrets('postgres://app:***@db/x "001_postgres_stuff" postgres said', ['postgres']))
      .toBe('postgres://app:***@db/x "001_postgres_stuff" *** said');
    expect(scrubSecrets('phase init of 001_init', ['init'], new Set(['init', '001_init']))).toBe('phase init of 001_init');
    expect(scrubSecrets('hunter2hunter2 hunter2', ['hunter2'])).toBe('hunter2hunter2 ***');
  });
});
