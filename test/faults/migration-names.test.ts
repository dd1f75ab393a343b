/**
 * Hostile input: the migrations directory (issue 9, SPEC §3). Entries whose names are not exactly
 * `NNN_name` (spaces, unicode, `..`, capitals, punctuation, too few digits) and symbolic links that
 * point outside the directory, dangle or loop are rejected with exit 2 naming the entry — before
 * anything connects or writes. (Entries starting with a dot are hidden and ignored, like `.git`.)
 */
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { createDatabase, dropDatabase, type TestDatabase } from '../support/database.js';
import { tempDir } from '../support/migrations.js';
import { CRASH } from './support/faults.js';
import { runs } from './support/property.js';

let db: TestDatabase;
let work: string;
beforeAll(async () => {
  db = await createDatabase('strata_names');
  work = tempDir('strata-names-');
});
afterAll(async () => {
  await dropDatabase(db);
  fs.rmSync(work, { recursive: true, force: true });
});

const VALID = /^\d{3,}_[a-z0-9_]+$/;

/** A migrations directory holding one good migration plus whatever `build` adds. */
function migrationsWith(build: (dir: string) => void): string {
  const dir = fs.mkdtempSync(path.join(work, 'm-'));
  fs.mkdirSync(path.join(dir, '001_good'));
  fs.writeFileSync(path.join(dir, '001_good', 'up.sql'), 'CREATE TABLE good (id int);\n');
  build(dir);
  return dir;
}

async function expectRejected(dir: string, mentions: string, command: string[] = ['status']) {
  const result = await runCli(['--migrations', dir, ...command], { cwd: work, env: { DATABASE_URL: db.url } });
  const context = `entry ${JSON.stringify(mentions)}: exit ${String(result.code)}\n${result.stderr}`;
  expect(result.code, context).toBe(2);
  expect(result.stderr, context).not.toMatch(CRASH);
  expect(result.stderr, context).toContain(mentions);
  fs.rmSync(dir, { recursive: true, force: true });
}

// Characters a careless or hostile name may hold (no '/' or NUL: no file system takes them).
const PIECES = ['a', 'z', '0', '_', ' ', '..', '.', 'é', 'É', 'A', 'Z', '-', '\u00a0', '\u202e', 'ß', 'ﬁ', '😀', '\t', '$', "'", '"', '*', '?', '\\', ':', '%'];

const badName = fc.tuple(
  fc.constantFrom('001', '01', '1', '0001', '12345', ''),
  fc.constantFrom('_', '', ' ', '-', '..'),
  fc.array(fc.constantFrom(...PIECES), { minLength: 0, maxLength: 8 }).map((p) => p.join('')),
).map(([digits, sep, rest]) => `${digits}${sep}${rest}`)
  // Must look like an attempt at a migration (a directory, or a file starting with a digit), must not be valid, must not be hidden.
  .filter((name) => name.length > 0 && !VALID.test(name) && !name.startsWith('.') && name !== '..' && Buffer.byteLength(name) < 200);

describe('migration directory names', () => {
  it('random invalid names of directories are exit 2, naming the entry', async () => {
    await fc.assert(fc.asyncProperty(badName, async (name) => {
      const dir = migrationsWith((d) => {
        fs.mkdirSync(path.join(d, name));
        fs.writeFileSync(path.join(d, name, 'up.sql'), 'CREATE TABLE bad (id int);\n');
      });
      await expectRejected(dir, name);
    }), runs(60));
  });

  it('random invalid names of files that start with a digit (flat .sql, odd modules) are exit 2', async () => {
    const fileName = fc.tuple(badName.filter((n) => /^\d/.test(n)), fc.constantFrom('.sql', '.ts', '.js', '', '.SQL', '.up.sql'))
      .map(([name, ext]) => `${name}${ext}`)
      .filter((name) => !/^\d{3,}_[a-z0-9_]+\.(ts|js|mjs)$/.test(name));
    await fc.assert(fc.asyncProperty(fileName, async (name) => {
      const dir = migrationsWith((d) => fs.writeFileSync(path.join(d, name), 'SELECT 1;\n'));
      await expectRejected(dir, name);
    }), runs(30));
  });

  it('nothing runs: `up` with an invalid entry is exit 2 and creates not even the history table', async () => {
    const dir = migrationsWith((d) => {
      fs.mkdirSync(path.join(d, '002_bad name'));
      fs.writeFileSync(path.join(d, '002_bad name', 'up.sql'), 'SELECT 1;\n');
    });
    await expectRejected(dir, '002_bad name', ['up', '--yes']);
    expect(await db.sql`SELECT to_regclass('schema_migrations') AS t, to_regclass('good') AS g`).toEqual([{ t: null, g: null }]);
  });

  describe('symbolic links', () => {
    let outside: string;
    beforeAll(() => {
      outside = tempDir('strata-outside-');
      fs.mkdirSync(path.join(outside, '002_elsewhere'));
      fs.writeFileSync(path.join(outside, '002_elsewhere', 'up.sql'), 'DROP TABLE good;\n');
      fs.writeFileSync(path.join(outside, 'evil.sql'), 'DROP TABLE good;\n');
    });
    afterAll(() => fs.rmSync(outside, { recursive: true, force: true }));

    const cases: [string, string, (dir: string) => void][] = [
      ['a migration directory linked outside (absolute)', '002_linked', (d) => fs.symlinkSync(path.join(outside, '002_elsewhere'), path.join(d, '002_linked'))],
      ['a migration directory linked outside (relative, through ..)', '002_linked', (d) => fs.symlinkSync(path.relative(d, path.join(outside, '002_elsewhere')), path.join(d, '002_linked'))],
      ['up.sql linked outside', 'up.sql', (d) => { fs.mkdirSync(path.join(d, '002_x')); fs.symlinkSync(path.join(outside, 'evil.sql'), path.join(d, '002_x', 'up.sql')); }],
      ['down.sql linked outside', 'down.sql', (d) => { fs.symlinkSync(path.join(outside, 'evil.sql'), path.join(d, '001_good', 'down.sql')); }],
      ['verify.sql linked outside', 'verify.sql', (d) => { fs.symlinkSync(path.join(outside, 'evil.sql'), path.join(d, '001_good', 'verify.sql')); }],
      ['a module linked outside', '002_module.js', (d) => { fs.symlinkSync(path.join(outside, 'evil.sql'), path.join(d, '002_module.js')); }],
      ['a dangling link as a migration', '002_dangling', (d) => fs.symlinkSync(path.join(outside, 'no-such-dir'), path.join(d, '002_dangling'))],
      ['a dangling up.sql', 'up.sql', (d) => { fs.mkdirSync(path.join(d, '002_x')); fs.symlinkSync(path.join(outside, 'no-such-file'), path.join(d, '002_x', 'up.sql')); }],
      ['a link loop', '002_loop', (d) => fs.symlinkSync('002_loop', path.join(d, '002_loop'))],
    ];
    for (const [title, mentions, build] of cases) {
      it(`${title}: exit 2`, async () => {
        await expectRejected(migrationsWith(build), mentions);
      });
    }

    it('a link that stays inside the directory is fine', async () => {
      const dir = migrationsWith((d) => {
        fs.mkdirSync(path.join(d, '.shared'));
        fs.writeFileSync(path.join(d, '.shared', 'down.sql'), 'DROP TABLE good;\n');
        fs.symlinkSync(path.join('..', '.shared', 'down.sql'), path.join(d, '001_good', 'down.sql'));
      });
      const result = await runCli(['--migrations', dir, 'status', '--json'], { cwd: work, env: { DATABASE_URL: db.url } });
      expect(result.code, result.stderr).toBe(0);
    });
  });
});
