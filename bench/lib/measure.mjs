/**
 * Timing and statistics. Every benchmark is run interleaved: round 1 runs each subject once, round 2
 * again, … (the start rotates by one each round), because this machine drifts by 20–40 % over
 * minutes and back-to-back blocks would turn drift into false rankings (issue 7).
 */
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';

/** Thrown when a timed command exits non-zero; carries the tail of its output. */
export class CommandFailed extends Error {}

/**
 * Runs a command to completion and returns its whole-process wall time in ms (spawn to exit,
 * as a user's shell would see it). Rejects with the tail of its output on a non-zero exit.
 */
export function timeProcess(file, args, { cwd, env, input } = {}) {
  return new Promise((resolve, reject) => {
    let output = '';
    const keep = (chunk) => { output = (output + chunk.toString()).slice(-8000); };
    const started = performance.now();
    const child = spawn(file, args, { cwd, env: env ?? process.env, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    if (input !== undefined) child.stdin.end(input);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const ms = performance.now() - started;
      if (code === 0) return resolve(ms);
      const tail = output.trim().split('\n').slice(-6).join('\n');
      reject(new CommandFailed(`${[file, ...args].join(' ')} exited ${code ?? signal}:\n${tail}`));
    });
  });
}

/** Median, min and max of numbers. */
export function stats(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  if (n === 0) return { median: NaN, min: NaN, max: NaN, n: 0 };
  const median = n % 2 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  return { median, min: sorted[0], max: sorted[n - 1], n };
}

/** Turns a subject's run() result into a sample: a number is `ms`; an object keeps its numeric fields. */
function asSample(result) {
  if (typeof result === 'number') return { ms: result };
  return Object.fromEntries(Object.entries(result ?? {}).filter(([, v]) => typeof v === 'number'));
}

const rotate = (list, by) => list.map((_, i) => list[(i + by) % list.length]);

/**
 * The order of round `r`: the start rotates by one each round. Subjects that share a `group` (a
 * strata subject and its psql baseline) run back to back, so their per-round comparison sees the
 * same machine state: the groups rotate, and the members rotate within their group (who goes first
 * alternates). Without groups this is the plain rotation.
 */
export function roundOrder(subjects, r) {
  const groups = [];
  const byKey = new Map();
  for (const subject of subjects) {
    if (subject.group === undefined) { groups.push([subject]); continue; }
    if (!byKey.has(subject.group)) { byKey.set(subject.group, []); groups.push(byKey.get(subject.group)); }
    byKey.get(subject.group).push(subject);
  }
  return rotate(groups, r).flatMap((members) => rotate(members, r));
}

/**
 * Runs `rounds` interleaved rounds (after `warmup` untimed ones) of the subjects, in `roundOrder`. Each subject:
 * { name, group?, prepare?(round) → state (untimed), run(state, round) → ms | {ms, …}, cleanup?(state) (untimed) }.
 * Returns { [subject]: { samples: [{ms, …}], failures: [message] } }; a subject that fails is
 * recorded and skipped in later rounds, the others go on.
 */
export async function interleave(subjects, { rounds, warmup = 0, log = () => {}, label = '' }) {
  const results = Object.fromEntries(subjects.map((s) => [s.name, { samples: [], failures: [] }]));
  const total = warmup + rounds;
  for (let r = 0; r < total; r++) {
    const timed = r >= warmup;
    const order = roundOrder(subjects, r);
    const line = [];
    for (const subject of order) {
      const slot = results[subject.name];
      if (slot.failures.length > 0) continue;
      let state;
      try {
        state = subject.prepare ? await subject.prepare(r) : undefined;
        const sample = asSample(await subject.run(state, r));
        if (timed) slot.samples.push(sample);
        line.push(`${subject.name} ${sample.ms?.toFixed(0)}`);
      } catch (error) {
        slot.failures.push(error.message);
        log(`${label}: ${subject.name} failed and is left out: ${error.message}`);
      } finally {
        if (subject.cleanup) await subject.cleanup(state).catch((e) => log(`${label}: cleanup of ${subject.name}: ${e.message}`));
      }
    }
    log(`${label} ${timed ? `round ${r - warmup + 1}/${rounds}` : `warm-up ${r + 1}/${warmup}`}: ${line.join(', ')} (ms)`);
  }
  return results;
}

/** Per-key stats of a subject's samples: { ms: {median, min, max, n}, … }. */
export function summarise(samples) {
  const keys = new Set(samples.flatMap((s) => Object.keys(s)));
  return Object.fromEntries([...keys].map((k) => [k, stats(samples.map((s) => s[k]).filter((v) => typeof v === 'number'))]));
}

/**
 * Paired per-round differences `a - b` (same round, so drift cancels), as stats. Rounds where
 * either side has no sample are skipped.
 */
export function pairedDifference(aSamples, bSamples, key = 'ms') {
  const n = Math.min(aSamples.length, bSamples.length);
  const diffs = [];
  for (let i = 0; i < n; i++) diffs.push(aSamples[i][key] - bSamples[i][key]);
  return stats(diffs);
}
