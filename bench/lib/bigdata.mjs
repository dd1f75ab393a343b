/**
 * Helpers of the data benchmarks (backup, backfill, tz011): a whole-process timer that also reports
 * the process's peak RSS, databases copied from big templates, and the psql invocation they share.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { CommandFailed } from './measure.mjs';

const GNU_TIME = '/usr/bin/time';

/** True when GNU time is there (its `-f %M -o FILE` gives the child's exact peak RSS, from wait4). */
const haveGnuTime = (() => {
  try {
    fs.accessSync(GNU_TIME, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
})();

/** How peak RSS is measured, for the notes. */
export const rssMethod = haveGnuTime
  ? 'peak RSS = ru_maxrss of the process (GNU time -f %M)'
  : 'peak RSS = VmHWM of /proc/<pid>/status, polled every 20 ms (GNU time is not installed)';

let sequence = 0;

/**
 * Runs a command to completion: { ms (spawn to exit, as timeProcess), rssMb (peak resident set
 * size of the process, MiB), stdout }. With GNU time the command runs under it (one extra fork +
 * exec, well under a millisecond, for every subject alike); without it, /proc is polled.
 * Rejects with the tail of the output on a non-zero exit.
 */
export function timeProcessRss(file, args, { cwd, env, tmpdir = '/tmp' } = {}) {
  const rssFile = `${tmpdir}/rss-${process.pid}-${sequence++}.txt`;
  const [command, commandArgs] = haveGnuTime ? [GNU_TIME, ['-f', '%M', '-o', rssFile, file, ...args]] : [file, args];
  return new Promise((resolve, reject) => {
    let stdout = '';
    let tail = '';
    let hwmKb = 0;
    const started = performance.now();
    const child = spawn(command, commandArgs, { cwd, env: env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const poll = haveGnuTime ? undefined : setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+)/.exec(fs.readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) hwmKb = Math.max(hwmKb, Number(m[1]));
      } catch {
        // exited between two polls
      }
    }, 20);
    child.stdout.on('data', (c) => { stdout += c; tail = (tail + c).slice(-8000); });
    child.stderr.on('data', (c) => { tail = (tail + c).slice(-8000); });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const ms = performance.now() - started;
      if (poll) clearInterval(poll);
      let rssKb = hwmKb;
      if (haveGnuTime) {
        try {
          // GNU time writes "Command exited with non-zero status N" before the figure on failure.
          rssKb = Number(fs.readFileSync(rssFile, 'utf8').trim().split('\n').at(-1));
          fs.rmSync(rssFile, { force: true });
        } catch {
          rssKb = NaN;
        }
      }
      if (code === 0) return resolve({ ms, rssMb: rssKb / 1024, stdout });
      const lines = tail.trim().split('\n').slice(-6).join('\n');
      reject(new CommandFailed(`${[file, ...args].join(' ')} exited ${code ?? signal}:\n${lines}`));
    });
  });
}

const quoteIdent = (name) => `"${name.replace(/"/g, '""')}"`;

/**
 * A copy of a big template database, untimed. STRATEGY FILE_COPY (PostgreSQL 15+): a file-level
 * copy after a checkpoint, much faster than the default WAL_LOG for hundreds of MB, and cheap with
 * fsync off. A CHECKPOINT after it, so no dirty buffers of the copy are written during a timed run.
 */
export async function copyDatabase(server, name, template) {
  await server.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
  const strategy = server.versionNum >= 150000 ? ' STRATEGY FILE_COPY' : '';
  await server.query(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE ${quoteIdent(template)}${strategy}`);
  await server.query('CHECKPOINT');
  return server.urlFor(name);
}

/** The psql command line every data benchmark uses: no ~/.psqlrc, quiet, stop on the first error. */
export const psqlArgs = (url, ...rest) => ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url, ...rest];

/** `x / baseline` as "1.05×". */
export const ratio = (x, baseline) => (Number.isFinite(x) && Number.isFinite(baseline) && baseline > 0 ? `${(x / baseline).toFixed(2)}×` : '–');

/** Per-round ratios a[i].key / b[i].key (same round, so drift cancels), as numbers. */
export function pairedRatios(aSamples, bSamples, key = 'ms') {
  const n = Math.min(aSamples.length, bSamples.length);
  const out = [];
  for (let i = 0; i < n; i++) out.push(aSamples[i][key] / bSamples[i][key]);
  return out;
}
