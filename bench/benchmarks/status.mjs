/**
 * Cold start (SPEC §10, issue 7): whole-process wall time of `migrate status` on an up-to-date
 * database with N applied, next to `dbmate status`, node-pg-migrate's nearest equivalent and
 * `node -e 0` (the floor of any Node CLI). Target: ≤ 1.2× `dbmate status` as npm installs it
 * (a Node script that spawns the Go binary; the bare Go binary is shown too).
 */
import { stats, timeProcess } from '../lib/measure.mjs';
import { formatMs } from '../lib/report.mjs';
import { noteFor, slug, trivialSuite } from '../lib/suite.mjs';
import { childEnv } from '../lib/tools.mjs';

export default {
  name: 'status',
  title: 'cold start: status on an up-to-date database',
  defaults: { rounds: 15, warmup: 2 },
  async setup(ctx) {
    const suite = await trivialSuite(ctx);
    const subjects = [{ name: 'node -e 0', note: 'Node start and exit, nothing loaded', run: () => timeProcess(process.execPath, ['-e', '0'], { env: childEnv() }) }];
    const databases = [];
    for (const tool of suite.tools.filter((t) => t.status)) {
      const database = `bench_status_${slug(tool.name)}`;
      const url = await ctx.server.createDatabase(database, await suite.appliedTemplate(tool));
      databases.push(database);
      subjects.push({ name: tool.name, note: noteFor(tool, 'status'), run: () => tool.status(url) });
    }
    ctx.cleanups.push(async () => { for (const d of databases) await ctx.server.dropDatabase(d); });
    return { subjects, title: `status with ${suite.count} applied (whole process)`, suite };
  },
  summarise(results) {
    const med = Object.fromEntries(Object.entries(results).filter(([, r]) => r.samples.length > 0).map(([n, r]) => [n, stats(r.samples.map((s) => s.ms)).median]));
    const referenceName = med['dbmate (npm)'] !== undefined ? 'dbmate (npm)' : 'dbmate';
    const reference = med[referenceName];
    const cells = Object.fromEntries(Object.entries(med).map(([n, m]) => [n, [reference ? `${(m / reference).toFixed(2)}×` : '–']]));
    const strata = med.strata;
    const targets = [{
      name: 'status: strata ≤ 1.2× `dbmate status`',
      ok: strata !== undefined && reference !== undefined ? strata <= 1.2 * reference : null,
      detail: strata !== undefined && reference !== undefined
        ? `strata ${formatMs(strata)}, ${referenceName} ${formatMs(reference)} (limit ${formatMs(1.2 * reference)}; ratio ${(strata / reference).toFixed(2)}); node -e 0 ${formatMs(med['node -e 0'])}, dbmate Go binary ${formatMs(med.dbmate)}`
        : 'not measured (strata or dbmate missing)',
    }];
    return { columns: [`× ${referenceName}`], cells, figures: { medianMs: med, reference: referenceName, referenceMs: reference }, targets };
  },
};
