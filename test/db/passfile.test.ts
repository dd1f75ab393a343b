/**
 * The password file as libpq reads it (db/passfile.ts), and libpq's environment applied to a
 * connection (db/connect.ts withLibpqEnvironment): which password, timeout and name a run uses.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveConnection, withLibpqEnvironment, type ConnectionEnv } from '../../src/db/connect.js';
import { lookupPassfile } from '../../src/db/passfile.js';
import { parseDatabaseUrl } from '../../src/db/url.js';
import { UsageError } from '../../src/errors.js';
import { tempDir } from '../support/temp.js';

function passfile(text: string, mode = 0o600): string {
  const file = path.join(tempDir('strata-pgpass-'), 'pgpass');
  fs.writeFileSync(file, text);
  fs.chmodSync(file, mode);
  return file;
}

const target = { host: 'db.internal', port: 5432, database: 'app', user: 'deploy' };

describe('lookupPassfile', () => {
  it('the first line whose four fields match wins; * matches anything; comments and short lines are skipped', () => {
    const file = passfile([
      '# host:port:database:user:password',
      'db.internal:5432:app',
      'db.internal:5433:app:deploy:wrong-port',
      'db.internal:5432:other:deploy:wrong-db',
      'db.internal:5432:app:deploy:right',
      '*:*:*:*:fallback',
    ].join('\n'));
    expect(lookupPassfile(file, target)).toEqual({ password: 'right' });
    expect(lookupPassfile(file, { ...target, database: 'reports' })).toEqual({ password: 'fallback' });
    expect(lookupPassfile(passfile('*:5432:*:deploy:p1\n'), target)).toEqual({ password: 'p1' });
    expect(lookupPassfile(passfile('other:5432:*:deploy:p1\n'), target)).toEqual({});
  });

  it('backslash escapes : and \\ in every field; the password ends at an unescaped colon; CRLF files work', () => {
    const file = passfile('db.internal:5432:app:de\\:ploy:p\\:w\\\\d:ignored\r\n');
    expect(lookupPassfile(passfile('*:*:*:*:pw\r\r\n'), target)).toEqual({ password: 'pw' });
    expect(lookupPassfile(file, { ...target, user: 'de:ploy' })).toEqual({ password: 'p:w\\d' });
    // An escaped * is a literal star, not a wildcard.
    expect(lookupPassfile(passfile('\\*:5432:app:deploy:star\n'), target)).toEqual({});
    expect(lookupPassfile(passfile('\\*:5432:app:deploy:star\n'), { ...target, host: '*' })).toEqual({ password: 'star' });
    // An empty password is a password.
    expect(lookupPassfile(passfile('*:*:*:*:\n'), target)).toEqual({ password: '' });
  });

  it('a socket in the default socket directory is localhost, and only that (as libpq); any other socket is matched as written', () => {
    const file = passfile('/tmp:5432:app:deploy:by-dir\nlocalhost:5432:app:deploy:local\n/srv/pg:5432:app:deploy:srv\n');
    expect(lookupPassfile(file, { ...target, host: '/var/run/postgresql' })).toEqual({ password: 'local' });
    expect(lookupPassfile(file, { ...target, host: '/tmp' })).toEqual({ password: 'local' });
    expect(lookupPassfile(file, { ...target, host: '/srv/pg' })).toEqual({ password: 'srv' });
    expect(lookupPassfile(file, { ...target, host: '/srv/other' })).toEqual({});
  });

  it('no file is no password, silently; a group- or world-readable file or a directory is not read, with a warning', () => {
    expect(lookupPassfile(path.join(tempDir('strata-pgpass-'), 'missing'), target)).toEqual({});
    const open = passfile('*:*:*:*:leaked\n', 0o640);
    expect(lookupPassfile(open, target)).toEqual({ warning: `password file "${open}" has group or world access; permissions should be u=rw (0600) or less; not using it` });
    const dir = tempDir('strata-pgpass-');
    expect(lookupPassfile(dir, target)).toEqual({ warning: `password file "${dir}" is not a plain file; not using it` });
  });
});

describe("withLibpqEnvironment: libpq's variables for what the URL leaves out", () => {
  const file = passfile('*:*:*:*:from-file\n');
  const apply = (url: string, env: ConnectionEnv) => withLibpqEnvironment(parseDatabaseUrl(url), env);

  it('password: the URL, else PGPASSWORD, else the password file (URL passfile, else PGPASSFILE)', () => {
    expect(apply('postgres://u:url@h/d', { PGPASSWORD: 'env', PGPASSFILE: file })).toMatchObject({ password: 'url' });
    expect(apply('postgres://u:url@h/d', { PGPASSFILE: file }).passwordFrom).toBeUndefined();
    expect(apply('postgres://u@h/d', { PGPASSWORD: 'env', PGPASSFILE: file })).toMatchObject({ password: 'env' });
    expect(apply('postgres://u@h/d', { PGPASSFILE: file })).toMatchObject({ password: 'from-file', passwordFrom: file, passfile: file });
    const other = passfile('*:*:*:*:from-url-file\n');
    expect(apply(`postgres://u@h/d?passfile=${encodeURIComponent(other)}`, { PGPASSFILE: file })).toMatchObject({ password: 'from-url-file', passwordFrom: other });
    // An empty PGPASSWORD is no password, as in libpq.
    expect(apply('postgres://u@h/d', { PGPASSWORD: '', PGPASSFILE: file })).toMatchObject({ password: 'from-file' });
    const none = apply('postgres://u@h/d', { PGPASSFILE: path.join(tempDir('strata-pgpass-'), 'missing') });
    expect(none.password).toBeUndefined();
    expect(none.passwordFrom).toBeUndefined();
  });

  it('connect timeout: the URL, else PGCONNECT_TIMEOUT; zero or negative is no limit, 1 is 2 (libpq)', () => {
    expect(apply('postgres://h/d?connect_timeout=7', { PGCONNECT_TIMEOUT: '3' }).connectTimeoutSeconds).toBe(7);
    expect(apply('postgres://h/d', { PGCONNECT_TIMEOUT: '3' }).connectTimeoutSeconds).toBe(3);
    expect(apply('postgres://h/d', { PGCONNECT_TIMEOUT: '1' }).connectTimeoutSeconds).toBe(2);
    expect(apply('postgres://h/d', { PGCONNECT_TIMEOUT: '-5' }).connectTimeoutSeconds).toBe(0);
    expect(apply('postgres://h/d?connect_timeout=0', {}).connectTimeoutSeconds).toBe(0);
    expect(apply('postgres://h/d', { PGCONNECT_TIMEOUT: '' }).connectTimeoutSeconds).toBeUndefined();
    expect(() => apply('postgres://h/d', { PGCONNECT_TIMEOUT: '10s' })).toThrow(UsageError);
  });

  it('application_name: the URL, else PGAPPNAME; every source of a connection gets them', () => {
    expect(apply('postgres://h/d?application_name=url', { PGAPPNAME: 'env' }).params.application_name).toBe('url');
    expect(apply('postgres://h/d', { PGAPPNAME: 'env' }).params.application_name).toBe('env');
    const libpq = resolveConnection({ interactive: false }, { PGHOST: 'h', PGAPPNAME: 'env', PGCONNECT_TIMEOUT: '4', PGPASSFILE: file });
    expect(libpq).toMatchObject({ kind: 'server', source: 'libpq', parts: { password: 'from-file', connectTimeoutSeconds: 4, params: { application_name: 'env' } } });
  });
});
