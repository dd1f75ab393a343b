/**
 * Hostile input: table and schema names (issue 9, SPEC §6). Random names with quotes, dots, spaces,
 * backslashes, commas, newlines, unicode and upper case round-trip through `migrate backup` and
 * `migrate restore`, value for value — the name travels as an SQL-quoted reference on the command
 * line, into the manifest, into a file name, and back.
 */
import fs from 'node:fs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quoteIdent, quoteQualified } from '../../src/db/quote.js';
import { runCli } from '../support/cli.js';
import { createDatabase, dropDatabase, type TestDatabase } from '../support/database.js';
import { tempDir } from '../support/migrations.js';
import { CRASH } from './support/faults.js';
import { runs } from './support/property.js';

let db: TestDatabase;
let work: string;
beforeAll(async () => {
  db = await createDatabase('strata_roundtrip');
  work = tempDir('strata-roundtrip-');
});
afterAll(async () => {
  await dropDatabase(db);
  fs.rmSync(work, { recursive: true, force: true });
});

const PIECES = ['a', 'b', 'Z', '_', '.', '..', ' ', '"', '""', "'", '\\', ',', '\n', 'é', 'ß', '😀', '\u00a0', '$', '-', '%', 'public', 'pg'];

/** An identifier PostgreSQL keeps whole (at most 63 bytes, no NUL) and that is not reserved (pg_*). */
const identifier = fc.array(fc.constantFrom(...PIECES), { minLength: 1, maxLength: 6 })
  .map((p) => p.join(''))
  .filter((name) => Buffer.byteLength(name) <= 63 && !name.startsWith('pg_'));

/** The SQL-quoted form a user types: `"my ""schema"".x"."ta.ble"`. */
const quoted = (schema: string, table: string) => `"${schema.replace(/"/g, '""')}"."${table.replace(/"/g, '""')}"`;

async function snapshot(qualified: string): Promise<string[]> {
  return (await db.sql.unsafe<{ r: string }[]>(`SELECT x::text AS r FROM ${qualified} x ORDER BY 1`)).map((row) => row.r);
}

describe('table and schema names', () => {
  it('round-trip through backup and restore, value for value', async () => {
    let n = 0;
    await fc.assert(fc.asyncProperty(identifier, identifier, async (schema, table) => {
      const qualified = quoteQualified(schema, table);
      const column = `${table} "col"`;
      const s = quoteIdent(schema);
      const exists = (await db.sql`SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = ${schema}) AS ok`)[0]!.ok as boolean;
      if (!exists) await db.sql.unsafe(`CREATE SCHEMA ${s}`);
      await db.sql.unsafe(`CREATE TABLE ${qualified} (id int PRIMARY KEY, "${column.replace(/"/g, '""')}" text, j jsonb)`);
      try {
        await db.sql.unsafe(`INSERT INTO ${qualified} VALUES (1, $1, '{"t": 1}'), (2, NULL, NULL), (3, '', '[]'), (4, $2, '"s"')`, [schema, table]);
        const before = await snapshot(qualified);
        const out = `${work}/b${n++}`;
        const env = { DATABASE_URL: db.url };
        const backup = await runCli(['backup', quoted(schema, table), '--out', out, '--json'], { cwd: work, env });
        const context = `schema ${JSON.stringify(schema)} table ${JSON.stringify(table)}\n${backup.stdout}\n${backup.stderr}`;
        expect(backup.code, context).toBe(0);
        expect(backup.stderr, context).not.toMatch(CRASH);
        const dir = `${work}/${backup.json<{ dir: string }>().dir}`;
        await db.sql.unsafe(`DELETE FROM ${qualified}`);
        const restore = await runCli(['restore', dir, '--json'], { cwd: work, env });
        expect(restore.code, `${context}\n${restore.stdout}\n${restore.stderr}`).toBe(0);
        expect(await snapshot(qualified), context).toEqual(before);
        fs.rmSync(out, { recursive: true, force: true });
      } finally {
        await db.sql.unsafe(`DROP TABLE ${qualified}`);
        if (!exists) await db.sql.unsafe(`DROP SCHEMA ${s}`);
      }
    }), runs(20));
  });
});
