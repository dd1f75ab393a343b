/**
 * How each tool applies, reverts and lists the trivial migrations of fixtures.mjs: strata, the
 * peers (dbmate, node-pg-migrate) and the psql baseline. Every operation is a whole process (or,
 * for dbmate's one-at-a-time rollback, a sequence of them) timed from spawn to exit.
 */
import { timeProcess } from './measure.mjs';

/** The environment of every timed process: no DATABASE_URL / PG* leaking in from the caller. */
export function childEnv(extra = {}) {
  const env = { ...process.env, NO_COLOR: '1' };
  for (const key of Object.keys(env)) if (key === 'DATABASE_URL' || key.startsWith('PG')) delete env[key];
  return { ...env, ...extra };
}

/** lib/pq (dbmate) asks for TLS unless told not to; the bench server has none. */
function noSsl(url) {
  const u = new URL(url);
  u.searchParams.set('sslmode', 'disable');
  return u.toString();
}

const node = process.execPath;

/**
 * The tools, in table order. Each: { name, role: 'baseline' | 'strata' | 'peer', version,
 * notes: { all?, apply?, status?, rollback? }, apply(url), rollback(url), status?(url) } — each
 * operation returns the wall time in ms.
 * `ctx` = { strataBin, strataVersion, psql, psqlVersion, peers, cwd }.
 */
export function migrationTools(ctx, fx) {
  const { cwd } = ctx;
  const env = childEnv();
  const tools = [];

  tools.push({
    name: 'psql -f',
    role: 'baseline',
    version: ctx.psqlVersion,
    notes: { all: 'the same SQL, with BEGIN + statement + history row + COMMIT per migration (4 round trips each)' },
    apply: (url) => timeProcess(ctx.psql, ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url, '-f', fx.psqlApply], { cwd, env }),
    rollback: (url) => timeProcess(ctx.psql, ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url, '-f', fx.psqlRollback], { cwd, env }),
  });

  const strata = (url, ...args) => timeProcess(node, [ctx.strataBin, ...args, '--database-url', url, '--migrations', fx.strata], { cwd, env });
  tools.push({
    name: 'strata',
    role: 'strata',
    version: ctx.strataVersion,
    notes: {
      all: 'bin/migrate of this checkout, as built when the bench started',
      rollback: '`down <first> --yes` (DROP TABLE needs confirmation; the tables are empty, so nothing is backed up)',
    },
    apply: (url) => strata(url, 'up', '-q'),
    rollback: (url) => strata(url, 'down', fx.names[0], '--yes', '-q'),
    status: (url) => strata(url, 'status'),
  });

  const { dbmate } = ctx.peers;
  if (dbmate) {
    const go = (url, ...args) => timeProcess(dbmate.bin, ['--url', noSsl(url), '--migrations-dir', fx.dbmate, '--no-dump-schema', ...args], { cwd, env });
    tools.push({
      name: 'dbmate',
      role: 'peer',
      version: dbmate.version,
      notes: {
        all: 'its Go binary called directly',
        rollback: 'dbmate has no multi-step rollback: N runs of `dbmate rollback`, so mostly process starts',
      },
      apply: (url) => go(url, 'migrate'),
      rollback: async (url) => {
        let ms = 0;
        for (let i = 0; i < fx.count; i++) ms += await go(url, 'rollback');
        return ms;
      },
      status: (url) => go(url, 'status'),
    });
    if (dbmate.wrapper) {
      tools.push({
        name: 'dbmate (npm)',
        role: 'peer',
        version: dbmate.version,
        notes: { all: 'the `dbmate` command npm installs: a Node script that spawns the Go binary' },
        statusOnly: true,
        appliedBy: 'dbmate',
        status: (url) => timeProcess(node, [dbmate.wrapper, '--url', noSsl(url), '--migrations-dir', fx.dbmate, '--no-dump-schema', 'status'], { cwd, env }),
      });
    }
  }

  const { nodePgMigrate } = ctx.peers;
  if (nodePgMigrate) {
    const npmEnv = (url) => ({ ...env, DATABASE_URL: url });
    const run = (url, ...args) => timeProcess(node, [nodePgMigrate.bin, ...args, '-m', fx.nodePgMigrate], { cwd, env: npmEnv(url) });
    tools.push({
      name: 'node-pg-migrate',
      role: 'peer',
      version: nodePgMigrate.version,
      notes: {
        all: '--no-single-transaction: one transaction per migration, like the others',
        status: 'no status command: `up --dry-run` (lock, read history, "No migrations to run!")',
      },
      apply: (url) => run(url, 'up', '--no-single-transaction'),
      rollback: (url) => run(url, 'down', String(fx.count), '--no-single-transaction'),
      status: (url) => run(url, 'up', '--dry-run'),
    });
    tools.push({
      name: 'node-pg-migrate (1 tx)',
      role: 'peer',
      version: nodePgMigrate.version,
      notes: { all: 'its default: every pending migration in one transaction' },
      apply: (url) => run(url, 'up'),
      rollback: (url) => run(url, 'down', String(fx.count)),
    });
  }
  return tools;
}
