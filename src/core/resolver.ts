/**
 * The migrations directory → the ordered list of migrations (SPEC §3): names, phases, checksums,
 * and the text of every SQL file, all read and hashed before the first statement runs.
 *
 * Anything that looks like a migration but is not one exactly is an error (exit 2), never silently
 * skipped: a typo must not make a migration disappear from a deploy.
 */
import { isUtf8 } from 'node:buffer';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors.js';

/** A SQL file of a directory migration, as read from disk. */
export interface SqlSource {
  /** Absolute path. */
  path: string;
  /** Path relative to the migrations directory, for messages (`003_x/up.sql`). */
  displayPath: string;
  /**
   * The file's text, without a leading UTF-8 byte-order mark (psql skips one too). Reading it
   * throws a UsageError (exit 2) when the file is not valid UTF-8: nothing runs such a file.
   */
  readonly text: string;
  /** Set when the file is not valid UTF-8: `003_x/up.sql:4: not valid UTF-8 (byte 0xe9)`. */
  encodingError?: string;
}

/** One migration on disk. */
export interface ResolvedMigration {
  /** `003_add_program_tables`: the identifier stored in history. */
  name: string;
  /** `003` as written; ordering is numeric. */
  number: string;
  /** `add_program_tables`: what `migrate PHASE` accepts. */
  phase: string;
  kind: 'sql' | 'module';
  /** The directory (sql) or the module file. */
  path: string;
  /** SHA-256 hex of up.sql's bytes, or of the whole module's, with CRLF normalised to LF (SPEC §3). */
  checksum: string;
  up?: SqlSource;
  down?: SqlSource;
  verify?: SqlSource;
}

const NAME = /^(\d{3,})_([a-z0-9_]+)$/;
const MODULE = /^(\d{3,})_([a-z0-9_]+)\.(ts|js|mjs)$/;

// One-shot hashing (Node 20.12+) makes no Hash object per file: half the time, and less garbage.
const oneShot = (crypto as { hash?: (algorithm: string, data: string | Uint8Array, encoding: 'hex') => string }).hash;

/**
 * SPEC §3: SHA-256 of a file's bytes with CRLF normalised to LF — what `sha256sum` prints for the
 * LF version of the file, whatever bytes it holds (a string is hashed as its UTF-8 bytes).
 */
export function checksumOf(content: string | Uint8Array): string {
  const normalised = typeof content === 'string' ? content.replace(/\r\n/g, '\n') : withoutCrBeforeLf(content);
  return oneShot ? oneShot('sha256', normalised, 'hex') : crypto.createHash('sha256').update(normalised).digest('hex');
}

/** The bytes with every CR that precedes an LF removed (the bytes themselves when there is none). */
function withoutCrBeforeLf(bytes: Uint8Array): Uint8Array {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let cr = buffer.indexOf(0x0d);
  if (cr < 0) return bytes;
  const out = Buffer.allocUnsafe(buffer.length);
  let length = 0;
  let start = 0;
  for (; cr >= 0; cr = buffer.indexOf(0x0d, cr + 1)) {
    if (buffer[cr + 1] !== 0x0a) continue;
    length += buffer.copy(out, length, start, cr);
    start = cr + 1;
  }
  length += buffer.copy(out, length, start);
  return out.subarray(0, length);
}

/**
 * Offset of the first byte that is not part of a well-formed UTF-8 sequence (the lead byte of a
 * sequence cut short, overlong, a surrogate or beyond U+10FFFF), or -1. Called only for files
 * buffer.isUtf8 rejected, to say where.
 */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length;) {
    const lead = bytes[i]!;
    if (lead < 0x80) {
      i++;
      continue;
    }
    const length = lead >= 0xc2 && lead <= 0xdf ? 2 : lead >= 0xe0 && lead <= 0xef ? 3 : lead >= 0xf0 && lead <= 0xf4 ? 4 : 0;
    if (length === 0) return i;
    // The second byte's range rules out overlongs (E0, F0), surrogates (ED) and > U+10FFFF (F4).
    const low = lead === 0xe0 ? 0xa0 : lead === 0xf0 ? 0x90 : 0x80;
    const high = lead === 0xed ? 0x9f : lead === 0xf4 ? 0x8f : 0xbf;
    for (let k = 1; k < length; k++) {
      const next = bytes[i + k];
      if (next === undefined || next < (k === 1 ? low : 0x80) || next > (k === 1 ? high : 0xbf)) return i;
    }
    i += length;
  }
  return -1;
}

/** `file:line: not valid UTF-8 (byte 0xe9)` for a file buffer.isUtf8 rejected. */
function notUtf8(bytes: Uint8Array, displayPath: string): UsageError {
  const at = Math.max(0, firstInvalidUtf8(bytes));
  let line = 1;
  for (let i = bytes.indexOf(0x0a); i >= 0 && i < at; i = bytes.indexOf(0x0a, i + 1)) line++;
  const byte = (bytes[at] ?? 0).toString(16).padStart(2, '0');
  return new UsageError(`${displayPath}:${line}: not valid UTF-8 (byte 0x${byte})`, {
    hint: 'strata reads SQL files as UTF-8: convert the file (e.g. iconv -f LATIN1 -t UTF-8), then check the line',
  });
}

/**
 * A SQL file's bytes as a source. Not valid UTF-8: its checksum still stands (it is over the
 * bytes), so `status` can show the migration, but whatever would run or print it is refused.
 */
function sqlSource(file: string, displayPath: string, bytes: Buffer): SqlSource {
  if (isUtf8(bytes)) {
    const bom = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf;
    return { path: file, displayPath, text: bytes.toString('utf8', bom ? 3 : 0) };
  }
  const encodingError = notUtf8(bytes, displayPath).message;
  return {
    path: file, displayPath, encodingError,
    get text(): string {
      throw notUtf8(bytes, displayPath);
    },
  };
}

/** Splits `003_add_program_tables` into number and phase; undefined for anything else. */
export function parseMigrationName(name: string): { number: string; phase: string } | undefined {
  const match = NAME.exec(name);
  return match ? { number: match[1]!, phase: match[2]! } : undefined;
}

/** Symlinks must stay inside the migrations directory (a link to /etc is not a migration). */
function assertInside(entry: string, root: string): void {
  let real: string;
  try {
    real = fs.realpathSync(entry);
  } catch (error) {
    // A dangling link or a loop is a broken migrations directory (exit 2), not an internal error.
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(`${path.relative(root, entry)} is a symbolic link that ${code === 'ELOOP' ? 'loops' : 'points nowhere'} (${code})`);
  }
  const realRoot = fs.realpathSync(root);
  if (real !== realRoot && !real.startsWith(realRoot + path.sep)) {
    throw new UsageError(`${path.relative(root, entry)} is a symbolic link pointing outside the migrations directory (${real})`);
  }
}

function invalidName(entry: string, hint: string): UsageError {
  return new UsageError(`invalid migration name "${entry}"`, { hint });
}

/** Reads one SQL file of a migration directory (checked: a file, inside the root). */
function readSource(file: string, displayPath: string, root: string, dirent?: fs.Dirent): { source: SqlSource; bytes: Buffer } {
  // The directory listing already says what the entry is; only links need a second look.
  const isLink = dirent ? dirent.isSymbolicLink() : fs.lstatSync(file).isSymbolicLink();
  if (isLink) assertInside(file, root);
  if (dirent && !isLink ? dirent.isDirectory() : fs.statSync(file).isDirectory()) {
    throw new UsageError(`${path.relative(root, file)} is a directory, expected a SQL file`);
  }
  const bytes = fs.readFileSync(file);
  return { source: sqlSource(file, displayPath, bytes), bytes };
}

/**
 * `down` and `verify` are read on first use: `status` and `up` over hundreds of migrations read
 * one file each. Their presence is known from the directory listing, so `selectDown` can still
 * refuse an irreversible rollback before anything runs.
 */
function lazySource(target: ResolvedMigration, key: 'down' | 'verify', file: string, displayPath: string, root: string, dirent: fs.Dirent): void {
  let cached: SqlSource | undefined;
  Object.defineProperty(target, key, {
    enumerable: true,
    configurable: true,
    get: () => (cached ??= readSource(file, displayPath, root, dirent).source),
  });
}

/**
 * Paths are built by concatenation: `full` is already normal (see resolveMigrations) and file names
 * are plain, so `full + sep + name` is what path.join would return, and `entry + sep + name` what
 * path.relative(root, file) would — without their per-call normalisation, which cost several ms for
 * a few hundred migrations in a cold process (`migrate status`, SPEC §10).
 */
function resolveDirectory(root: string, entry: string, full: string): ResolvedMigration {
  const parsed = parseMigrationName(entry);
  if (!parsed) {
    throw invalidName(entry, 'a migration directory is named NNN_name: three or more digits, then lowercase letters, digits and _');
  }
  const files = new Map(fs.readdirSync(full, { withFileTypes: true }).map((d) => [d.name, d]));
  const upEntry = files.get('up.sql');
  if (!upEntry) throw new UsageError(`migration ${entry} has no up.sql`, { hint: `create ${path.join(entry, 'up.sql')}` });
  const { source: up, bytes } = readSource(full + path.sep + 'up.sql', entry + path.sep + 'up.sql', root, upEntry);
  const migration: ResolvedMigration = { name: entry, number: parsed.number, phase: parsed.phase, kind: 'sql', path: full, checksum: checksumOf(bytes), up };
  for (const key of ['down', 'verify'] as const) {
    const dirent = files.get(`${key}.sql`);
    if (!dirent) continue;
    const file = `${full}${path.sep}${key}.sql`;
    // A link that escapes the directory is refused now, not when the rollback finally needs it.
    if (dirent.isSymbolicLink()) assertInside(file, root);
    lazySource(migration, key, file, `${entry}${path.sep}${key}.sql`, root, dirent);
  }
  return migration;
}

function resolveEntry(root: string, prefix: string, dirent: fs.Dirent): ResolvedMigration | undefined {
  const entry = dirent.name;
  if (entry.startsWith('.')) return undefined;
  const full = prefix + entry;
  const isLink = dirent.isSymbolicLink();
  if (isLink) assertInside(full, root);
  const isDir = isLink ? fs.statSync(full).isDirectory() : dirent.isDirectory();
  if (isDir) return resolveDirectory(root, entry, full);
  if (entry.endsWith('.d.ts')) return undefined;
  const module = MODULE.exec(entry);
  if (module) {
    return { name: `${module[1]}_${module[2]}`, number: module[1]!, phase: module[2]!, kind: 'module', path: full, checksum: checksumOf(fs.readFileSync(full)) };
  }
  if (/^\d/.test(entry) || entry.endsWith('.sql')) {
    throw invalidName(entry, entry.endsWith('.sql')
      ? `strata migrations are directories: move it to ${entry.replace(/\.sql$/, '')}/up.sql`
      : 'a migration is a directory NNN_name/ or a module NNN_name.ts|.js (lowercase letters, digits and _)');
  }
  return undefined; // README.md and other non-migration files
}

/**
 * Reads a migrations directory: every migration, ordered by number; duplicates are an error (exit 2).
 * Synchronous on purpose: a few hundred small files read in a loop cost a few milliseconds, where
 * the same work through the thread pool (about a dozen async calls per migration) cost ~100 ms.
 */
export async function resolveMigrations(dir: string): Promise<ResolvedMigration[]> {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new UsageError(`migrations directory ${dir} does not exist`);
    throw error;
  }
  // path.join(dir, name) for a plain name is this prefix + name ('x' for '.', '/x' for '/').
  const prefix = path.join(dir, '_').slice(0, -1);
  const keyed: { migration: ResolvedMigration; key: string }[] = [];
  for (const dirent of entries) {
    const migration = resolveEntry(dir, prefix, dirent);
    if (migration) keyed.push({ migration, key: digitsKey(migration.number) });
  }
  // compareMigrations' order, with each number's key computed once rather than per comparison.
  keyed.sort((a, b) => compareKeys(a.key, b.key) || compareNames(a.migration.name, b.migration.name));
  assertUnique(keyed, dir);
  return keyed.map((k) => k.migration);
}

/** The value of a string of decimal digits, without leading zeros (`0010` → `10`, `000` → `0`). */
function digitsKey(number: string): string {
  let i = 0;
  while (i < number.length - 1 && number.charCodeAt(i) === 48) i++;
  return i === 0 ? number : number.slice(i);
}

/** Order of two digitsKey values: numeric, as BigInt would order the numbers. */
function compareKeys(x: string, y: string): number {
  if (x.length !== y.length) return x.length < y.length ? -1 : 1;
  return x < y ? -1 : x > y ? 1 : 0;
}

function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Numeric order of the number, then the name (so `010` follows `009` and `1000` follows `999`). */
export function compareMigrations(a: { number: string; name: string }, b: { number: string; name: string }): number {
  // Numbers are digit strings (parseMigrationName, the module pattern): compared without BigInt,
  // which sorting a few hundred migrations twice per run made a visible cost of `status`.
  return compareKeys(digitsKey(a.number), digitsKey(b.number)) || compareNames(a.name, b.name);
}

function assertUnique(migrations: { migration: ResolvedMigration; key: string }[], dir: string): void {
  const byNumber = new Map<string, ResolvedMigration>();
  const byPhase = new Map<string, ResolvedMigration>();
  const show = (m: ResolvedMigration) => path.relative(dir, m.path) || m.name;
  for (const { migration: m, key } of migrations) {
    const sameNumber = byNumber.get(key);
    if (sameNumber) throw new UsageError(`two migrations have the number ${m.number}: ${show(sameNumber)} and ${show(m)}`);
    const samePhase = byPhase.get(m.phase);
    if (samePhase) throw new UsageError(`two migrations have the phase name "${m.phase}": ${show(samePhase)} and ${show(m)}`);
    byNumber.set(key, m);
    byPhase.set(m.phase, m);
  }
}
