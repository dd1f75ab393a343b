/**
 * What the migration-overhead benchmarks (apply, status, rollback) share: the trivial fixtures
 * written once, the tools, and one database per tool with every migration applied by that tool
 * (a template: each timed run gets a fresh copy with CREATE DATABASE … TEMPLATE).
 */
import path from 'node:path';
import { migrationTools } from './tools.mjs';
import { writeTrivialMigrations } from './fixtures.mjs';

/** A database-name-safe slug of a tool name. */
export const slug = (name) => name.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_|_$/g, '');

/** A tool's note for one benchmark: its general note and the benchmark's own, joined. */
export const noteFor = (tool, benchmark) => [tool.notes?.all, tool.notes?.[benchmark]].filter(Boolean).join('; ') || undefined;

/** Number of trivial migrations at a scale (300 at scale 1, SPEC §10). */
export const trivialCount = (scale) => Math.max(2, Math.round(300 * scale));

/** The shared state, created on first use and kept on ctx.shared. */
export async function trivialSuite(ctx) {
  if (ctx.shared.trivial) return ctx.shared.trivial;
  const count = trivialCount(ctx.scale);
  const fx = writeTrivialMigrations(path.join(ctx.work, 'trivial'), count);
  const tools = migrationTools({
    strataBin: ctx.strata.bin, strataVersion: ctx.strata.version, psql: ctx.psql.path, psqlVersion: ctx.psql.version,
    peers: ctx.peers, cwd: ctx.work,
  }, fx);
  const templates = new Map();
  const countTables = async (database) => {
    const [row] = await ctx.server.queryIn(database, `SELECT count(*)::int AS n FROM pg_class WHERE relkind = 'r' AND relname ~ '^t_[0-9]+$'`);
    return row.n;
  };
  const suite = {
    count,
    fx,
    tools,
    countTables,
    /** Fails unless `database` holds exactly `expected` of the t_i tables (checks a run did its work; untimed). */
    async expectTables(database, expected, what) {
      const n = await countTables(database);
      if (n !== expected) throw new Error(`${what}: ${n} tables t_i after the run, expected ${expected}`);
    },
    /** Name of a database where `tool` applied every migration (made once, untimed). */
    async appliedTemplate(tool) {
      const owner = tool.appliedBy ? tools.find((t) => t.name === tool.appliedBy) : tool;
      if (!templates.has(owner.name)) {
        const name = `bench_tmpl_${slug(owner.name)}`;
        templates.set(owner.name, (async () => {
          const url = await ctx.server.createDatabase(name);
          await owner.apply(url);
          await suite.expectTables(name, count, `${owner.name} apply (template)`);
          return name;
        })());
      }
      return templates.get(owner.name);
    },
  };
  ctx.shared.trivial = suite;
  ctx.cleanups.push(async () => { for (const name of await Promise.all(templates.values()).catch(() => [])) await ctx.server.dropDatabase(name); });
  return suite;
}

/**
 * Overhead of each tool over the baseline, total and per migration, from per-round paired
 * differences (same round, so drift cancels): { [tool]: { total: stats, perMigration: stats } }.
 */
export function overheads(results, baselineName, count, pairedDifference) {
  const base = results[baselineName]?.samples ?? [];
  const out = {};
  for (const [name, { samples }] of Object.entries(results)) {
    if (name === baselineName || samples.length === 0 || base.length === 0) continue;
    const total = pairedDifference(samples, base);
    out[name] = { total, perMigration: { median: total.median / count, min: total.min / count, max: total.max / count, n: total.n } };
  }
  return out;
}
