/**
 * SQL files that are not UTF-8 (SPEC §3): refused with file, line and byte before anything runs
 * (exit 2), shown by `status` with their state and a warning, checksummed over their bytes; a
 * UTF-8 byte-order mark is accepted as psql accepts it.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { catalogSnapshot, historyRows } from '../support/catalog.js';
import { runCli } from '../support/cli.js';
import { withTestDatabase, type TestDatabase } from '../support/database.js';
import { writeMigrations } from '../support/migrations.js';

const cliFor = (db: TestDatabase, dir: string) => (...args: string[]) =>
  runCli(['--migrations', dir, ...args], { env: { DATABASE_URL: db.url } });

const latin1 = (text: string) => Buffer.from(text, 'latin1');
const sha256 = (bytes: Buffer) => crypto.createHash('sha256').update(bytes).digest('hex');

describe('a SQL file that is not valid UTF-8', () => {
  it('is refused by up and plan (exit 2, file:line and byte) before anything runs; status shows it and warns', () => withTestDatabase(async (db) => {
    const dir = writeMigrations({ '001_ok': { up: 'CREATE TABLE ok (id int);\n' }, '002_latin1': { up: 'x' } });
    const file = path.join(dir, '002_latin1', 'up.sql');
    fs.writeFileSync(file, latin1("CREATE TABLE l (t text);\r\n-- caf\xe9\r\nINSERT INTO l VALUES ('caf\xe9');\r\n"));
    const cli = cliFor(db, dir);
    const before = await catalogSnapshot(db.sql);
    const where = `${path.join('002_latin1', 'up.sql')}:2: not valid UTF-8 (byte 0xe9)`;
    for (const args of [['up'], ['up', '--dry-run'], ['plan']]) {
      const result = await cli(...args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toContain(`error: ${where}`);
    }
    // Nothing ran: not 001_ok, not even the history table.
    expect(await catalogSnapshot(db.sql)).toBe(before);

    const status = await cli('status', '--json');
    expect(status.code).toBe(0);
    expect(status.stderr).toContain(`warning: ${where}`);
    const rows = status.json<{ migrations: { name: string; state: string; checksum: string }[] }>().migrations;
    expect(rows.map((m) => [m.name, m.state])).toEqual([['001_ok', 'pending'], ['002_latin1', 'pending']]);
    // SPEC §3: the SHA-256 of the file with CRLF normalised to LF — its bytes, as sha256sum sees them.
    expect(rows[1]!.checksum).toBe(sha256(latin1("CREATE TABLE l (t text);\n-- caf\xe9\nINSERT INTO l VALUES ('caf\xe9');\n")));

    // Applied before it was broken: the byte edit shows as a change, the rollback still works.
    fs.writeFileSync(file, "CREATE TABLE l (t text);\n-- café\nINSERT INTO l VALUES ('café');\n");
    fs.writeFileSync(path.join(dir, '002_latin1', 'down.sql'), 'DROP TABLE l;\n');
    expect((await cli('up')).code).toBe(0);
    fs.writeFileSync(file, latin1("CREATE TABLE l (t text);\n-- caf\xe9\nINSERT INTO l VALUES ('caf\xe9');\n"));
    const changed = await cli('status', '--json');
    expect(changed.json<{ migrations: { state: string }[] }>().migrations.map((m) => m.state)).toEqual(['applied', 'changed']);
    expect((await historyRows(db.sql)).map((r) => r.name)).toEqual(['001_ok', '002_latin1']);
  }));

  it('down.sql and verify.sql are refused where they are read (rollback, verify), with nothing reverted', () => withTestDatabase(async (db) => {
    const dir = writeMigrations({
      '001_a': { up: 'CREATE TABLE a (id int);\n', down: 'x', verify: 'x' },
    });
    fs.writeFileSync(path.join(dir, '001_a', 'down.sql'), Buffer.concat([Buffer.from('-- ok\n'), Buffer.from([0xc3, 0x28]), Buffer.from('\nDROP TABLE a;\n')]));
    fs.writeFileSync(path.join(dir, '001_a', 'verify.sql'), Buffer.concat([Buffer.from('-- check: \xff\n', 'latin1'), Buffer.from('SELECT 1 WHERE false;\n')]));
    const cli = cliFor(db, dir);
    expect((await cli('up')).code).toBe(0);
    const down = await cli('down', '--yes');
    expect(down.code).toBe(2);
    expect(down.stderr).toContain(`error: ${path.join('001_a', 'down.sql')}:2: not valid UTF-8 (byte 0xc3)`);
    expect((await db.sql`SELECT to_regclass('a') AS t`)[0]!.t).toBe('a');
    const verify = await cli('verify');
    expect(verify.code).toBe(2);
    expect(verify.stderr).toContain(`error: ${path.join('001_a', 'verify.sql')}:1: not valid UTF-8 (byte 0xff)`);
  }));
});

describe('a UTF-8 byte-order mark', () => {
  it('is accepted as psql accepts it; the checksum is the file\'s, BOM included', () => withTestDatabase(async (db) => {
    const text = '\ufeffCREATE TABLE bom (id int);\r\nINSERT INTO bom VALUES (1);\r\n';
    const dir = writeMigrations({ '001_bom': { up: text, down: '\ufeffDROP TABLE bom;\n' } });
    const cli = cliFor(db, dir);
    const result = await cli('up', '--json');
    expect(result.code, result.stderr).toBe(0);
    expect(result.json<{ steps: { statements: { sql: string }[] }[] }>().steps[0]!.statements[0]!.sql).toBe('CREATE TABLE bom (id int)');
    expect((await historyRows(db.sql))[0]!.checksum).toBe(sha256(Buffer.from(text.replace(/\r\n/g, '\n'), 'utf8')));
    expect((await cli('down', '--yes')).code).toBe(0);
  }));
});
