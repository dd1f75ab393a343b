/**
 * Racing deploys (issue 9): ten `migrate up` at once, and `down` racing `up`. Each migration is
 * applied exactly once; every process exits 0 (it waited, then found nothing or its share to do)
 * or 4 (lock timeout), never anything else; history always matches the schema.
 */
import { describe, expect, it } from 'vitest';
import { historyRows } from '../support/catalog.js';
import { startCli } from '../support/cli.js';
import { createDatabase, dropDatabase } from '../support/database.js';
import { tempDir, writeMigrations } from '../support/migrations.js';

const migrations = writeMigrations(Object.fromEntries(Array.from({ length: 5 }, (_, i) => {
  const n = i + 1;
  return [`00${n}_step${n}`, {
    up: `CREATE TABLE step${n} (id int);\nINSERT INTO step${n} SELECT g FROM generate_series(1, 100) g;\nSELECT pg_sleep(0.2);\n`,
    down: `DROP TABLE step${n};\n`,
  }];
})));

async function tablesPresent(sql: Awaited<ReturnType<typeof createDatabase>>['sql']): Promise<string[]> {
  const rows = await sql`SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 'step%' ORDER BY 1`;
  return rows.map((r) => r.tablename as string);
}

describe('racing deploys', () => {
  it('ten concurrent `up`: each migration once, exit codes only 0 or 4', async () => {
    const db = await createDatabase();
    try {
      const runs = Array.from({ length: 10 }, (_, i) => startCli(['--migrations', migrations, 'up', '--json', '--lock-timeout', i % 2 === 0 ? '30000' : '300'], { env: { DATABASE_URL: db.url } }).done);
      const results = await Promise.all(runs);
      const codes = results.map((r) => r.code);
      expect(codes.every((c) => c === 0 || c === 4), `exit codes ${codes.join(',')}`).toBe(true);
      const applied = results.filter((r) => r.code === 0).flatMap((r) => r.json<{ applied: string[] }>().applied);
      expect(applied.sort()).toEqual(['001_step1', '002_step2', '003_step3', '004_step4', '005_step5']);
      for (const r of results.filter((x) => x.code === 4)) expect(r.json<{ error: { message: string } }>().error.message).toContain('another migration is running');
      expect((await historyRows(db.sql)).map((r) => r.name)).toEqual(['001_step1', '002_step2', '003_step3', '004_step4', '005_step5']);
      for (let n = 1; n <= 5; n++) expect((await db.sql.unsafe(`SELECT count(*)::int AS c FROM step${n}`))[0]!.c).toBe(100);
    } finally {
      await dropDatabase(db);
    }
  });

  it('`down` racing `up`: serialised by the lock, history matches the schema after each', async () => {
    const db = await createDatabase();
    try {
      const env = { DATABASE_URL: db.url };
      const backups = ['--backup-dir', tempDir()];
      const up = startCli(['--migrations', migrations, 'up'], { env }).done;
      const downs = [
        startCli(['--migrations', migrations, ...backups, 'down', 'step1', '--yes'], { env }).done,
        startCli(['--migrations', migrations, ...backups, 'down', '--yes'], { env }).done,
      ];
      const results = await Promise.all([up, ...downs]);
      expect(results.map((r) => r.code).every((c) => c === 0 || c === 4)).toBe(true);
      const recorded = (await historyRows(db.sql)).map((r) => r.name.replace(/^\d+_/, ''));
      expect(await tablesPresent(db.sql)).toEqual(recorded);
    } finally {
      await dropDatabase(db);
    }
  });
});
