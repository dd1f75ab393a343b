/**
 * The embedded default (SPEC §2): `migrate db start|status|url|stop|reset` and `--embedded` runs,
 * in a project directory of its own. Works as root (the server runs as the postgres OS user) and
 * as a normal user.
 */
import fs from 'node:fs';
import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli.js';
import { tempDir, writeMigrations } from '../support/migrations.js';

describe('embedded PostgreSQL', () => {
  const project = tempDir('strata-project-');
  fs.chmodSync(project, 0o755); // the postgres OS user must be able to enter it when we run as root
  writeMigrations({ '001_hello': { up: 'CREATE TABLE hello (id int);\n', down: 'DROP TABLE hello;\n' } }, `${project}/migrations`);
  const cli = (...args: string[]) => runCli(args, { cwd: project, timeoutMs: 120_000 });

  afterAll(async () => {
    await cli('db', 'stop');
    fs.rmSync(project, { recursive: true, force: true });
  });

  it('status before anything exists says so without creating it', async () => {
    const result = await cli('db', 'status', '--json');
    expect(result.code).toBe(0);
    expect(result.json()).toMatchObject({ initialised: false, running: false });
    expect(fs.existsSync(`${project}/.strata/pgdata`)).toBe(false);
  });

  it('--embedded starts it on demand, says so on stderr in one line, and runs migrations', async () => {
    const result = await cli('--embedded', 'up', '--json');
    expect(result.code).toBe(0);
    expect(result.stderr).toMatch(/^using embedded PostgreSQL at \.strata\/pgdata \(port \d+\)/m);
    expect(result.json()).toMatchObject({ applied: ['001_hello'] });
    const again = await cli('--embedded', 'status', '--json');
    expect(again.json<{ database: string }>().database).toMatch(/^postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/postgres$/);
  });

  it('db url prints the whole URL (the one exception to redaction) and it works', async () => {
    const result = await cli('db', 'url');
    expect(result.code).toBe(0);
    const url = result.stdout.trim();
    expect(url).toMatch(/^postgres:\/\/postgres:[^*@]+@127\.0\.0\.1:\d+\/postgres$/);
    const sql = postgres(url, { max: 1 });
    expect((await sql`SELECT count(*)::int AS n FROM schema_migrations`)[0]!.n).toBe(1);
    await sql.end();
    const status = await cli('db', 'status');
    expect(status.stdout).toMatch(/embedded PostgreSQL \d+ at \.strata\/pgdata: running on port \d+/);
    expect(status.stdout).not.toContain(url.split('@')[0]!.split(':')[2]!);
  });

  it('db stop stops it; the data survives a restart', async () => {
    expect((await cli('db', 'stop')).stdout).toContain('stopped embedded PostgreSQL at .strata/pgdata');
    expect((await cli('db', 'status', '--json')).json()).toMatchObject({ initialised: true, running: false });
    expect((await cli('db', 'start')).code).toBe(0);
    expect((await cli('--embedded', 'status', '--json')).json<{ migrations: { state: string }[] }>().migrations[0]!.state).toBe('applied');
  });

  it('db reset needs --yes without a terminal, then leaves an empty database', async () => {
    const refused = await cli('db', 'reset');
    expect(refused.code).toBe(6);
    const reset = await cli('db', 'reset', '--yes');
    expect(reset.code).toBe(0);
    expect((await cli('--embedded', 'status', '--json')).json<{ migrations: { state: string }[] }>().migrations[0]!.state).toBe('pending');
  });
});
