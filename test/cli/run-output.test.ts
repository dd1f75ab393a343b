/**
 * What up / down / PHASE / --rollback print (SPEC §5, §7): a rollback's plan before anything runs
 * (also when refused), the dry-run line after a failure, durations that agree with history, a
 * module's statements, and a terminal that reports no width.
 */
import { spawn, spawnSync } from 'node:child_process';
import { stripVTControlCharacters } from 'node:util';
import { describe, expect, it } from 'vitest';
import { catalogSnapshot, historyRows } from '../support/catalog.js';
import { migrateBin, repoRoot, runCli } from '../support/cli.js';
import { withTestDatabase, type TestDatabase } from '../support/database.js';
import { writeMigrations } from '../support/migrations.js';

const cliFor = (db: TestDatabase, dir: string) => (...args: string[]) =>
  runCli(['--migrations', dir, ...args], { env: { DATABASE_URL: db.url } });

interface PlannedStep { name: string; direction: string; destroys: { table: string; exists: boolean; hasRows: boolean; createdByRun: boolean }[] }

const threeTables = () => writeMigrations({
  '001_a': { up: 'CREATE TABLE a (id int);\nINSERT INTO a VALUES (1);\n', down: 'DROP TABLE a;\n' },
  '002_b': { up: 'CREATE TABLE b (id int);\n', down: 'DROP TABLE b;\n' },
  '003_c': { up: 'SELECT 1;\n', down: 'SELECT 1;\n' },
});

describe('a rollback prints its plan first (SPEC §5)', () => {
  it('newest first with what each down destroys, on stdout, also when refused for lack of --yes (exit 6)', () => withTestDatabase(async (db) => {
    const cli = cliFor(db, threeTables());
    expect((await cli('up')).code).toBe(0);
    const before = await catalogSnapshot(db.sql);

    const refused = await cli('a', '--rollback');
    expect(refused.code).toBe(6);
    expect(refused.stdout.split('\n')).toEqual([
      'reverting 3 migrations, newest first:',
      '  003_c',
      '  002_b  destroys public.b (empty)',
      '  001_a  destroys public.a (holds rows)',
      '',
    ]);
    expect(refused.stderr).toContain('refusing to run a destructive step without confirmation: this run reverts 003_c, 002_b, 001_a and destroys data in public.a');
    expect(await catalogSnapshot(db.sql)).toBe(before);

    const json = await cli('a', '--rollback', '--json');
    expect(json.code).toBe(6);
    const doc = json.json<{ error: { code: number }; plan: PlannedStep[] }>();
    expect(doc.error.code).toBe(6);
    expect(doc.plan).toEqual([
      { name: '003_c', direction: 'down', destroys: [] },
      { name: '002_b', direction: 'down', destroys: [{ table: 'public.b', exists: true, hasRows: false, createdByRun: false }] },
      { name: '001_a', direction: 'down', destroys: [{ table: 'public.a', exists: true, hasRows: true, createdByRun: false }] },
    ]);
    expect((await historyRows(db.sql)).map((r) => r.name)).toEqual(['001_a', '002_b', '003_c']);

    const rehearsal = await cli('down', 'b', '--dry-run');
    expect(rehearsal.code).toBe(0);
    expect(rehearsal.stdout.split('\n').slice(0, 3)).toEqual(['would revert 2 migrations, newest first:', '  003_c', '  002_b  destroys public.b (empty)']);

    const confirmed = await cli('a', '--rollback', '--yes');
    expect(confirmed.code, confirmed.stderr).toBe(0);
    const lines = confirmed.stdout.split('\n');
    expect(lines[0]).toBe('reverting 3 migrations, newest first:');
    // The plan comes before the first step is reverted.
    expect(lines.findIndex((l) => l.includes('001_a  destroys'))).toBeLessThan(lines.findIndex((l) => l.includes('003_c reverted')));
    expect(await historyRows(db.sql)).toEqual([]);
  }));

  it('--json carries the plan next to the SPEC fields; `up` prints none but its JSON has it', () => withTestDatabase(async (db) => {
    const cli = cliFor(db, threeTables());
    const up = await cli('up');
    expect(up.code).toBe(0);
    expect(up.stdout).not.toContain('newest first');
    const upJson = await cli('down', '--dry-run', '--json');
    const down = upJson.json<{ dryRun: boolean; applied: string[]; reverted: string[]; backups: string[]; steps: unknown[]; plan: PlannedStep[] }>();
    expect(down).toMatchObject({ dryRun: true, applied: [], reverted: ['003_c'], backups: [] });
    expect(down.plan).toEqual([{ name: '003_c', direction: 'down', destroys: [] }]);
    const fresh = writeMigrations({ '001_x': { up: 'CREATE TABLE x (id int);\n' } });
    const applied = await runCli(['--migrations', fresh, '--history-table', 'other_history', 'up', '--json'], { env: { DATABASE_URL: db.url } });
    expect(applied.json<{ plan: PlannedStep[] }>().plan).toEqual([{ name: '001_x', direction: 'up', destroys: [] }]);
  }));
});

describe('a dry run that fails still ends with its line (SPEC §7)', () => {
  it('after the error: stdout in human mode, stderr with --json (also with -q)', () => withTestDatabase(async (db) => {
    const dir = writeMigrations({ '001_ok': { up: 'CREATE TABLE ok (id int);\n' }, '002_slow': { up: 'SELECT pg_sleep(2);\n' } });
    const cli = cliFor(db, dir);
    const before = await catalogSnapshot(db.sql);
    const human = await cli('up', '--dry-run', '--statement-timeout', '1000');
    expect(human.code).toBe(1);
    expect(human.stderr).toContain('002_slow/up.sql:1: canceling statement due to statement timeout (SQLSTATE 57014)');
    expect(human.stdout).toContain('001_ok would be applied');
    expect(human.stdout.trimEnd().split('\n').at(-1)).toBe('dry run: nothing was changed');

    const json = await cli('up', '--dry-run', '--statement-timeout', '1000', '--json', '-q');
    expect(json.code).toBe(1);
    expect(json.json<{ error: { code: number; message: string } }>().error).toMatchObject({ code: 1, message: expect.stringContaining('statement timeout') });
    expect(json.stderr.trimEnd().split('\n').at(-1)).toBe('dry run: nothing was changed');
    expect(await catalogSnapshot(db.sql)).toBe(before);
    expect(await historyRows(db.sql)).toEqual([]);

    const refused = await cli('nosuchphase', '--dry-run');
    expect(refused.code).toBe(2);
    expect(refused.stdout.trimEnd().split('\n').at(-1)).toBe('dry run: nothing was changed');
    // A real run that fails says no such thing.
    expect((await cli('up', '--statement-timeout', '1000')).stdout).not.toContain('dry run');
  }));
});

describe('step lines', () => {
  it('a step reports the duration its history row records; row counts are singular for one row', () => withTestDatabase(async (db) => {
    const dir = writeMigrations({
      '001_sql': { up: 'CREATE TABLE s (id int);\nINSERT INTO s VALUES (1);\nINSERT INTO s VALUES (2), (3);\nSELECT pg_sleep(0.02);\n', down: 'DROP TABLE s;\n' },
      '002_mod.js': 'export async function up({ sql }) { await sql`SELECT pg_sleep(0.01)`; }\nexport async function down() {}\n',
      '003_autocommit': { up: '-- strata: no-transaction\nCREATE INDEX CONCURRENTLY s_id ON s (id);\nSELECT pg_sleep(0.01);\n', down: 'DROP INDEX s_id;\n' },
    });
    const result = await cliFor(db, dir)('up', '--json');
    expect(result.code, result.stderr).toBe(0);
    const steps = result.json<{ steps: { name: string; durationMs: number }[] }>().steps;
    const rows = await db.sql<{ name: string; duration_ms: number }[]>`SELECT name, duration_ms FROM schema_migrations ORDER BY name`;
    expect(steps.map((s) => [s.name, s.durationMs])).toEqual(rows.map((r) => [r.name, r.duration_ms]));
    expect(rows.every((r) => r.duration_ms >= 10)).toBe(true);

    const reverted = await cliFor(db, dir)('down', 'sql', '--yes');
    expect(reverted.code, reverted.stderr).toBe(0);
    const again = await cliFor(db, dir)('up');
    const recorded = await db.sql<{ name: string; duration_ms: number }[]>`SELECT name, duration_ms FROM schema_migrations ORDER BY name`;
    for (const row of recorded) expect(again.stdout).toContain(`${row.name} applied (${row.duration_ms} ms)`);
    expect(again.stdout).toContain('INSERT INTO s VALUES (1)  → 1 row\n');
    expect(again.stdout).toContain('INSERT INTO s VALUES (2), (3)  → 2 rows\n');
  }));

  it('a module\'s sql.unsafe statements are reported like its tagged ones, in real runs as in dry runs', () => withTestDatabase(async (db) => {
    const dir = writeMigrations({
      '001_mixed.ts': [
        'export async function up({ sql }: { sql: any }) {',
        '  await sql`CREATE TABLE m (id int)`;',
        "  await sql.unsafe('CREATE INDEX m_id ON m (id)');",
        '  await sql`INSERT INTO m VALUES (1), (2)`;',
        "  await sql.unsafe('UPDATE m SET id = id + $1', [1]);",
        '}',
        '',
      ].join('\n'),
    });
    const cli = cliFor(db, dir);
    type Doc = { steps: { kind: string; statements: { sql: string; rowCount: number | null }[] }[] };
    const dry = (await cli('up', '--dry-run', '--json')).json<Doc>().steps[0]!;
    const real = await cli('up', '--json');
    expect(real.code, real.stderr).toBe(0);
    const step = real.json<Doc>().steps[0]!;
    expect(step.kind).toBe('module');
    expect(step.statements).toEqual([
      { sql: 'CREATE TABLE m (id int)', rowCount: null },
      { sql: 'CREATE INDEX m_id ON m (id)', rowCount: null },
      { sql: 'INSERT INTO m VALUES (1), (2)', rowCount: 2 },
      { sql: 'UPDATE m SET id = id + $1', rowCount: 2 },
    ]);
    expect(dry.statements).toEqual(step.statements);

    await db.sql`DROP TABLE m`;
    await db.sql`DELETE FROM schema_migrations`;
    const human = await cli('up');
    expect(human.code).toBe(0);
    // A real run lists a module's statements whole, DDL included (no file shows them).
    expect(human.stdout).toContain('    CREATE TABLE m (id int)\n    CREATE INDEX m_id ON m (id)\n    INSERT INTO m VALUES (1), (2)  → 2 rows\n');
  }));

  it('a module that reads a query through a cursor: reported when the iteration ends, with the rows it delivered', () => withTestDatabase(async (db) => {
    const dir = writeMigrations({
      '001_cursor.js': [
        'export async function up({ sql }) {',
        '  await sql`CREATE TABLE c (id int)`;',
        '  await sql`INSERT INTO c SELECT generate_series(1, 5)`;',
        '  let total = 0;',
        '  for await (const rows of sql`SELECT id FROM c ORDER BY id`.cursor(2)) for (const row of rows) total += row.id;',
        '  await sql`CREATE TABLE c_total (total int)`;',
        '  await sql`INSERT INTO c_total VALUES (${total})`;',
        '  for await (const rows of sql`SELECT id FROM c`.cursor(1)) if (rows.length > 0) break;',
        '  let seen = 0;',
        '  await sql`SELECT g FROM generate_series(1, 2500) AS g`.cursor(1000, (rows) => { seen += rows.length; });',
        '  if (seen !== 2500) throw new Error(`saw ${seen} rows`);',
        '}',
        'export async function down({ sql }) {',
        '  await sql`DROP TABLE c, c_total`;',
        '}',
        '',
      ].join('\n'),
    });
    const cli = cliFor(db, dir);
    type Doc = { steps: { statements: { sql: string; rowCount: number | null }[] }[] };
    const expected = [
      { sql: 'CREATE TABLE c (id int)', rowCount: null },
      { sql: 'INSERT INTO c SELECT generate_series(1, 5)', rowCount: 5 },
      { sql: 'SELECT id FROM c ORDER BY id', rowCount: 5 },
      { sql: 'CREATE TABLE c_total (total int)', rowCount: null },
      { sql: 'INSERT INTO c_total VALUES ($1)', rowCount: 1 },
      { sql: 'SELECT id FROM c', rowCount: 1 },
      // The callback form: every row delivered, not the driver's count of the last batch (500).
      { sql: 'SELECT g FROM generate_series(1, 2500) AS g', rowCount: 2500 },
    ];
    const dry = await cli('up', '--dry-run', '--json');
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.json<Doc>().steps[0]!.statements).toEqual(expected);
    const real = await cli('up', '--json');
    expect(real.code, real.stderr).toBe(0);
    expect(real.json<Doc>().steps[0]!.statements).toEqual(expected);
    expect((await db.sql<{ total: number }[]>`SELECT total FROM c_total`)[0]?.total).toBe(15);
  }));
});

const SCRIPT = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;
if (!SCRIPT) console.warn('run-output.test.ts: util-linux `script` is missing; the terminal tests are skipped (reported as skipped)');

/**
 * Runs `migrate ARGS` on a pseudo-terminal of the given size (util-linux `script`); kills it after
 * `timeoutMs`. `answer` is typed once the output asks a yes/no question.
 */
function onTerminal(columns: number, args: string[], env: Record<string, string>, answer?: string, timeoutMs = 30_000): Promise<{ code: number | null; killed: boolean; output: string }> {
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const command = `stty cols ${columns} rows ${columns === 0 ? 0 : 24}; exec ${quote(process.execPath)} ${quote(migrateBin)} ${args.map(quote).join(' ')}`;
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', command, '/dev/null'], { cwd: repoRoot, env: { PATH: process.env.PATH, HOME: process.env.HOME, LANG: 'C.UTF-8', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    let answered = answer === undefined;
    const keep = (chunk: Buffer) => {
      if (output.length < 65_536) output += chunk.toString();
      if (!answered && output.includes('[y/N]')) {
        answered = true;
        child.stdin.write(`${answer}\r`);
      }
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    let killed = false;
    const timer = setTimeout(() => { killed = true; child.kill('SIGKILL'); }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, killed, output }); });
  });
}

describe('on a terminal', () => {
  it.skipIf(!SCRIPT)('one that reports 0 columns gets plain progress, and the run ends (it looped forever, holding the lock)', () => withTestDatabase(async (db) => {
    const dir = writeMigrations({ '001_a': { up: 'CREATE TABLE a (id int);\nSELECT pg_sleep(0.2);\n' }, '002_b': { up: 'CREATE TABLE b (id int);\n', down: 'DROP TABLE b;\n' } });
    const narrow = await onTerminal(0, ['--migrations', dir, 'up'], { DATABASE_URL: db.url });
    expect(narrow.killed, narrow.output.slice(0, 2000)).toBe(false);
    expect(narrow.code).toBe(0);
    expect(narrow.output).toContain('applied 2 migrations');
    expect(narrow.output).not.toContain('\x1b[1A'); // no spinner erasing lines
    expect((await historyRows(db.sql)).map((r) => r.name)).toEqual(['001_a', '002_b']);
    const [locks] = await db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory'`;
    expect(locks!.n).toBe(0);

    // A terminal of usable width still gets the spinner (so the test above ran on a terminal).
    const wide = await onTerminal(80, ['--migrations', dir, 'down', '--yes'], { DATABASE_URL: db.url });
    expect(wide.code, wide.output.slice(0, 2000)).toBe(0);
    expect(wide.output).toContain('\x1b[?25l'); // ora hides the cursor while it spins
    expect(wide.output).toContain('reverted 1 migration');
  }), 90_000);

  it.skipIf(!SCRIPT)('the question before a rollback that destroys data names what it reverts, after the plan', () => withTestDatabase(async (db) => {
    const dir = threeTables();
    expect((await cliFor(db, dir)('up')).code).toBe(0);
    await db.sql`INSERT INTO b VALUES (1)`;
    const asked = await onTerminal(80, ['--migrations', dir, 'b', '--rollback'], { DATABASE_URL: db.url }, 'n');
    expect(asked.code, asked.output.slice(0, 2000)).toBe(6);
    const output = stripVTControlCharacters(asked.output);
    const question = output.indexOf('this run reverts 003_c, 002_b and destroys data in public.b');
    expect(output.indexOf('  002_b  destroys public.b (holds rows)')).toBeGreaterThan(-1);
    expect(question).toBeGreaterThan(output.indexOf('  002_b  destroys public.b (holds rows)'));
    expect(output).toContain('Continue? [y/N]');
    expect(output).toContain('error: cancelled: nothing was changed');
    expect((await historyRows(db.sql)).map((r) => r.name)).toEqual(['001_a', '002_b', '003_c']);
  }), 60_000);
});
