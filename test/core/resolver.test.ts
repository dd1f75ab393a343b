import fc from 'fast-check';
import { isUtf8 } from 'node:buffer';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checksumOf, compareMigrations, firstInvalidUtf8, resolveMigrations } from '../../src/core/resolver.js';
import { UsageError } from '../../src/errors.js';
import { tempDir, writeMigrations } from '../support/migrations.js';

describe('resolveMigrations', () => {
  it('orders by number numerically and reads every file up front', async () => {
    const dir = writeMigrations({
      '010_ten': { up: 'SELECT 10;' },
      '002_two': { up: 'SELECT 2;', down: 'SELECT -2;', verify: '-- check: x\nSELECT 1 WHERE false;' },
      '1000_thousand': { up: 'SELECT 1000;' },
      '003_module.js': 'export async function up() {}\n',
      'README.md': 'not a migration',
    });
    const migrations = await resolveMigrations(dir);
    expect(migrations.map((m) => m.name)).toEqual(['002_two', '003_module', '010_ten', '1000_thousand']);
    const two = migrations[0]!;
    expect(two).toMatchObject({ phase: 'two', number: '002', kind: 'sql' });
    expect(two.down?.text).toBe('SELECT -2;');
    expect(two.verify?.displayPath).toBe(path.join('002_two', 'verify.sql'));
    expect(migrations[1]).toMatchObject({ kind: 'module', phase: 'module' });
  });

  it('checksums up.sql with CRLF normalised to LF (SPEC §3)', async () => {
    const lf = writeMigrations({ '001_a': { up: 'CREATE TABLE a (id int);\nSELECT 1;\n' } });
    const crlf = writeMigrations({ '001_a': { up: 'CREATE TABLE a (id int);\r\nSELECT 1;\r\n' } });
    const [a] = await resolveMigrations(lf);
    const [b] = await resolveMigrations(crlf);
    expect(a!.checksum).toBe(b!.checksum);
    expect(a!.checksum).toBe(checksumOf('CREATE TABLE a (id int);\nSELECT 1;\n'));
    expect(a!.checksum).toMatch(/^[0-9a-f]{64}$/);
  });

  it('rejects two migrations with the same number, naming both', async () => {
    const dir = writeMigrations({ '001_a': { up: 'SELECT 1;' }, '0001_b': { up: 'SELECT 1;' } });
    await expect(resolveMigrations(dir)).rejects.toThrow(/number .*001_a.*0001_b|number .*0001_b.*001_a/);
  });

  it('rejects two migrations with the same phase name, naming both', async () => {
    const dir = writeMigrations({ '001_users': { up: 'SELECT 1;' }, '002_users.js': 'export function up() {}' });
    const error = await resolveMigrations(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as Error).message).toContain('001_users');
    expect((error as Error).message).toContain('002_users.js');
  });

  it.each([
    ['001_Add Users', 'a name with spaces and capitals'],
    ['001_añadir', 'unicode'],
    ['001_x.sql', 'a flat SQL file'],
    ['12_short', 'fewer than three digits'],
  ])('rejects %s (%s) with exit 2', async (name) => {
    const dir = tempDir();
    if (name.endsWith('.sql')) fs.writeFileSync(path.join(dir, name), 'SELECT 1;');
    else writeMigrations({ [name]: { up: 'SELECT 1;' } }, dir);
    const error = await resolveMigrations(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).exitCode).toBe(2);
  });

  it('rejects a migration directory without up.sql', async () => {
    const dir = tempDir();
    fs.mkdirSync(path.join(dir, '001_empty'));
    await expect(resolveMigrations(dir)).rejects.toThrow('001_empty has no up.sql');
  });

  it('rejects symbolic links that point outside the migrations directory', async () => {
    const outside = writeMigrations({ '001_evil': { up: 'DROP TABLE users;' } });
    const dir = tempDir();
    fs.symlinkSync(path.join(outside, '001_evil'), path.join(dir, '001_evil'));
    await expect(resolveMigrations(dir)).rejects.toThrow(/symbolic link pointing outside/);
    const inner = writeMigrations({ '001_ok': { up: 'SELECT 1;' } });
    fs.symlinkSync('/etc/hostname', path.join(inner, '001_ok', 'down.sql'));
    await expect(resolveMigrations(inner)).rejects.toThrow(/outside the migrations directory/);
  });

  it('accepts symbolic links inside the directory', async () => {
    const dir = writeMigrations({ '001_a': { up: 'SELECT 1;' } });
    fs.symlinkSync(path.join(dir, '001_a', 'up.sql'), path.join(dir, '001_a', 'down.sql'));
    const [m] = await resolveMigrations(dir);
    expect(m!.down?.text).toBe('SELECT 1;');
  });

  it('reports a missing directory as a usage error', async () => {
    await expect(resolveMigrations('/nonexistent/strata')).rejects.toBeInstanceOf(UsageError);
  });

  it('builds the same paths as path.join and path.relative, however the directory is spelled', async () => {
    const dir = writeMigrations({ '001_a': { up: 'SELECT 1;', down: 'SELECT 2;', verify: '-- check: x\nSELECT 1 WHERE false;' }, '002_b.js': 'export function up() {}' });
    const parent = path.dirname(dir);
    const spellings = [dir, `${dir}/`, `${dir}//`, path.join(dir, '..', path.basename(dir)), path.relative(process.cwd(), dir) || '.'];
    for (const spelling of spellings) {
      const [a, b] = await resolveMigrations(spelling);
      expect(a!.path).toBe(path.join(spelling, '001_a'));
      expect(a!.up!.path).toBe(path.join(spelling, '001_a', 'up.sql'));
      expect(a!.up!.displayPath).toBe(path.relative(spelling, path.join(spelling, '001_a', 'up.sql')));
      expect(a!.down!.path).toBe(path.join(spelling, '001_a', 'down.sql'));
      expect(a!.verify!.displayPath).toBe(path.join('001_a', 'verify.sql'));
      expect(b!.path).toBe(path.join(spelling, '002_b.js'));
    }
    const cwd = process.cwd();
    try {
      process.chdir(dir);
      const [a] = await resolveMigrations('.');
      expect(a!.path).toBe('001_a');
      expect(a!.up!.path).toBe(path.join('001_a', 'up.sql'));
      process.chdir(parent);
      const [b] = await resolveMigrations(path.basename(dir));
      expect(b!.up!.path).toBe(path.join(path.basename(dir), '001_a', 'up.sql'));
    } finally {
      process.chdir(cwd);
    }
  });

  it('orders numbers as BigInt does, leading zeros and all', () => {
    const digits = fc.stringMatching(/^\d{3,25}$/);
    fc.assert(fc.property(digits, digits, fc.constantFrom('a', 'b'), fc.constantFrom('a', 'b'), (x, y, p, q) => {
      const a = { number: x, name: `${x}_${p}` };
      const b = { number: y, name: `${y}_${q}` };
      const byValue = BigInt(x) < BigInt(y) ? -1 : BigInt(x) > BigInt(y) ? 1 : 0;
      const byName = a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
      expect(compareMigrations(a, b)).toBe(byValue || byName);
    }));
  });

  it('sorts a shuffled directory by number, 0999 before 1000 before 01001', async () => {
    const names = ['0999_a', '1000_b', '01001_c', '002_d', '0000000003_e', '010_f'];
    const dir = writeMigrations(Object.fromEntries(names.map((n) => [n, { up: `SELECT '${n}';` }])));
    expect((await resolveMigrations(dir)).map((m) => m.name)).toEqual(['002_d', '0000000003_e', '010_f', '0999_a', '1000_b', '01001_c']);
  });

  it('checksums the bytes of a file that is not UTF-8: what sha256sum prints for its LF version', async () => {
    const sha256 = (bytes: Buffer) => crypto.createHash('sha256').update(bytes).digest('hex');
    const dir = writeMigrations({ '001_a': { up: 'x' }, '002_b.js': 'x' });
    const latin1 = Buffer.from("-- caf\xe9\r\nINSERT INTO t VALUES ('\xe9');\r\n", 'latin1');
    fs.writeFileSync(path.join(dir, '001_a', 'up.sql'), latin1);
    fs.writeFileSync(path.join(dir, '002_b.js'), Buffer.concat([Buffer.from('// \xff\r\r\n', 'latin1'), Buffer.from('export function up() {}\r\n')]));
    const [a, b] = await resolveMigrations(dir);
    const lf = Buffer.from("-- caf\xe9\nINSERT INTO t VALUES ('\xe9');\n", 'latin1');
    expect(a!.checksum).toBe(sha256(lf));
    expect(b!.checksum).toBe(sha256(Buffer.concat([Buffer.from('// \xff\r\n', 'latin1'), Buffer.from('export function up() {}\n')])));
    // Editing one invalid byte into another is a change (decoding both to U+FFFD hid it).
    fs.writeFileSync(path.join(dir, '001_a', 'up.sql'), Buffer.from(latin1.toString('latin1').replace('\xe9', '\xe8'), 'latin1'));
    const [edited] = await resolveMigrations(dir);
    expect(edited!.checksum).not.toBe(a!.checksum);
  });

  it('keeps the checksum of UTF-8 text as it was (bytes and text hash alike), BOM included', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary' }), fc.boolean(), (text, bom) => {
      const content = (bom ? '\ufeff' : '') + text;
      expect(checksumOf(Buffer.from(content, 'utf8'))).toBe(checksumOf(content));
    }), { numRuns: 500 });
  });

  it('a file that is not UTF-8 is read without error, and refused where its text is needed: file, line and byte (exit 2)', async () => {
    const dir = writeMigrations({ '001_a': { up: 'SELECT 1;\n' } });
    fs.writeFileSync(path.join(dir, '001_a', 'up.sql'), Buffer.concat([Buffer.from('SELECT 1;\n-- caf\u00e9\n', 'utf8'), Buffer.from("SELECT 'caf\xe9';\n", 'latin1')]));
    fs.writeFileSync(path.join(dir, '001_a', 'down.sql'), Buffer.from([0x53, 0x0a, 0xc0, 0x80, 0x0a]));
    const [m] = await resolveMigrations(dir);
    const error = (read: () => string) => { try { read(); } catch (e) { return e; } return undefined; };
    const up = error(() => m!.up!.text);
    expect(up).toBeInstanceOf(UsageError);
    expect((up as UsageError).message).toBe(`${path.join('001_a', 'up.sql')}:3: not valid UTF-8 (byte 0xe9)`);
    expect(m!.up!.encodingError).toBe((up as UsageError).message);
    expect((error(() => m!.down!.text) as UsageError).message).toBe(`${path.join('001_a', 'down.sql')}:2: not valid UTF-8 (byte 0xc0)`);
  });

  it('drops a leading UTF-8 BOM from the text, as psql does', async () => {
    const dir = writeMigrations({ '001_a': { up: '\ufeffSELECT 1;\n', down: 'SELECT \ufeff1;\n' } });
    const [m] = await resolveMigrations(dir);
    expect(m!.up!.text).toBe('SELECT 1;\n');
    expect(m!.down!.text).toBe('SELECT \ufeff1;\n'); // only a leading one is a byte-order mark
    expect(m!.checksum).toBe(checksumOf('\ufeffSELECT 1;\n'));
  });

  it('firstInvalidUtf8 agrees with buffer.isUtf8 and points at the first byte that breaks it', () => {
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 24 }),
      fc.string({ unit: 'binary', maxLength: 12 }).map((s) => new Uint8Array(Buffer.from(s, 'utf8'))),
      fc.tuple(fc.string({ unit: 'binary', maxLength: 6 }), fc.uint8Array({ minLength: 1, maxLength: 3 }), fc.string({ unit: 'binary', maxLength: 6 }))
        .map(([a, junk, b]) => new Uint8Array(Buffer.concat([Buffer.from(a, 'utf8'), junk, Buffer.from(b, 'utf8')]))),
    );
    fc.assert(fc.property(bytes, (b) => {
      const at = firstInvalidUtf8(b);
      expect(at === -1).toBe(isUtf8(b));
      if (at >= 0) {
        expect(isUtf8(b.subarray(0, at))).toBe(true);
        // Byte `at` starts no valid sequence: no prefix that takes it in is valid UTF-8.
        for (let end = at + 1; end <= Math.min(b.length, at + 4); end++) expect(isUtf8(b.subarray(0, end))).toBe(false);
      }
    }), { numRuns: 3000 });
    for (const [hex, at] of [['ff', 0], ['41c3', 1], ['41c328', 1], ['eda080', 0], ['f4908080', 0], ['e08080', 0], ['c0af', 0], ['f09f9880', -1]] as const) {
      expect(firstInvalidUtf8(Buffer.from(hex, 'hex')), hex).toBe(at);
    }
  });
});
