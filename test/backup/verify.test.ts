import fs from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createBackup, planRestore, restoreBackup, verifyBackup } from '../../src/backup/index.js';
import { IntegrityError } from '../../src/errors.js';
import { useDatabase } from '../support/database.js';
import { backupOptions, snapshot, tempDir } from './helpers.js';

const db = useDatabase();
const FILE = 'public.notes.csv';

beforeAll(async () => {
  await db.current.sql.unsafe(`
    CREATE TABLE notes (id int PRIMARY KEY, body text);
    INSERT INTO notes SELECT g, 'note ' || g || E'\\nwith, "quotes"' FROM generate_series(1, 50) g;
    CREATE TABLE tags (id int PRIMARY KEY, tag text);
    INSERT INTO tags VALUES (1, 'a');`);
});

/** A fresh backup of notes and tags whose files a test may damage. */
async function freshBackup(): Promise<string> {
  const { dir } = await createBackup(db.current.sql, ['notes', 'tags'], backupOptions(await tempDir()));
  return dir;
}

/** Damages the backup, then checks that verify and restore fail with exit 5 and nothing is loaded. */
async function expectIntegrityFailure(damage: (dir: string) => Promise<void>, message: RegExp): Promise<void> {
  const dir = await freshBackup();
  await damage(dir);
  await expect(verifyBackup(dir)).rejects.toSatisfy((e: unknown) => e instanceof IntegrityError && e.exitCode === 5 && message.test(e.message));
  await expect(planRestore(db.current.sql, dir)).rejects.toMatchObject({ exitCode: 5 });
  const sql = db.current.sql;
  await sql`TRUNCATE notes, tags`;
  try {
    await expect(restoreBackup(sql, dir)).rejects.toMatchObject({ exitCode: 5 });
    expect(await snapshot(sql, 'public', 'notes')).toEqual([]);
    expect(await snapshot(sql, 'public', 'tags')).toEqual([]);
  } finally {
    await restoreBackup(sql, pristine as string); // the original rows, for the next test
  }
}

/** An intact backup of the original rows. */
let pristine: string | undefined;

describe('verifyBackup', () => {
  beforeAll(async () => { pristine = await freshBackup(); });

  it('accepts an intact backup, with the full csv-parse check too', async () => {
    const { manifest } = await verifyBackup(pristine as string, { full: true });
    expect(manifest.tables.map((t) => [t.table, t.rows])).toEqual([['public.notes', 50], ['public.tags', 1]]);
  });

  it('fails on one changed byte', async () => {
    await expectIntegrityFailure(async (dir) => {
      const file = path.join(dir, FILE);
      const bytes = await fs.readFile(file);
      bytes.writeUInt8((bytes.at(-10) ?? 0) ^ 0x01, bytes.length - 10);
      await fs.writeFile(file, bytes);
    }, /public\.notes\.csv \(table public\.notes\): SHA-256 is [0-9a-f]{64}, the manifest says/);
  });

  it('fails on a truncated file', async () => {
    await expectIntegrityFailure(async (dir) => {
      const file = path.join(dir, FILE);
      await fs.truncate(file, (await fs.stat(file)).size - 7);
    }, /public\.notes\.csv .*bytes, the manifest says \d+ \(truncated\?\)/);
  });

  it('fails on a deleted file', async () => {
    await expectIntegrityFailure((dir) => fs.rm(path.join(dir, FILE)), /public\.notes\.csv is missing \(table public\.notes\)/);
  });

  it('fails on a wrong row count in the manifest', async () => {
    await expectIntegrityFailure(async (dir) => {
      const file = path.join(dir, 'manifest.json');
      const manifest = JSON.parse(await fs.readFile(file, 'utf8'));
      manifest.tables[0].rows = 49;
      await fs.writeFile(file, JSON.stringify(manifest));
    }, /public\.notes\.csv \(table public\.notes\): 50 rows, the manifest says 49/);
  });

  it('fails on a CSV file the manifest does not list', async () => {
    await expectIntegrityFailure((dir) => fs.writeFile(path.join(dir, 'public.extra.csv'), 'id\n1\n'), /CSV files the manifest does not list: public\.extra\.csv/);
  });

  it('fails on a manifest that is not valid', async () => {
    await expectIntegrityFailure(async (dir) => {
      const file = path.join(dir, 'manifest.json');
      const manifest = JSON.parse(await fs.readFile(file, 'utf8'));
      manifest.tables[1].sha256 = 'not a hash';
      await fs.writeFile(file, JSON.stringify(manifest));
    }, /not a valid manifest at tables\.1\.sha256/);
    await expectIntegrityFailure((dir) => fs.writeFile(path.join(dir, 'manifest.json'), '{"createdAt": '), /is not valid JSON/);
  });

  it('never follows a manifest outside its directory', async () => {
    await expectIntegrityFailure(async (dir) => {
      const file = path.join(dir, 'manifest.json');
      const manifest = JSON.parse(await fs.readFile(file, 'utf8'));
      manifest.tables[1].file = '../../../etc/passwd';
      await fs.writeFile(file, JSON.stringify(manifest));
    }, /names file "\.\.\/\.\.\/\.\.\/etc\/passwd", expected "public\.tags\.csv"/);
  });

  it('reports damage as damage (exit 5) even when the server rejects the bytes first, and keeps the rows a truncate would remove', async () => {
    const sql = db.current.sql;
    const dir = await freshBackup();
    const file = path.join(dir, FILE);
    const text = await fs.readFile(file, 'utf8');
    await fs.writeFile(file, text.replace('\n1,', '\nx,')); // same size; the id is no integer any more
    const before = await snapshot(sql, 'public', 'notes');
    await expect(restoreBackup(sql, dir, { truncate: true })).rejects.toMatchObject({ exitCode: 5, message: expect.stringMatching(/SHA-256/) });
    expect(await snapshot(sql, 'public', 'notes')).toEqual(before);
  });

  it('accepts a manifest that has only the SPEC fields', async () => {
    const dir = await freshBackup();
    const file = path.join(dir, 'manifest.json');
    const manifest = JSON.parse(await fs.readFile(file, 'utf8'));
    for (const t of manifest.tables) { delete t.schema; delete t.name; delete t.file; }
    delete manifest.formatVersion;
    await fs.writeFile(file, JSON.stringify(manifest));
    await expect(verifyBackup(dir)).resolves.toBeDefined();
  });
});
