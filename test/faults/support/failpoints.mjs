/**
 * Failpoints inside the `migrate` process, for fault tests only (loaded with
 * `NODE_OPTIONS=--import <this file>`; see faults/support/cli.ts `failpointEnv`).
 *
 * A backup's life on disk is a handful of file-system calls (src/backup/backup-dir.ts, file-sink.ts,
 * manifest.ts): mkdir `<name>.incomplete`, write and fsync each CSV, write and fsync manifest.json,
 * rename to `<name>`. To stop a run deterministically between any two of them, this hook wraps the
 * `node:fs/promises` functions strata calls through its default import and, at the chosen point,
 * freezes the whole process (Atomics.wait: no event loop, no socket reads, nothing moves) after
 * writing `<dir>/hit`. The test then does its damage (SIGKILL, pg_terminate_backend, removing the
 * directory) and, if the process is still alive, writes `<dir>/release` to let it go on.
 *
 * STRATA_TEST_FAILPOINT      `<point>#<n>`: stop at the n-th time (1-based) `point` is reached
 * STRATA_TEST_FAILPOINT_DIR  directory for the `hit` / `release` files
 *
 * Points: backup.mkdir (after `<name>.incomplete` is created), backup.csv.write (after the first
 * write to a CSV file: the file holds its first MiB, or all of a small table, not yet fsynced),
 * backup.csv.synced (after a CSV is fsynced, before its manifest entry exists),
 * backup.manifest.synced (manifest.json written and fsynced, directory still `.incomplete`),
 * backup.rename.before, backup.rename.after (the directory has its final name; the destructive
 * statement has not run yet).
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';

const spec = process.env.STRATA_TEST_FAILPOINT ?? '';
const dir = process.env.STRATA_TEST_FAILPOINT_DIR ?? '';

if (spec && dir) {
  const [point, nth = '1'] = spec.split('#');
  const wanted = Number(nth);
  let seen = 0;
  const sleeper = new Int32Array(new SharedArrayBuffer(4));

  /** Called at every point; stops the process at the wanted one. */
  const reach = (name, detail) => {
    if (name !== point) return;
    seen += 1;
    if (seen !== wanted) return;
    // Written aside, then renamed: the test polls for `hit` and parses it at once, and a file that
    // exists is not yet a file that holds its JSON (writeFileSync creates it empty, then writes).
    const hit = path.join(dir, 'hit');
    fs.writeFileSync(`${hit}.tmp`, JSON.stringify({ point: name, detail, pid: process.pid }));
    fs.renameSync(`${hit}.tmp`, hit);
    const release = path.join(dir, 'release');
    // Frozen, not merely awaiting: timers, sockets and streams all stand still until released.
    while (!fs.existsSync(release)) Atomics.wait(sleeper, 0, 0, 10);
  };

  const isCsv = (file) => typeof file === 'string' && file.endsWith('.csv');
  const isManifest = (file) => typeof file === 'string' && path.basename(file) === 'manifest.json';

  const mkdir = fsp.mkdir;
  fsp.mkdir = async function (target, ...rest) {
    const result = await mkdir.call(this, target, ...rest);
    if (String(target).endsWith('.incomplete')) reach('backup.mkdir', String(target));
    return result;
  };

  const rename = fsp.rename;
  fsp.rename = async function (from, to) {
    const incomplete = String(from).endsWith('.incomplete');
    if (incomplete) reach('backup.rename.before', String(from));
    const result = await rename.call(this, from, to);
    if (incomplete) reach('backup.rename.after', String(to));
    return result;
  };

  const open = fsp.open;
  fsp.open = async function (file, flags, ...rest) {
    const handle = await open.call(this, file, flags, ...rest);
    const writing = typeof flags === 'string' && flags.includes('w');
    if (writing && isCsv(String(file))) {
      let writes = 0;
      const write = handle.write.bind(handle);
      handle.write = async (...args) => {
        const result = await write(...args);
        writes += 1;
        if (writes === 1) reach('backup.csv.write', String(file));
        return result;
      };
      const sync = handle.sync.bind(handle);
      handle.sync = async () => {
        await sync();
        reach('backup.csv.synced', String(file));
      };
    } else if (writing && isManifest(String(file))) {
      const sync = handle.sync.bind(handle);
      handle.sync = async () => {
        await sync();
        reach('backup.manifest.synced', String(file));
      };
    }
    return handle;
  };
}
