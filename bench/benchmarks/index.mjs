/**
 * The benchmarks `npm run bench` knows, in run order. Adding one is adding a module here.
 *
 * A benchmark module's default export:
 *
 *   {
 *     name: 'apply',                       // what --only selects
 *     title: 'one line for the table',
 *     defaults: { rounds: 5, warmup: 1 },  // --rounds / --warmup override them
 *     async setup(ctx) {                   // once, untimed; return { skip: 'why' } to skip
 *       return {
 *         title?,                          // replaces `title` once sizes are known
 *         subjects: [{                     // run interleaved: round r runs every subject once
 *           name, note?, group?,       // same group: run back to back (strata next to its baseline)
 *           prepare?(round) → state,       // untimed (e.g. a fresh database)
 *           run(state, round) → ms | { ms, …other numbers },   // the timed part
 *           cleanup?(state),               // untimed
 *         }],
 *         …anything summarise needs,
 *       };
 *     },
 *     summarise(results, ctx, setup) {     // results: { [subject]: { samples: [{ms, …}], failures } }
 *       return { columns: [...], cells: { [subject]: [...] }, figures: {…JSON}, targets: [{ name, ok, detail }] };
 *     },
 *   }
 *
 * `ctx` (see run.mjs): { scale, rttMs (--rtt), repo (the checkout), work (a temp dir), server (createDatabase,
 * dropDatabase, urlFor, query, queryIn, adminUrl, version), peers (dbmate, nodePgMigrate), strata
 * ({ root, bin, version }: a copy of bin/, dist/ and migrations/ taken at start, so a rebuild during
 * the run changes nothing; import built modules from `${ctx.strata.root}/dist/…`), psql ({ path,
 * version }), log, shared (memo across benchmarks), cleanups (pushed fns run at the end) }.
 * Helpers: lib/measure.mjs (timeProcess, stats, pairedDifference), lib/suite.mjs (the trivial
 * migrations and the tools), lib/report.mjs (formatting). Numbers beyond `ms` a run
 * returns (rows/s, peak RSS in MB, …) get their own median/min–max in the JSON.
 *
 * Modules are imported lazily: one whose feature is not built yet (its import of ../dist/… fails)
 * is reported as skipped, and the others run.
 */
export const registry = [
  { name: 'apply', load: () => import('./apply.mjs') },
  { name: 'apply-net', load: () => import('./apply-net.mjs') },
  //     the same, each tool talking to PostgreSQL through a link with a round trip of --rtt ms (default 2).
  { name: 'status', load: () => import('./status.mjs') },
  { name: 'rollback', load: () => import('./rollback.mjs') },
  { name: 'backup', load: () => import('./backup.mjs') },
  //     `migrate backup` / `migrate restore --truncate` vs `psql \copy` on the same 1M-row table (× scale), a
  //     2× table for the peak RSS, and 4 tables (parallel snapshot) vs psql one after another.
  { name: 'backfill', load: () => import('./backfill.mjs') },
  //     phases 002–004 on generated MVP data (10,000 users, ~1M messages × scale) vs `psql -f` of their SQL.
  { name: 'tz011', load: () => import('./tz011.mjs') },
  //     011 on a 2M-row table vs the bare ALTER TABLE in psql: ≤ 1.1×, pg_class.relfilenode unchanged.
  { name: 'import', load: () => import('./import.mjs') },
  //     import-profiles of 10,000 generated user folders (3 files each), first run and re-run: ≥ 10,000 profiles/s.
];

/** Work that is planned but has no module yet: listed by `--list` and in the report. */
export const planned = [];
