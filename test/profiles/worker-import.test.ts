/**
 * The import with its parse worker: the built package (dist/, `npm test` builds it first) reads a
 * directory large enough to use the worker (dist/vendor/parse-worker.mjs), and must leave exactly
 * what the import from the TypeScript sources leaves, which parses on the test's own thread.
 */
import fs from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import * as inline from '../../src/profiles/import.js';
import { useDatabase } from '../support/database.js';
import { asStrataSql, createProfileSchema, makeProfileDir } from './schema.js';

const builtImport = new URL('../../dist/profiles/import.js', import.meta.url);
const bundledWorker = new URL('../../dist/vendor/parse-worker.mjs', import.meta.url);

const db = useDatabase();

/** 150 user folders (450 files, well past the inline limit): every tenth a UUID, some files missing. */
function folders(): Record<string, string> {
  const files: Record<string, string> = { 'README.md': '# not a user\n' };
  for (let i = 0; i < 150; i++) {
    const name = i % 10 === 3 ? `0a1b2c3d-4e5f-4a6b-8c7d-${String(i).padStart(12, '0')}` : `u_${i}`;
    if (i % 7 !== 0) files[`${name}/profile.md`] = `# Profile\n\n- **Name:** User ${i}\n- **Age:** ${20 + (i % 50)}\n\n## Goals\n\n- Walk *more*\n- Sleep [better](https://example.org/${i})\n`;
    if (i % 5 !== 0) files[`${name}/preferences.md`] = `- **Timezone:** ${['Europe/London', 'Asia/Tokyo', 'UTC'][i % 3]}\n- Units: metric\n`;
    files[`${name}/patterns.md`] = `## Notes\n\nFirst paragraph ${i}.\n\nSecond — with "quotes" and \\\\ a backslash.\n`;
  }
  return files;
}

type Row = Record<string, unknown>;

async function rows(schema: string): Promise<Row[]> {
  const sql = db.current.sql;
  return sql<Row[]>`SELECT u.user_id::text, u.external_id, p.profile, p.preferences, p.patterns, p.timezone
                      FROM ${sql(schema)}.users u JOIN ${sql(schema)}.user_profiles p USING (user_id) ORDER BY u.user_id`;
}

describe('import-profiles with the parse worker (built package)', () => {
  let built: typeof inline;
  let dir: string;

  beforeAll(async () => {
    expect(fs.existsSync(bundledWorker), 'dist/vendor/parse-worker.mjs is missing: run npm run build').toBe(true);
    built = (await import(builtImport.href)) as typeof inline;
    dir = await makeProfileDir(folders());
  });

  const options = (schema: string, overrides: Partial<inline.ImportOptions> = {}): inline.ImportOptions => ({
    dryRun: false, verify: false, createUsers: true, skipInvalid: false, schema, ...overrides,
  });

  it('writes exactly what parsing on this thread writes, counts included, and verifies clean', async () => {
    const [here, there] = [await createProfileSchema(db.current.sql), await createProfileSchema(db.current.sql)];
    const sql = asStrataSql(db.current.sql);
    const expected = await inline.importProfiles(sql, dir, options(here));
    const result = await built.importProfiles(sql, dir, options(there, { batchSize: 40 }));
    expect(result).toEqual(expected);
    expect(result).toMatchObject({ imported: 150, created: 150, errors: [] });
    expect(await rows(there)).toEqual(await rows(here));
    expect(await built.importProfiles(sql, dir, options(there, { verify: true }))).toMatchObject({ differences: [], unchanged: 150 });
    expect(await built.importProfiles(sql, dir, options(there))).toMatchObject({ imported: 0, unchanged: 150 });
  });

  it('reports the same errors, writes nothing, and with --skip-invalid writes the rest', async () => {
    const broken = await makeProfileDir({ ...folders(), 'u_77/patterns.md': '## Goals\n\nIntro\n\n- Run\n', 'u_140/profile.md': Buffer.from([0x2d, 0x20, 0xff, 0x0a]) });
    const [here, there] = [await createProfileSchema(db.current.sql), await createProfileSchema(db.current.sql)];
    const sql = asStrataSql(db.current.sql);
    const expected = await inline.importProfiles(sql, broken, options(here));
    const result = await built.importProfiles(sql, broken, options(there));
    expect(result.errors).toHaveLength(2);
    expect(result).toEqual(expected);
    expect(await rows(there)).toEqual([]);
    const skipped = await built.importProfiles(sql, broken, options(there, { skipInvalid: true }));
    expect(skipped).toMatchObject({ imported: 148, skipped: 2 });
    expect(await rows(there)).toHaveLength(148);
  });
});
