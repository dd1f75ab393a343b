import { describe, expect, it } from 'vitest';
import { connectionFromLibpqEnv, describeServer, formatDatabaseUrl, parseDatabaseUrl, redactParts, redactUrl, scrubSecrets, socketPath } from '../../src/db/url.js';
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

  it('a bad %-escape is a usage error that names the part, never its text', () => {
    const error = (() => { try { parseDatabaseUrl('postgres://u:S3cret%ZZ@h/db'); } catch (e) { return e as UsageError; } })();
    expect(error).toBeInstanceOf(UsageError);
    expect(error?.message).toBe('invalid database URL: the password is not valid percent-encoding');
    expect(`${error?.message} ${error?.hint}`).not.toContain('S3cret');
    expect(() => parseDatabaseUrl('postgres://u%E0@h/db')).toThrow('the user name is not valid percent-encoding');
    expect(() => parseDatabaseUrl('postgres://u@h/d%ZZb')).toThrow('the database name is not valid percent-encoding');
  });

  it('query parameters as libpq reads them: the parts, sslmode, server settings, refused and ignored names', () => {
    expect(parseDatabaseUrl('postgres://a@h1:1/d1?host=h2&port=2&dbname=d2&user=b&password=p&sslmode=verify-ca&application_name=x&options=-c%20a%3Db&keepalives=1&connect_timeout=3'))
      .toEqual({ user: 'b', password: 'p', host: 'h2', port: 2, database: 'd2', params: { sslmode: 'verify-ca', application_name: 'x', options: '-c a=b' }, ignored: ['keepalives'], connectTimeoutSeconds: 3 });
    expect(parseDatabaseUrl('postgres://h/d?passfile=/etc/strata/pgpass').passfile).toBe('/etc/strata/pgpass');
    for (const mode of ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full']) {
      expect(parseDatabaseUrl(`postgres://h/d?sslmode=${mode}`).params.sslmode).toBe(mode);
    }
    expect(() => parseDatabaseUrl('postgres://h/d?sslmode=bogus')).toThrow('invalid sslmode "bogus" in the database URL');
    expect(() => parseDatabaseUrl('postgres://h/d?channel_binding=require')).toThrow('the database URL parameter "channel_binding" is not supported by strata');
    expect(() => parseDatabaseUrl('postgres://h/d?sslmod=require')).toThrow('the database URL parameter "sslmod" is not supported by strata');
    expect(() => parseDatabaseUrl('postgres://h:0/d')).toThrow(UsageError);
    expect(() => parseDatabaseUrl('postgres://h/d?port=x')).toThrow('invalid port parameter of the database URL "x"');
    expect(parseDatabaseUrl('postgres://h/d').ignored).toBeUndefined();
  });

  it('a host that starts with / is a Unix-socket directory: from ?host=, a %-encoded host, or PGHOST', () => {
    const fromQuery = parseDatabaseUrl('postgres:///app?host=/var/run/postgresql&port=5433&user=me');
    expect(fromQuery).toMatchObject({ host: '/var/run/postgresql', port: 5433, user: 'me', database: 'app' });
    expect(socketPath(fromQuery)).toBe('/var/run/postgresql/.s.PGSQL.5433');
    expect(describeServer(fromQuery)).toBe('the socket /var/run/postgresql/.s.PGSQL.5433');
    expect(parseDatabaseUrl('postgres://me:pw@%2Fvar%2Frun%2Fpostgresql:5433/app')).toMatchObject({ host: '/var/run/postgresql', port: 5433 });
    expect(connectionFromLibpqEnv({ PGHOST: '/tmp/', PGPORT: '6000', PGDATABASE: 'd', PGUSER: 'u' })).toMatchObject({ host: '/tmp/', port: 6000 });
    expect(socketPath({ host: '/tmp/', port: 6000 })).toBe('/tmp/.s.PGSQL.6000');
    expect(() => connectionFromLibpqEnv({ PGHOST: 'a,b' })).toThrow('PGHOST names several hosts');
  });

  it('redacts a socket host the way libpq reads it back, and round-trips it', () => {
    const parts = parseDatabaseUrl('postgres://me:s3cr3t@localhost/app?host=%2Fvar%2Frun%2Fpostgresql&sslmode=disable');
    expect(redactParts(parts)).toBe('postgres://me:***@%2Fvar%2Frun%2Fpostgresql:5432/app?sslmode=disable');
    expect(parseDatabaseUrl(redactParts(parts))).toMatchObject({ host: '/var/run/postgresql', port: 5432, database: 'app' });
    expect(parseDatabaseUrl(formatDatabaseUrl(parts))).toEqual(parts);
  });
});
