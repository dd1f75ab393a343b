/**
 * Reading a profiles directory (SPEC §9): `DIR/<user>/{profile,preferences,patterns}.md`.
 * Every bad input is collected with its path rather than thrown, so one run lists them all.
 * Plain files directly in DIR (a README) and hidden entries anywhere are ignored; a symlink must
 * resolve inside DIR, so a profile tree can never read `/etc/passwd` into the database.
 */
import type { Dirent, Stats } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { PROFILE_COLUMNS, PROFILE_FILES, type ImportIssue, type ProfileColumn } from './types.js';

/** Largest profile file read (SPEC §9: bigger is an error, checked before reading). */
export const MAX_FILE_BYTES = 1024 * 1024;

/** One markdown file, read and decoded (UTF-8, BOM stripped, line endings LF), then `content` = read(text). */
export interface SourceFile<T> {
  column: ProfileColumn;
  path: string;
  content: T;
}

/** Turns a file's text into what is kept of it (the text itself, or its parsed mapping). */
export type ReadText<T> = (text: string) => T | Promise<T>;

/** One `<user>` folder: its name (the user reference), what could be read, and what could not. */
export interface UserFolder<T> {
  name: string;
  path: string;
  files: SourceFile<T>[];
  errors: ImportIssue[];
}

/** The whole directory: user folders in name order, errors outside any folder, ignored files. */
export interface FolderScan<T> {
  folders: UserFolder<T>[];
  errors: ImportIssue[];
  /** Markdown files in user folders that are not one of the three (a warning, not an error). */
  ignored: string[];
}

// Enough parallel reads to hide filesystem latency without exhausting file descriptors.
const READ_CONCURRENCY = 32;

/**
 * Reads every user folder of `dir`, passing each file's text through `read` as soon as it is read
 * (so only the folders in flight hold raw text); throws `UsageError` only when `dir` is unusable.
 */
export async function readProfileFolders<T>(dir: string, read: ReadText<T>): Promise<FolderScan<T>> {
  const root = await realDirectory(dir);
  const scan: FolderScan<T> = { folders: [], errors: [], ignored: [] };
  const entries = (await fs.readdir(dir, { withFileTypes: true }))
    .filter((entry) => !entry.name.startsWith('.'))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const folders = await mapLimit(entries, READ_CONCURRENCY, async (entry) => {
    const entryPath = path.join(dir, entry.name);
    const target = await resolveEntry(root, entryPath, entry);
    if ('error' in target) scan.errors.push({ path: entryPath, message: target.error });
    else if (!target.stats.isDirectory()) return undefined; // a README or other file next to the user folders
    else if (target.outside) scan.errors.push({ path: entryPath, message: target.outside });
    else return readFolder(root, entryPath, entry.name, read, scan.ignored);
    return undefined;
  });
  for (const folder of folders) if (folder) scan.folders.push(folder);
  // Reads finish in any order; reports must not.
  scan.errors.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  scan.ignored.sort();
  return scan;
}

async function realDirectory(dir: string): Promise<string> {
  try {
    const real = await fs.realpath(dir);
    if (!(await fs.stat(real)).isDirectory()) throw new UsageError(`${dir} is not a directory`);
    await fs.access(real, fs.constants.R_OK | fs.constants.X_OK);
    return real;
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`cannot read the profiles directory ${dir}: ${describe(error)}`, {
      hint: 'pass the directory that holds one folder per user', cause: error,
    });
  }
}

/** What an entry is, following symlinks; `outside` is set when a link leaves the profiles directory. */
type Resolved = { stats: Stats; outside?: string } | { error: string };

async function resolveEntry(root: string, entryPath: string, entry: Dirent): Promise<Resolved> {
  try {
    if (!entry.isSymbolicLink()) return { stats: await fs.stat(entryPath) };
    const real = await fs.realpath(entryPath).catch(() => undefined);
    if (real === undefined) return { error: 'broken symbolic link' };
    const relative = path.relative(root, real);
    const isOutside = relative === '..' || relative.startsWith(`..${path.sep}`) || path.isAbsolute(relative);
    const outside = isOutside ? `symbolic link to ${real}, outside the profiles directory: copy it instead` : undefined;
    return { stats: await fs.stat(real), ...(outside ? { outside } : {}) };
  } catch (error) {
    return { error: `cannot read: ${describe(error)}` };
  }
}

async function readFolder<T>(root: string, folderPath: string, name: string, read: ReadText<T>, ignored: string[]): Promise<UserFolder<T>> {
  const folder: UserFolder<T> = { name, path: folderPath, files: [], errors: [] };
  let entries: Dirent[];
  try {
    entries = (await fs.readdir(folderPath, { withFileTypes: true })).filter((e) => !e.name.startsWith('.'));
  } catch (error) {
    folder.errors.push({ path: folderPath, message: `cannot read this folder: ${describe(error)}` });
    return folder;
  }
  const known = new Set<string>(Object.values(PROFILE_FILES));
  const reads = PROFILE_COLUMNS.map(async (column) => {
    const entry = entries.find((e) => e.name === PROFILE_FILES[column]);
    if (!entry) return undefined;
    const filePath = path.join(folderPath, entry.name);
    const text = await readText(root, filePath, entry);
    if (typeof text !== 'string') return { issue: { path: filePath, message: text.error } };
    return { file: { column, path: filePath, content: await read(text) } };
  });
  for (const result of await Promise.all(reads)) {
    if (result?.issue) folder.errors.push(result.issue);
    if (result?.file) folder.files.push(result.file);
  }
  for (const entry of entries) {
    const entryPath = path.join(folderPath, entry.name);
    if (known.has(entry.name)) continue;
    // `Profile.md` would be skipped silently on Linux and read on macOS: say so everywhere.
    if (known.has(entry.name.toLowerCase())) {
      folder.errors.push({ path: entryPath, message: `file names are case-sensitive: rename it to ${entry.name.toLowerCase()}` });
    } else if (entry.name.toLowerCase().endsWith('.md')) ignored.push(entryPath);
  }
  if (folder.files.length === 0 && folder.errors.length === 0) {
    const what = entries.length === 0 ? 'empty folder' : 'no profile.md, preferences.md or patterns.md in this folder';
    folder.errors.push({ path: folderPath, message: `${what}: a user folder needs at least one of the three files` });
  }
  return folder;
}

async function readText(root: string, filePath: string, entry: Dirent): Promise<string | { error: string }> {
  const target = await resolveEntry(root, filePath, entry);
  if ('error' in target) return target;
  if (target.outside) return { error: target.outside };
  if (target.stats.isDirectory()) return { error: 'is a directory, expected a markdown file' };
  if (!target.stats.isFile()) return { error: 'is not a regular file' };
  if (target.stats.size > MAX_FILE_BYTES) return { error: tooLarge(target.stats.size) };
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(filePath);
  } catch (error) {
    return { error: `cannot read: ${describe(error)}` };
  }
  if (bytes.length > MAX_FILE_BYTES) return { error: tooLarge(bytes.length) }; // it grew since stat
  return decodeUtf8(bytes);
}

function tooLarge(size: number): string {
  return `is ${size} bytes; a profile file may be at most 1 MiB (${MAX_FILE_BYTES} bytes)`;
}

/** Strict UTF-8 (a BOM dropped, CRLF/CR made LF), or an error naming the line of the first bad byte. */
export function decodeUtf8(bytes: Uint8Array): string | { error: string } {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    const offset = firstInvalidUtf8Offset(bytes);
    return {
      error: `is not valid UTF-8 (byte 0x${(bytes[offset] ?? 0).toString(16).padStart(2, '0')} at line ${lineAt(bytes, offset)}): save it as UTF-8`,
    };
  }
  const nul = text.indexOf('\0');
  if (nul >= 0) {
    return { error: `contains a NUL character at line ${text.slice(0, nul).split('\n').length}, which PostgreSQL cannot store in jsonb` };
  }
  return text.replace(/\r\n?/g, '\n');
}

/** Offset of the first byte that starts an invalid UTF-8 sequence (called once TextDecoder refused). */
function firstInvalidUtf8Offset(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const lead = bytes[i] ?? 0;
    const trail = lead < 0x80 ? 0 : lead >= 0xc2 && lead <= 0xdf ? 1 : lead >= 0xe0 && lead <= 0xef ? 2 : lead >= 0xf0 && lead <= 0xf4 ? 3 : -1;
    if (trail < 0) return i;
    for (let k = 1; k <= trail; k++) if (((bytes[i + k] ?? 0) & 0xc0) !== 0x80) return i;
    const second = bytes[i + 1] ?? 0;
    // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are invalid too.
    if ((lead === 0xe0 && second < 0xa0) || (lead === 0xed && second > 0x9f)
      || (lead === 0xf0 && second < 0x90) || (lead === 0xf4 && second > 0x8f)) return i;
    i += trail + 1;
  }
  return Math.max(0, bytes.length - 1);
}

function lineAt(bytes: Uint8Array, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset; i++) if (bytes[i] === 0x0a) line++;
  return line;
}

function describe(error: unknown): string {
  const err = error as NodeJS.ErrnoException;
  if (err.code === 'EACCES') return 'permission denied';
  if (err.code === 'ENOENT') return 'no such file or directory';
  if (err.code === 'ENOTDIR') return 'not a directory';
  return err.message ?? String(error);
}

/** Maps with at most `limit` calls in flight, keeping the input order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
