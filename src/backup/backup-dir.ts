/**
 * The life of a backup directory (SPEC §6): checked for room, created as `<name>.incomplete`
 * (mode 0700), fsynced, then renamed to `<name>` — or removed on failure. A directory without
 * `.incomplete` is therefore always a complete, verified backup.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { MigrationFailed } from '../errors.js';
import { backupDirName } from './names.js';

/** Suffix of a backup still being written (or left behind by a failure that could not clean up). */
export const INCOMPLETE_SUFFIX = '.incomplete';

/** Free bytes available to us on the file system holding `dir` (a seam: tests simulate a full disk). */
export type FreeSpaceProbe = (dir: string) => Promise<number>;

/** `fs.statfs`: blocks available to unprivileged users × block size. */
export const statfsFreeSpace: FreeSpaceProbe = async (dir) => {
  const stats = await fs.statfs(dir);
  return Number(stats.bavail) * Number(stats.bsize);
};

/**
 * How many bytes a backup of tables of `tableBytes` (`pg_table_size`: heap + TOAST, no indexes)
 * may need. CSV text of typical rows is 0.5–1.2× the heap (the benchmark table: 175 MB of CSV
 * from 159 MB of heap); bytea (hex, 2×) and compressed TOAST values grow more. 1.25× plus 1 MiB
 * of slack is the refusal threshold; a disk that fills anyway is still caught by the write path
 * (ENOSPC removes the incomplete directory).
 */
export function estimateBackupBytes(tableBytes: number): number {
  return Math.ceil(tableBytes * 1.25) + 1024 * 1024;
}

/** A backup directory being written. */
export interface BackupDir {
  /** Final path, `<root>/<yyyymmddThhmmssZ>_<reason>`. */
  final: string;
  /** Where files are written until everything is verified. */
  incomplete: string;
}

/** Refuses when the estimate exceeds the free space, then creates the root if needed (0700). */
export async function prepareRoot(root: string, neededBytes: number, probe: FreeSpaceProbe): Promise<void> {
  let free: number;
  try {
    free = await probe(await nearestExisting(root));
  } catch (error) {
    throw new MigrationFailed(`cannot read the free space of ${root}: ${describeFsError(error)}`, { cause: error });
  }
  // SPEC §6: refused (exit 1, nothing touched) when the tables' size exceeds the free space.
  if (neededBytes > free) {
    throw new MigrationFailed(
      `backup refused: the tables need about ${formatBytes(neededBytes)} and ${root} has ${formatBytes(free)} free; nothing was written`,
      { hint: 'free some space, or pass --backup-dir on a larger disk' },
    );
  }
  try {
    await fs.mkdir(root, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new MigrationFailed(`cannot create the backup directory ${root}: ${describeFsError(error)}`, { cause: error });
  }
}

/** The root itself, or its closest existing ancestor (the disk it will be on). */
async function nearestExisting(dir: string): Promise<string> {
  let current = path.resolve(dir);
  while (!(await exists(current)) && path.dirname(current) !== current) current = path.dirname(current);
  return current;
}

/** Creates `<root>/<name>.incomplete` with mode 0700; `-2`, `-3`… when the name is taken within the same second. */
export async function createBackupDir(root: string, at: Date, reason: string): Promise<BackupDir> {
  const base = backupDirName(at, reason);
  for (let n = 1; n < 100; n++) {
    const final = path.join(root, n === 1 ? base : `${base}-${n}`);
    const incomplete = `${final}${INCOMPLETE_SUFFIX}`;
    if (await exists(final)) continue;
    try {
      await fs.mkdir(incomplete, { mode: 0o700 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw new MigrationFailed(`cannot create ${incomplete}: ${describeFsError(error)}`, { cause: error });
    }
    await fs.chmod(incomplete, 0o700); // whatever the umask
    return { final, incomplete };
  }
  throw new MigrationFailed(`cannot find a free backup directory name for ${path.join(root, base)}`);
}

/** Makes the directory durable and gives it its final name (SPEC §6: only after every file is verified). */
export async function commitBackupDir(dir: BackupDir): Promise<void> {
  await fsyncDir(dir.incomplete);
  if (await exists(dir.final)) throw new Error(`${dir.final} appeared while the backup was written`);
  await fs.rename(dir.incomplete, dir.final);
  await fsyncDir(path.dirname(dir.final));
}

/** Removes an incomplete directory; returns why it could not, if so. */
export async function discardBackupDir(dir: BackupDir): Promise<string | undefined> {
  try {
    await fs.rm(dir.incomplete, { recursive: true, force: true });
    return undefined;
  } catch (error) {
    return describeFsError(error);
  }
}

/** `fsync` of a directory makes the names in it (new files, a rename) durable. */
export async function fsyncDir(dir: string): Promise<void> {
  if (process.platform === 'win32') return; // directories cannot be opened for fsync there
  const handle = await fs.open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** One line for a file-system error: `ENOSPC: no space left on device, write`. */
export function describeFsError(error: unknown): string {
  const err = error as NodeJS.ErrnoException;
  if (typeof err?.code === 'string' && typeof err.message === 'string') {
    return err.message.startsWith(err.code) ? err.message : `${err.code}: ${err.message}`;
  }
  return error instanceof Error ? error.message : String(error);
}

/** `1.5 GiB`. */
export function formatBytes(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) { value /= 1024; unit += 1; }
  return unit === 0 ? `${value} bytes` : `${value.toFixed(1)} ${units[unit]}`;
}

async function exists(file: string): Promise<boolean> {
  return fs.lstat(file).then(() => true, () => false);
}
