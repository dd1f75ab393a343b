/**
 * 011_timezone_awareness on a big table (SPEC §10, issue 6), callable on its own. The benchmark now
 * lives in bench/benchmarks/tz011.mjs and runs in the harness (`node bench/run.mjs --only tz011`);
 * this keeps the older entry point:
 *
 *   import { run } from './tz011.mjs';
 *   const { figures, targets } = await run({ url, scale: 1, log: console.error });
 *
 * `url`: an admin URL of a server (it creates and drops databases `bench_tz011_*`). `scale`: 1 is
 * 2,000,000 rows. Runs `rounds` interleaved rounds (default 3, after 1 warm-up) of psql and strata
 * (this checkout's bin/migrate and migrations/, as they are now) and returns
 * { rows, subjects: { [name]: { stats, samples } }, figures, targets }.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import tz011 from './benchmarks/tz011.mjs';
import { interleave, summarise } from './lib/measure.mjs';
import { provisionServer } from './lib/server.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * @param {{ url: string, scale?: number, log?: (line: string) => void, rounds?: number, warmup?: number,
 *           psql?: string, strataBin?: string, migrationsDir?: string }} options
 */
export async function run({ url, scale = 1, log = () => {}, rounds = 3, warmup = 1, psql = 'psql', strataBin, migrationsDir }) {
  const root = path.join(here, '..');
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-bench-tz011-'));
  const server = await provisionServer({ adminUrl: url, log });
  const ctx = {
    scale, server, work, log, shared: {}, cleanups: [],
    strata: { root, bin: strataBin ?? path.join(root, 'bin', 'migrate'), migrations: migrationsDir },
    psql: { path: psql },
  };
  try {
    const setup = await tz011.setup(ctx);
    if (setup.skip) throw new Error(setup.skip);
    const results = await interleave(setup.subjects, { rounds, warmup, log, label: 'tz011' });
    const { figures, targets } = tz011.summarise(results, ctx, setup);
    const subjects = Object.fromEntries(Object.entries(results).map(([name, r]) => [name, { stats: summarise(r.samples), samples: r.samples, failures: r.failures }]));
    return { rows: setup.rows, subjects, figures, targets };
  } finally {
    for (const fn of ctx.cleanups.reverse()) await fn().catch(() => undefined);
    await server.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
}
