/**
 * Apply overhead (SPEC §10, issue 7): N trivial migrations applied from an empty database (a fresh
 * one per run) by each tool and by `psql -f` of the same SQL. Target: strata's per-migration
 * overhead over psql at most half of dbmate's, in the same run.
 */
import { pairedDifference } from '../lib/measure.mjs';
import { formatStats } from '../lib/report.mjs';
import { noteFor, overheads, slug, trivialSuite } from '../lib/suite.mjs';

/** Shared by apply and rollback: the overhead column and the "≤ half of dbmate" target. */
export function summariseOverhead(results, suite, what, ctx) {
  const baseline = suite.tools.find((t) => t.role === 'baseline').name;
  const over = overheads(results, baseline, suite.count, pairedDifference);
  const cells = Object.fromEntries(Object.entries(over).map(([name, o]) => [name, [formatStats(o.perMigration)]]));
  const targets = [];
  const strata = over.strata?.perMigration.median;
  const dbmate = over.dbmate?.perMigration.median;
  if (strata !== undefined && dbmate !== undefined && dbmate <= 0) {
    targets.push({ name: `${what}: strata's per-migration overhead over psql ≤ ½ of dbmate's`, ok: null, detail: `dbmate is no slower than psql at this size (${dbmate.toFixed(2)} ms): no ratio (use a larger --scale)` });
  } else if (strata !== undefined && dbmate !== undefined) {
    targets.push({
      name: `${what}: strata's per-migration overhead over psql ≤ ½ of dbmate's`,
      ok: strata <= dbmate / 2,
      detail: `strata ${strata.toFixed(2)} ms, dbmate ${dbmate.toFixed(2)} ms (limit ${(dbmate / 2).toFixed(2)} ms; ratio ${(strata / dbmate).toFixed(2)})`,
    });
  } else {
    targets.push({ name: `${what}: strata's per-migration overhead ≤ ½ of dbmate's`, ok: null, detail: 'not measured (strata or dbmate missing)' });
  }
  ctx.shared.overheads = { ...ctx.shared.overheads, [what]: over };
  const applied = ctx.shared.overheads.apply?.dbmate?.perMigration.median;
  if (what === 'rollback' && strata !== undefined && applied !== undefined && applied > 0) {
    // dbmate reverts one migration per process, so its rollback overhead is mostly process starts;
    // this stricter line holds strata's rollback to dbmate's in-process cost per migration (its apply).
    targets.push({
      name: "rollback (informational, stricter): strata's per-migration overhead ≤ ½ of dbmate's *apply* overhead",
      ok: strata <= applied / 2,
      informational: true,
      detail: `strata ${strata.toFixed(2)} ms, dbmate apply ${applied.toFixed(2)} ms (limit ${(applied / 2).toFixed(2)} ms)`,
    });
  }
  return { columns: [`per migration over ${baseline}`], cells, figures: { migrations: suite.count, baseline, overheadMs: over }, targets };
}

/**
 * One subject per tool that applies: a fresh database `<prefix>_<tool>` per run (its URL passed
 * through `connect`, e.g. to go through a proxy), the apply timed, the tables checked afterwards.
 */
export function applySubjects(ctx, suite, { prefix = 'bench_apply', connect = (url) => url, what = 'apply' } = {}) {
  return suite.tools.filter((t) => t.apply).map((tool) => {
    const database = `${prefix}_${slug(tool.name)}`;
    return {
      name: tool.name,
      note: noteFor(tool, 'apply'),
      prepare: async () => connect(await ctx.server.createDatabase(database)),
      run: async (url) => {
        const ms = await tool.apply(url);
        await suite.expectTables(database, suite.count, `${tool.name} ${what}`);
        return ms;
      },
      cleanup: () => ctx.server.dropDatabase(database),
    };
  });
}

export default {
  name: 'apply',
  title: 'apply N trivial migrations to an empty database',
  defaults: { rounds: 5, warmup: 1 },
  async setup(ctx) {
    const suite = await trivialSuite(ctx);
    return { subjects: applySubjects(ctx, suite), title: `apply ${suite.count} trivial migrations (fresh database per run)`, suite };
  },
  summarise: (results, ctx, setup) => summariseOverhead(results, setup.suite, 'apply', ctx),
};
