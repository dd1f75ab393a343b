/**
 * `migrate demo`: the README's main job, on a database of its own.
 */
import { describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { adminUrl } from '../support/database.js';
import { tempDir } from '../support/migrations.js';

describe('migrate demo', () => {
  it('loads messy MVP data, rehearses, applies, verifies, rolls back with backups, re-applies identically, converts timestamps, imports profiles', async () => {
    const cwd = tempDir('strata-demo-');
    const result = await runCli(['demo', '--users', '40'], { cwd, env: { DATABASE_URL: adminUrl() }, timeoutMs: 120_000 });
    expect(result.code, result.stderr).toBe(0);
    const out = result.stdout;
    expect(out).toMatch(/loaded \d+ conversations and \d+ messages for 40 users/);
    expect(out).toContain('dry run: nothing was changed');
    expect(out).toMatch(/all \d+ checks passed/);
    expect(out).toMatch(/backed up before dropping: backups\/\d{8}T\d{6}Z_004_add_transcripts_down/);
    expect(out).toMatch(/same rows as before the rollback \(digest [0-9a-f]{16}\)/);
    expect(out).toMatch(/converted \d+ columns in \d+ tables to timestamptz \(UTC\); sampled \d+ values, all the same instants/);
    expect(out).toContain('imported 3, created 3 users, 0 errors');
    expect(out).toContain('import-profiles --verify: the database matches the files');
    expect(out).toMatch(/timezone_awareness\s+011_timezone_awareness\s+applied/);
  });
});
