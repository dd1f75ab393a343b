#!/usr/bin/env node
/**
 * `npm run bench` (SPEC §10, issue 7): strata next to the tools our users would pick instead, in one
 * run on one PostgreSQL, interleaved, reported as medians with min–max.
 *
 *   node bench/run.mjs [--scale F] [--only a,b] [--rounds N] [--warmup N] [--durable] [--rtt MS]
 *                      [--admin-url URL] [--peers DIR] [--out FILE] [--check] [--list]
 *
 * Plain ESM importing the built code from ../dist (no TS loader): run `npm run build` first, which
 * `npm run bench` does. Benchmarks are modules in bench/benchmarks/ (see index.mjs for the contract).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');

const USAGE = `usage: node bench/run.mjs [options]
  --scale F        size factor (default 1: 300 migrations; 0.1 for a quick smoke run)
  --only a,b       run only these benchmarks (see --list)
  --rounds N       timed rounds per benchmark (default: each benchmark's own, 5 or 15)
  --warmup N       untimed rounds first (default: each benchmark's own)
  --durable        PostgreSQL with fsync/synchronous_commit on (default: off, like the tests)
  --rtt MS         round-trip time of the network link of apply-net (default 2; whole ms, at least 2)
  --admin-url URL  use this server (a superuser URL) instead of an embedded one
  --peers DIR      reuse peers installed with npm install --prefix DIR dbmate node-pg-migrate pg
  --out FILE       JSON figures (default bench/results/latest.json; a .md beside it too)
  --check          exit 1 when a target is missed
  --list           list the benchmarks and exit`;

function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      scale: { type: 'string', default: '1' },
      only: { type: 'string' },
      rounds: { type: 'string' },
      warmup: { type: 'string' },
      durable: { type: 'boolean', default: false },
      rtt: { type: 'string', default: '2' },
      'admin-url': { type: 'string' },
      peers: { type: 'string' },
      out: { type: 'string', default: path.join(here, 'results', 'latest.json') },
      check: { type: 'boolean', default: false },
      list: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const number = (flag, v, integer) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) throw new Error(`invalid --${flag} "${v}"`);
    return n;
  };
  return {
    ...values,
    scale: number('scale', values.scale, false),
    rounds: number('rounds', values.rounds, true),
    rtt: number('rtt', values.rtt, false),
    warmup: values.warmup === '0' ? 0 : number('warmup', values.warmup, true),
    only: values.only?.split(',').map((s) => s.trim()).filter(Boolean),
  };
}

const log = (message) => process.stderr.write(`[bench] ${message}\n`);

function commandOutput(file, args) {
  try {
    return execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

function machine(serverVersion) {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model.trim(),
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    postgres: serverVersion,
  };
}

/**
 * strata as built when the bench starts, copied into the work dir (node_modules linked): other
 * people rebuild dist/ in this checkout while a bench runs, and a run must time one build.
 */
function strataSnapshot(work) {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
  const commit = commandOutput('git', ['-C', root, 'rev-parse', '--short', 'HEAD']);
  const dirty = commandOutput('git', ['-C', root, 'status', '--porcelain', '--untracked-files=no', '--', 'src']);
  const snapshot = path.join(work, 'strata');
  fs.mkdirSync(snapshot);
  for (const entry of ['bin', 'dist', 'package.json', 'migrations'].filter((e) => fs.existsSync(path.join(root, e)))) fs.cpSync(path.join(root, entry), path.join(snapshot, entry), { recursive: true });
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(snapshot, 'node_modules'), 'dir');
  return {
    root: snapshot,
    bin: path.join(snapshot, 'bin', 'migrate'),
    version: `${pkg.version}${commit ? ` (${commit}${dirty ? ', src modified' : ''})` : ''}`,
  };
}

async function main() {
  const options = parseOptions(process.argv.slice(2));
  const { registry, planned } = await import('./benchmarks/index.mjs');
  if (options.help) return console.log(USAGE), 0;
  if (options.list) {
    for (const b of registry) console.log(b.name);
    for (const p of planned) console.log(`${p.name} (planned: ${p.about})`);
    return 0;
  }
  const unknown = (options.only ?? []).filter((n) => !registry.some((b) => b.name === n));
  if (unknown.length > 0) throw new Error(`unknown benchmark ${unknown.join(', ')}; --list shows them`);
  const selected = registry.filter((b) => !options.only || options.only.includes(b.name));
  if (!fs.existsSync(path.join(root, 'dist', 'cli', 'main.js'))) throw new Error('dist/ is missing: run npm run build (npm run bench does)');

  const { provisionServer } = await import('./lib/server.mjs');
  const { installPeers } = await import('./lib/peers.mjs');
  const { interleave, summarise } = await import('./lib/measure.mjs');
  const { formatStats, markdownTable, textTable } = await import('./lib/report.mjs');

  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'strata-bench-'));
  const cleanups = [];
  const started = new Date();
  const loadBefore = os.loadavg();
  let server;
  let peers;
  const interrupt = async () => {
    log('interrupted; cleaning up');
    for (const fn of cleanups.reverse()) await fn().catch(() => undefined);
    await server?.stop();
    await peers?.cleanup();
    fs.rmSync(work, { recursive: true, force: true });
    process.exit(130);
  };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);

  const report = { startedAt: started.toISOString(), command: `node bench/run.mjs ${process.argv.slice(2).join(' ')}`.trim(), options: { ...options, out: undefined }, benchmarks: [], skipped: [], peersMissing: [] };
  const targets = [];
  const sections = [];
  try {
    [server, peers] = await Promise.all([
      provisionServer({ adminUrl: options['admin-url'], durable: options.durable, log }),
      installPeers({ dir: options.peers, log }),
    ]);
    report.peersMissing = peers.missing;
    const psqlPath = commandOutput('sh', ['-c', 'command -v psql']) ?? 'psql';
    const ctx = {
      scale: options.scale,
      rttMs: options.rtt,
      repo: root,
      work,
      server,
      peers,
      strata: strataSnapshot(work),
      psql: { path: psqlPath, version: commandOutput(psqlPath, ['--version'])?.replace(/^psql \(PostgreSQL\) /, '') },
      log,
      shared: {},
      cleanups,
    };
    report.machine = machine(server.version);
    report.server = { kind: server.kind, settings: server.settings };
    report.versions = {
      strata: ctx.strata.version,
      psql: ctx.psql.version,
      dbmate: peers.dbmate?.version,
      'node-pg-migrate': peers.nodePgMigrate ? `${peers.nodePgMigrate.version} (pg ${peers.nodePgMigrate.pg})` : undefined,
    };

    for (const entry of selected) {
      let module;
      try {
        module = (await entry.load()).default;
      } catch (error) {
        log(`${entry.name}: skipped, its module does not load (${error.message})`);
        report.skipped.push({ name: entry.name, reason: error.message });
        continue;
      }
      let setup;
      try {
        setup = await module.setup(ctx);
      } catch (error) {
        // One benchmark whose setup fails (a half-written module, a feature that broke) must not end the run.
        log(`${entry.name}: skipped, its setup failed: ${error.stack ?? error}`);
        report.skipped.push({ name: entry.name, reason: `setup failed: ${error.message}` });
        continue;
      }
      if (setup.skip) {
        log(`${entry.name}: skipped (${setup.skip})`);
        report.skipped.push({ name: entry.name, reason: setup.skip });
        continue;
      }
      const rounds = options.rounds ?? module.defaults?.rounds ?? 5;
      const warmup = options.warmup ?? module.defaults?.warmup ?? 0;
      const title = setup.title ?? module.title;
      log(`${entry.name}: ${title}: ${setup.subjects.map((s) => s.name).join(', ')}; ${warmup} warm-up + ${rounds} rounds, interleaved`);
      const results = await interleave(setup.subjects, { rounds, warmup, log, label: entry.name });
      const summary = module.summarise(results, ctx, setup);
      const header = ['subject', 'median (min–max)', ...(summary.columns ?? [])];
      const rows = setup.subjects.map((s) => {
        const r = results[s.name];
        const time = r.samples.length > 0 ? formatStats(summarise(r.samples).ms) : `failed: ${r.failures[0]?.split('\n')[0]}`;
        return [s.name, time, ...(summary.cells?.[s.name] ?? [])];
      });
      const section = { name: entry.name, title, rounds, warmup, header, rows, notes: setup.subjects.filter((s) => s.note).map((s) => `${s.name}: ${s.note}`) };
      sections.push(section);
      console.log(`\n== ${entry.name}: ${title} (${rounds} rounds, interleaved)\n${textTable(header, rows)}`);
      for (const t of summary.targets ?? []) {
        targets.push(t);
        console.log(`   ${t.informational ? 'info  ' : 'target'} ${t.ok === null ? 'n/a' : t.ok ? 'MET' : 'MISSED'}: ${t.name} — ${t.detail}`);
      }
      report.benchmarks.push({
        name: entry.name,
        title,
        rounds,
        warmup,
        subjects: Object.fromEntries(setup.subjects.map((s) => [s.name, { note: s.note, stats: summarise(results[s.name].samples), samples: results[s.name].samples, failures: results[s.name].failures }])),
        figures: summary.figures,
        targets: summary.targets,
      });
    }
  } finally {
    for (const fn of cleanups.reverse()) await fn().catch((e) => log(`cleanup: ${e.message}`));
    await server?.stop();
    await peers?.cleanup();
    fs.rmSync(work, { recursive: true, force: true });
  }
  report.finishedAt = new Date().toISOString();
  report.loadAverage = { before: loadBefore, after: os.loadavg() };
  report.planned = planned;

  fs.mkdirSync(path.dirname(options.out), { recursive: true });
  fs.writeFileSync(options.out, `${JSON.stringify(report, null, 2)}\n`);
  const md = renderMarkdown(report, sections, markdownTable);
  fs.writeFileSync(options.out.replace(/\.json$/, '') + '.md', md);
  const seconds = ((Date.parse(report.finishedAt) - started.getTime()) / 1000).toFixed(0);
  const counted = targets.filter((t) => !t.informational);
  if (report.peersMissing.length > 0) console.log(`\nleft out: ${report.peersMissing.join('; ')}`);
  console.log(`\n${counted.filter((t) => t.ok === true).length} of ${counted.length} targets met; ${seconds} s; load average ${loadBefore.map((l) => l.toFixed(1)).join(' ')} → ${report.loadAverage.after.map((l) => l.toFixed(1)).join(' ')}`);
  console.log(`figures: ${path.relative(process.cwd(), options.out)} (and .md)`);
  return options.check && counted.some((t) => t.ok === false) ? 1 : 0;
}

/** The figures as markdown, for pasting into BENCHMARKS.md. */
function renderMarkdown(report, sections, markdownTable) {
  const m = report.machine ?? {};
  const lines = [
    `Run ${report.startedAt} with \`${report.command}\`.`,
    '',
    `Machine: ${m.cpus} × ${m.cpuModel}, ${m.memoryGiB} GiB, ${m.os}; Node ${m.node}; ${m.postgres}` +
      ` (${report.server?.kind}${report.server?.settings && Object.keys(report.server.settings).length ? `, ${Object.entries(report.server.settings).map(([k, v]) => `${k}=${v}`).join(' ')}` : ''}).` +
      ` Load average ${report.loadAverage.before.map((l) => l.toFixed(1)).join(' ')} before, ${report.loadAverage.after.map((l) => l.toFixed(1)).join(' ')} after.`,
    '',
    `Versions: ${Object.entries(report.versions ?? {}).filter(([, v]) => v).map(([k, v]) => `${k} ${v}`).join(', ')}.`,
  ];
  if (report.peersMissing.length) lines.push('', `Left out: ${report.peersMissing.join('; ')}.`);
  for (const s of sections) {
    lines.push('', `### ${s.name}: ${s.title}`, '', `${s.rounds} interleaved rounds after ${s.warmup} warm-up; median (min–max).`, '', markdownTable(s.header, s.rows));
    if (s.notes.length) lines.push('', ...s.notes.map((n) => `- ${n}`));
  }
  const targets = report.benchmarks.flatMap((b) => b.targets ?? []);
  if (targets.length) {
    lines.push('', '### Targets', '', ...targets.map((t) => `- ${t.ok === null ? 'n/a' : t.ok ? 'met' : '**missed**'}${t.informational ? ' (informational)' : ''}: ${t.name} — ${t.detail}`));
  }
  for (const s of report.skipped) lines.push(`- skipped ${s.name}: ${s.reason}`);
  return `${lines.join('\n')}\n`;
}

main().then((code) => { process.exitCode = code; }, (error) => {
  log(`error: ${error.stack ?? error}`);
  process.exitCode = 1;
});
