/**
 * libpq's password file (`~/.pgpass`, `PGPASSFILE`, the URL's `passfile`): where a database
 * engineer keeps the passwords that never belong in a URL, a shell history or a CI log. Read the
 * way libpq reads it (fe-connect.c, passwordFromFile), so one file serves psql, pg_dump and strata:
 *
 * - consulted only when no password was given (URL, `PGPASSWORD`). Unlike libpq, it is read before
 *   connecting rather than when the server asks (connect.ts withLibpqEnvironment), so that the
 *   password is masked in all output from the start;
 * - lines `hostname:port:database:username:password`; `*` matches anything in the first four
 *   fields; `\` escapes the next character (`\:` and `\\`); lines starting with `#` are comments;
 *   the first matching line wins;
 * - a Unix-domain socket in the default socket directory is matched as `localhost`, and only so
 *   (libpq compares the host with its compiled-in directory: `/tmp` upstream, `/var/run/postgresql`
 *   in Debian's and Red Hat's builds; strata takes those and `/run/postgresql`); any other socket
 *   directory is matched as written;
 * - a file that is not a plain file, or that the group or others may read (mode beyond 0600), is
 *   ignored with a warning, as libpq does: a password file anyone can read is a leak to report.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isSocketHost, type ConnectionParts } from './url.js';

/** What a look-up found: the password, or a warning that the file was not used (or nothing). */
export interface PassfileLookup {
  password?: string;
  warning?: string;
}

/** libpq's default password file: `~/.pgpass`, or `%APPDATA%\postgresql\pgpass.conf` on Windows. */
export function defaultPassfile(env: { APPDATA?: string | undefined } = process.env): string {
  if (process.platform === 'win32' && env.APPDATA) return path.join(env.APPDATA, 'postgresql', 'pgpass.conf');
  return path.join(os.homedir(), '.pgpass');
}

// libpq's DEFAULT_PGSOCKET_DIR is /tmp upstream and /var/run/postgresql in Debian's and Red Hat's builds.
const DEFAULT_SOCKET_DIRS = new Set(['/tmp', '/var/run/postgresql', '/run/postgresql']);

/** The password of the first line of `file` that matches the connection, as libpq finds it. */
export function lookupPassfile(file: string, parts: Pick<ConnectionParts, 'host' | 'port' | 'database' | 'user'>): PassfileLookup {
  let stats: fs.Stats;
  try {
    stats = fs.statSync(file);
  } catch {
    return {}; // no file (the usual case), or none we may look at: libpq is silent too
  }
  if (!stats.isFile()) return { warning: `password file "${file}" is not a plain file; not using it` };
  if (process.platform !== 'win32' && (stats.mode & 0o077) !== 0) {
    return { warning: `password file "${file}" has group or world access; permissions should be u=rw (0600) or less; not using it` };
  }
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return {};
  }
  const host = parts.host === '' || (isSocketHost(parts.host) && DEFAULT_SOCKET_DIRS.has(parts.host)) ? 'localhost' : parts.host;
  const wanted = [host, String(parts.port), parts.database, parts.user];
  for (const line of text.split('\n')) {
    // libpq strips every trailing CR and LF.
    const entry = line.replace(/\r+$/, '');
    if (entry === '' || entry.startsWith('#')) continue;
    const password = matchLine(entry, wanted);
    if (password !== undefined) return { password };
  }
  return {};
}

/**
 * The password of `line` if its first four fields match `wanted` (`*` matches anything), else
 * undefined. Like libpq, the password is what follows the fourth field up to an unescaped `:` or
 * the end, with escapes removed.
 */
function matchLine(line: string, wanted: readonly string[]): string | undefined {
  let at = 0;
  for (const value of wanted) {
    const field = readField(line, at);
    if (field === undefined) return undefined;
    if (!(field.raw === '*' || field.value === value)) return undefined;
    at = field.next;
  }
  return readField(line, at, true)?.value;
}

/** The field starting at `at`: its text with escapes removed, as written, and where the next starts. */
function readField(line: string, at: number, last = false): { value: string; raw: string; next: number } | undefined {
  let value = '';
  for (let i = at; i < line.length; i++) {
    const ch = line[i] as string;
    if (ch === '\\' && i + 1 < line.length) {
      value += line[++i];
    } else if (ch === ':') {
      return { value, raw: line.slice(at, i), next: i + 1 };
    } else {
      value += ch;
    }
  }
  // Only the password may end the line; a line with fewer than five fields matches nothing.
  return last ? { value, raw: line.slice(at), next: line.length } : undefined;
}
