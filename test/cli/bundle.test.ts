/**
 * The built CLI is dist/bundle/ (scripts/bundle-cli.mjs), and bin/migrate loads it: status.cjs for a
 * plain `migrate status`, main.js for everything else. Here it runs from a copy of the package that
 * has nothing of tsc's output but dist/errors.js and dist/vendor/: every command below can only have
 * run from the bundle, and the bundle can only have found what it resolves at run time
 * (migrations/, ../vendor/umzug.cjs, packages in node_modules) where the installed package has it.
 * A bundle older than tsc's output is never run.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../support/cli.js';
import { createDatabase, dropDatabase, type TestDatabase } from '../support/database.js';
import { tempDir, writeMigrations } from '../support/migrations.js';

const bundleDir = path.join(repoRoot, 'dist', 'bundle');

/** A copy of the package as npm would install it; without `dist`, only the bundle's needs of dist/. */
function copyPackage(dist: string[] = ['bundle', 'vendor', 'errors.js']): string {
  const root = tempDir('strata-bundled-');
  for (const entry of ['bin', 'migrations', 'package.json']) fs.cpSync(path.join(repoRoot, entry), path.join(root, entry), { recursive: true });
  for (const entry of dist) fs.cpSync(path.join(repoRoot, 'dist', entry), path.join(root, 'dist', entry), { recursive: true });
  fs.symlinkSync(path.join(repoRoot, 'node_modules'), path.join(root, 'node_modules'), 'dir');
  return root;
}

function run(bin: string, args: string[], cwd: string, env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd, env: { PATH: process.env.PATH, HOME: process.env.HOME, LANG: 'C.UTF-8', NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('the bundled CLI (bin/migrate → dist/bundle/main.js)', () => {
  let db: TestDatabase;
  let bin: string;
  let cwd: string;
  const migrations = writeMigrations({
    '001_people': {
      up: 'CREATE TABLE people (id int PRIMARY KEY, name text NOT NULL);\nINSERT INTO people VALUES (1, \'ada\'), (2, \'grace\');\n',
      down: 'DROP TABLE people;\n',
      verify: '-- check: names are set\nSELECT id FROM people WHERE name = \'\';\n',
    },
    '002_notes.js': "export async function up({ sql }) { await sql`CREATE TABLE notes (id int)`; }\nexport async function down({ sql }) { await sql`DROP TABLE notes`; }\n",
  });
  const cli = (...args: string[]) => run(bin, ['--migrations', migrations, ...args], cwd, { DATABASE_URL: db.url });

  beforeAll(async () => {
    if (!fs.existsSync(path.join(bundleDir, 'main.js'))) throw new Error('dist/bundle/main.js is missing: run npm run build');
    db = await createDatabase();
    bin = path.join(copyPackage(), 'bin', 'migrate');
    cwd = tempDir('strata-bundled-cwd-');
  });
  afterAll(async () => { await dropDatabase(db); });

  it('is what bin/migrate loads after a build', () => {
    const bundled = fs.statSync(path.join(bundleDir, 'main.js')).mtimeMs;
    const unbundled = fs.statSync(path.join(repoRoot, 'dist', 'cli', 'main.js')).mtimeMs;
    expect(bundled).toBeGreaterThanOrEqual(unbundled);
    expect(fs.existsSync(path.join(bundleDir, 'status.cjs'))).toBe(true);
    expect(fs.existsSync(path.join(path.dirname(path.dirname(bin)), 'dist', 'cli'))).toBe(false);
  });

  it('runs tsc\'s output instead of a bundle that a later tsc run made stale', async () => {
    const root = copyPackage(fs.readdirSync(path.join(repoRoot, 'dist')));
    const poison = "throw new Error('the stale bundle ran');\n";
    fs.writeFileSync(path.join(root, 'dist', 'bundle', 'main.js'), poison);
    fs.writeFileSync(path.join(root, 'dist', 'bundle', 'status.cjs'), poison);
    const later = new Date(Date.now() + 60_000);
    fs.utimesSync(path.join(root, 'dist', 'cli', 'main.js'), later, later);
    const staleBin = path.join(root, 'bin', 'migrate');
    expect(await run(staleBin, ['--version'], cwd, {})).toMatchObject({ code: 0, stdout: '0.1.0\n' });
    const status = await run(staleBin, ['--migrations', migrations, 'status', '--json'], cwd, { DATABASE_URL: db.url });
    expect(status.stderr).toBe('');
    expect(status.code).toBe(0);
  });

  it('answers --version and --help (commander, loaded on demand)', async () => {
    const version = await run(bin, ['--version'], cwd, {});
    expect(version).toMatchObject({ code: 0, stdout: '0.1.0\n' });
    const help = await run(bin, ['--help'], cwd, {});
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('import-profiles');
    // Not a plain `status`: status.cjs declines, main.js and commander take it.
    const usage = await run(bin, ['status', '--frob'], cwd, {});
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("unknown option '--frob'");
    const statusHelp = await run(bin, ['status', '--help'], cwd, {});
    expect(statusHelp.code).toBe(0);
    expect(statusHelp.stdout).toContain('Usage: migrate status');
  });

  it('runs status, up, verify, a rollback with its backup, and status again', async () => {
    const badUrl = await run(bin, ['--migrations', migrations, 'status', '--database-url', 'mysql://x/y'], cwd, {});
    expect(badUrl.code).toBe(2);
    expect(badUrl.stderr).toContain('invalid database URL scheme');
    const pending = await cli('status', '--json');
    expect(pending.code).toBe(0);
    expect(JSON.parse(pending.stdout).migrations.map((m: { state: string }) => m.state)).toEqual(['pending', 'pending']);

    const up = await cli('up');
    expect(up.code).toBe(0);
    expect(up.stdout).toContain('applied 2 migrations');

    const verify = await cli('verify');
    expect(verify.code).toBe(0);

    const down = await cli('down', '001_people', '--yes', '--json');
    expect(down.code).toBe(0);
    const doc = JSON.parse(down.stdout) as { reverted: string[]; backups: string[] };
    expect(doc.reverted).toEqual(['002_notes', '001_people']);
    expect(doc.backups).toHaveLength(1);
    expect(fs.existsSync(path.join(cwd, doc.backups[0]!, 'manifest.json'))).toBe(true);

    const status = await cli('status');
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/001_people\s+pending/);
    expect(status.stdout.trim().split('\n').at(-1)).toBe('2 pending');
  });

  it('finds the bundled coaching schema next to the package (plan, offline)', async () => {
    const plan = await run(bin, ['plan', '--bundled'], cwd, {});
    expect(plan.code).toBe(0);
    expect(plan.stdout).toContain('001_mvp');
  });
});
