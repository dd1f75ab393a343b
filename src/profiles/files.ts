/**
 * Reading a profiles directory (SPEC §9): `DIR/<user>/{profile,preferences,patterns}.md`.
 * Every bad input is collected with its path rather than thrown, so one run lists them all.
 * Plain files directly in DIR (a README) and hidden entries anywhere are ignored; a symlink must
 * resolve inside DIR, so a profile tree can never read `/etc/passwd` into the database.
 *
 * Listing and reading are separate steps so that the import can read folders in chunks and write
 * between them (import.ts). Reads are synchronous on purpose: for 30,000 small files,
 * `fs.promises` costs ~40 µs a file (four thread-pool hops: open, fstat, read, close, plus a stat),
 * `openSync`/`fstatSync`/`readSync` ~8 µs, measured on 2 vCPUs; the caller yields between chunks.
 */
import type { Dirent, Stats } from 'node:fs';
import fs from 'node:fs';
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
export type ReadText<T> = (text: string) => T;

/** One `<user>` folder: its name (the user reference), what could be read, and what could not. */
export interface UserFolder<T> {
  name: string;
  path: string;
  files: SourceFile<T>[];
  errors: ImportIssue[];
}

/** A user folder found in DIR, not read yet. */
export interface FolderRef {
  name: string;
  /** DIR as given joined with the name (`path.join`, so normalised), so reported paths read the way the user typed DIR. */
  path: string;
}

/** DIR listed: its real path, the user folders in name order, and errors outside any folder (sorted by path). */
export interface FolderListing {
  root: string;
  folders: FolderRef[];
  errors: ImportIssue[];
}

/** The whole directory: user folders in name order, errors outside any folder, ignored files. */
export interface FolderScan<T> {
  folders: UserFolder<T>[];
  errors: ImportIssue[];
  /** Markdown files in user folders that are not one of the three (a warning, not an error). */
  ignored: string[];
}

/**
 * Lists the user folders of `dir` (whose real path `profilesRoot` gave, if the caller checked it
 * first); throws `UsageError` only when `dir` itself is unusable.
 */
export async function listProfileFolders(dir: string, root = profilesRoot(dir)): Promise<FolderListing> {
  const listing: FolderListing = { root, folders: [], errors: [] };
  const entries = fs.readdirSync(dir, { withFileTypes: true })
    .filter((entry) => !entry.name.startsWith('.'))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  // path.join(dir, name) for names without a separator (not hidden: never `.` or `..`), without
  // normalising DIR again for each of (say) 10,000 names.
  const base = path.join(dir, '.');
  const prefix = base === '.' ? '' : base.endsWith(path.sep) ? base : `${base}${path.sep}`;
  const badNames = invalidUtf8Names(dir, entries);
  for (const entry of entries) {
    const entryPath = `${prefix}${entry.name}`;
    const badName = badNames.get(entry.name);
    if (badName !== undefined && (entry.isDirectory() || entry.isSymbolicLink())) {
      // Node decodes such a name with U+FFFD, a path that does not exist: reading it would fail with ENOENT.
      listing.errors.push({ path: entryPath, message: `the folder name ${badName} is not valid UTF-8: rename it (a user folder is named after its user's id, which is text)` });
    } else if (entry.isDirectory()) {
      listing.folders.push({ name: entry.name, path: entryPath });
    } else if (entry.isSymbolicLink()) {
      const link = resolveLink(root, entryPath);
      if ('error' in link) listing.errors.push({ path: entryPath, message: link.error });
      else if (!link.stats.isDirectory()) continue; // a linked README: ignored like any file next to the folders
      else if (link.outside) listing.errors.push({ path: entryPath, message: link.outside });
      else listing.folders.push({ name: entry.name, path: entryPath });
    } // any other entry is a README or similar file next to the user folders
  }
  return listing;
}

/**
 * The entries of `dir` whose name is not valid UTF-8, by the name Node gave them (bad bytes as
 * U+FFFD), each shown quoted with its bad bytes (and control characters) as \xHH. Only when some
 * name has a U+FFFD (which a valid name may hold too) is DIR listed again, as bytes.
 */
function invalidUtf8Names(dir: string, entries: readonly Dirent[]): Map<string, string> {
  const bad = new Map<string, string>();
  if (!entries.some((entry) => entry.name.includes('\uFFFD'))) return bad;
  for (const raw of fs.readdirSync(dir, { encoding: 'buffer' })) {
    try {
      utf8.decode(raw);
    } catch {
      bad.set(raw.toString('utf8'), `"${showBytes(raw)}"`);
    }
  }
  return bad;
}

const hex = (byte: number): string => `\\x${byte.toString(16).toUpperCase().padStart(2, '0')}`;

/** Bytes as text: valid UTF-8 as it is, each byte of an invalid sequence (and control characters) as \xHH. */
function showBytes(raw: Uint8Array): string {
  let shown = '';
  for (let rest = raw; ;) {
    try {
      shown += utf8.decode(rest);
      break;
    } catch {
      const at = firstInvalidUtf8Offset(rest);
      shown += `${utf8.decode(rest.subarray(0, at))}${hex(rest[at] ?? 0)}`;
      rest = rest.subarray(at + 1);
    }
  }
  // eslint-disable-next-line no-control-regex
  return shown.replace(/[\u0000-\u001f\u007f]/g, (c) => hex(c.charCodeAt(0)));
}

/** Reads every user folder of `dir` at once (see `listProfileFolders` and `readFolder`). */
export async function readProfileFolders<T>(dir: string, read: ReadText<T>): Promise<FolderScan<T>> {
  const listing = await listProfileFolders(dir);
  const ignored: string[] = [];
  const folders = listing.folders.map((ref) => readFolder(listing.root, ref, read, ignored));
  return { folders, errors: listing.errors, ignored: ignored.sort() };
}

/**
 * The real path of the profiles directory, or a `UsageError` (exit 2) saying why it cannot be read.
 * Synchronous, so that `import-profiles` can say so before it connects.
 */
export function profilesRoot(dir: string): string {
  try {
    // Synchronous: three calls that would each wait for a thread-pool turn.
    const real = fs.realpathSync.native(dir);
    if (!fs.statSync(real).isDirectory()) throw new UsageError(`${dir} is not a directory`);
    fs.accessSync(real, fs.constants.R_OK | fs.constants.X_OK);
    return real;
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`cannot read the profiles directory ${dir}: ${describe(error)}`, {
      hint: 'pass the directory that holds one folder per user', cause: error,
    });
  }
}

/** A symlink followed: its target and what it is; `outside` is set when it leaves the profiles directory. */
type Link = { real: string; stats: Stats; outside?: string } | { error: string };

function resolveLink(root: string, linkPath: string): Link {
  let real: string;
  try {
    real = fs.realpathSync(linkPath);
  } catch {
    return { error: 'broken symbolic link' };
  }
  try {
    const relative = path.relative(root, real);
    const isOutside = relative === '..' || relative.startsWith(`..${path.sep}`) || path.isAbsolute(relative);
    const stats = fs.statSync(real);
    return isOutside ? { real, stats, outside: `symbolic link to ${real}, outside the profiles directory: copy it instead` } : { real, stats };
  } catch (error) {
    return { error: `cannot read: ${describe(error)}` };
  }
}

/**
 * Reads one user folder, passing each file's text through `read`; markdown files that are not one
 * of the three are added to `ignored`. Never throws: problems land in the folder's `errors`.
 */
export function readFolder<T>(root: string, ref: FolderRef, read: ReadText<T>, ignored: string[]): UserFolder<T> {
  const folder: UserFolder<T> = { name: ref.name, path: ref.path, files: [], errors: [] };
  let entries: Dirent[];
  try {
    entries = fs.readdirSync(ref.path, { withFileTypes: true }).filter((e) => !e.name.startsWith('.'));
  } catch (error) {
    folder.errors.push({ path: ref.path, message: `cannot read this folder: ${describe(error)}` });
    return folder;
  }
  for (const column of PROFILE_COLUMNS) {
    const entry = entries.find((e) => e.name === PROFILE_FILES[column]);
    if (!entry) continue;
    // ref.path is normalised (path.join) and an entry name has no separator: joining is concatenating.
    const filePath = `${ref.path}${path.sep}${entry.name}`;
    const text = readText(root, filePath, entry);
    if (typeof text !== 'string') folder.errors.push({ path: filePath, message: text.error });
    else folder.files.push({ column, path: filePath, content: read(text) });
  }
  for (const entry of entries) {
    if (KNOWN_FILES.has(entry.name)) continue;
    const entryPath = path.join(ref.path, entry.name);
    // `Profile.md` would be skipped silently on Linux and read on macOS: say so everywhere.
    if (KNOWN_FILES.has(entry.name.toLowerCase())) {
      folder.errors.push({ path: entryPath, message: `file names are case-sensitive: rename it to ${entry.name.toLowerCase()}` });
    } else if (entry.name.toLowerCase().endsWith('.md')) ignored.push(entryPath);
  }
  if (folder.files.length === 0 && folder.errors.length === 0) {
    const what = entries.length === 0 ? 'empty folder' : 'no profile.md, preferences.md or patterns.md in this folder';
    folder.errors.push({ path: ref.path, message: `${what}: a user folder needs at least one of the three files` });
  }
  return folder;
}

const KNOWN_FILES = new Set<string>(Object.values(PROFILE_FILES));

function readText(root: string, filePath: string, entry: Dirent): string | { error: string } {
  if (entry.isDirectory()) return { error: 'is a directory, expected a markdown file' };
  if (!entry.isSymbolicLink()) return entry.isFile() ? readSmallFile(filePath) : { error: 'is not a regular file' };
  const link = resolveLink(root, filePath);
  if ('error' in link) return link;
  if (link.outside) return { error: link.outside };
  if (link.stats.isDirectory()) return { error: 'is a directory, expected a markdown file' };
  return link.stats.isFile() ? readSmallFile(link.real) : { error: 'is not a regular file' };
}

// O_NOFOLLOW: a file swapped for a symlink after listing is refused, not followed out of DIR.
// O_NONBLOCK: one swapped for a FIFO cannot hang the run. Both are 0 where the platform lacks them.
const OPEN_FLAGS = fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0) | (fs.constants.O_NONBLOCK ?? 0);

// One buffer for every read: the text is decoded out of it before the next file is read.
let readBuffer: Buffer | undefined;

/**
 * Reads a file the listing saw as a regular file, at most MAX_FILE_BYTES (one byte more is read to
 * tell; fstat, ~1 µs a file, only then, for the size in the message), and decodes it. The end of
 * the file is a read that returns 0: a shorter read than asked is not proof of it (FUSE and network
 * filesystems may return less), and a profile cut short without a word is worse than one more
 * system call per file (~40 ms of CPU for 30,000 files).
 */
function readSmallFile(filePath: string): string | { error: string } {
  let fd: number;
  try {
    fd = fs.openSync(filePath, OPEN_FLAGS);
  } catch (error) {
    return { error: `cannot read: ${describe(error)}` };
  }
  try {
    const buffer = (readBuffer ??= Buffer.allocUnsafe(MAX_FILE_BYTES + 1));
    let length = 0;
    while (length < buffer.length) {
      const n = fs.readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
    }
    if (length > MAX_FILE_BYTES) return { error: tooLarge(fs.fstatSync(fd).size) };
    return decodeUtf8(buffer.subarray(0, length));
  } catch (error) {
    // EISDIR or EAGAIN: the entry was swapped for a directory or a FIFO after listing.
    return { error: `cannot read: ${describe(error)}` };
  } finally {
    fs.closeSync(fd);
  }
}

function tooLarge(size: number): string {
  return `is ${size} bytes; a profile file may be at most 1 MiB (${MAX_FILE_BYTES} bytes)`;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Strict UTF-8 (a BOM dropped, CRLF/CR made LF), or an error naming the line of the first bad byte. */
export function decodeUtf8(bytes: Uint8Array): string | { error: string } {
  let text: string;
  try {
    text = utf8.decode(bytes);
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
  return text.includes('\r') ? text.replace(/\r\n?/g, '\n') : text;
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
  if (err.code === 'ELOOP') return 'replaced by a symbolic link while being read';
  return err.message ?? String(error);
}
