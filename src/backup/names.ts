/**
 * Names of backups: table references typed by users, the file name of each table's CSV, and the
 * directory name `<UTC yyyymmddThhmmssZ>_<reason>` (SPEC §6). Pure functions, no I/O.
 */
import { createHash } from 'node:crypto';

/** A table as callers name it: `"users"`, `"public.users"`, `'"Mixed Case"."weird""name"'`, or exact parts. */
export type TableRef = string | { schema?: string; table: string };

/** A table reference split into exact catalog names; `schema` undefined means "by search_path". */
export interface TableName {
  schema?: string;
  name: string;
}

/** A table as it exists in the catalog. */
export interface QualifiedName {
  schema: string;
  name: string;
}

const UNQUOTED = /^[A-Za-z_\u0080-\uffff][A-Za-z0-9_$\u0080-\uffff]*$/;
const PLAIN = /^[a-z_][a-z0-9_$]*$/;

/**
 * Parses a table reference with SQL identifier rules (as psql and pg_dump -t do): unquoted parts are
 * folded to lower case, quoted parts are exact with `""` for a quote, at most `schema.table`.
 * Anything else (`users; drop table x`) is not a name: returns undefined, and the caller reports
 * it as an unknown table — user input never reaches SQL text.
 */
export function parseTableRef(ref: TableRef): TableName | undefined {
  if (typeof ref !== 'string') {
    if (!ref.table || ref.table.includes('\0') || ref.schema === '' || ref.schema?.includes('\0')) return undefined;
    return ref.schema === undefined ? { name: ref.table } : { schema: ref.schema, name: ref.table };
  }
  const parts = splitIdentifier(ref.trim());
  if (!parts || parts.length > 2) return undefined;
  const [first, second] = parts;
  if (first === undefined) return undefined;
  return second === undefined ? { name: first } : { schema: first, name: second };
}

/**
 * Every reading of a table reference, most likely first (what `migrate backup` resolves against
 * the catalog, taking the first that names a table): the SQL reading of `parseTableRef`, then the
 * text as an exact table name (`Mixed Case`, `weird"name`: what a user types for such a table on a
 * command line), then split at each dot as exact `schema.table` (`my schema.Mixed Case`, and names
 * with dots in them). Nothing here reaches SQL text: the names travel as query parameters.
 */
export function tableRefCandidates(ref: TableRef): TableName[] {
  const candidates: TableName[] = [];
  const add = (c: TableName | undefined) => {
    if (c && !candidates.some((x) => x.schema === c.schema && x.name === c.name)) candidates.push(c);
  };
  add(parseTableRef(ref));
  if (typeof ref === 'string' && ref.length > 0 && !ref.includes('\0')) {
    add({ name: ref });
    for (let dot = ref.indexOf('.'); dot > 0 && dot < ref.length - 1; dot = ref.indexOf('.', dot + 1)) {
      add({ schema: ref.slice(0, dot), name: ref.slice(dot + 1) });
    }
  }
  return candidates;
}

function splitIdentifier(text: string): string[] | undefined {
  const parts: string[] = [];
  let i = 0;
  while (i <= text.length) {
    let part: string;
    if (text[i] === '"') {
      let j = i + 1;
      part = '';
      for (;;) {
        const close = text.indexOf('"', j);
        if (close < 0) return undefined;
        part += text.slice(j, close);
        if (text[close + 1] === '"') { part += '"'; j = close + 2; continue; }
        i = close + 1;
        break;
      }
      if (part === '' || part.includes('\0')) return undefined;
    } else {
      const end = text.indexOf('.', i);
      const raw = text.slice(i, end < 0 ? text.length : end);
      if (!UNQUOTED.test(raw)) return undefined;
      // PostgreSQL folds only ASCII letters of unquoted identifiers (downcase_identifier).
      part = raw.replace(/[A-Z]+/g, (s) => s.toLowerCase());
      i += raw.length;
    }
    parts.push(part);
    if (i === text.length) return parts;
    if (text[i] !== '.') return undefined;
    i += 1;
  }
  return undefined;
}

/** `public.users`, `public."Mixed Case"`: quoted only where needed, so plain names stay readable and dotted names stay unambiguous. */
export function displayName(table: QualifiedName): string {
  return `${displayPart(table.schema)}.${displayPart(table.name)}`;
}

/** One identifier as `displayName` shows it: bare when plain lowercase, else double-quoted. */
export function displayPart(part: string): string {
  return PLAIN.test(part) ? part : `"${part.replace(/"/g, '""')}"`;
}

const MAX_FILE_NAME = 240;
const WINDOWS_DEVICES = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])$/;

/**
 * File name of a table's CSV: `<schema>.<table>.csv`. Each part is percent-encoded byte by byte
 * (UTF-8) except `[a-z0-9_-]`, so plain names read as themselves (`public.users.csv`) while dots,
 * slashes, quotes, spaces and upper case become `%XX` (`public.%4Dixed%20%43ase.csv`): upper case
 * is encoded so that `Users` and `users` cannot collide on case-insensitive file systems. A name
 * too long for a file system (63-byte identifiers encode to up to 189 characters) is cut and ends
 * in `~` plus 16 hex digits of SHA-256 of the exact names. The manifest records the file name;
 * nothing decodes it.
 */
export function tableFileName(table: QualifiedName): string {
  const encoded = `${encodePart(table.schema, true)}.${encodePart(table.name, false)}`;
  if (encoded.length + 4 <= MAX_FILE_NAME) return `${encoded}.csv`;
  const digest = createHash('sha256').update(`${table.schema}\0${table.name}`).digest('hex').slice(0, 16);
  const cut = encoded.slice(0, 200).replace(/%[0-9A-F]?$/, '');
  return `${cut}~${digest}.csv`;
}

function encodePart(part: string, isFirst: boolean): string {
  let out = '';
  for (const byte of Buffer.from(part, 'utf8')) {
    const ch = String.fromCharCode(byte);
    out += /[a-z0-9_-]/.test(ch) ? ch : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  // Windows reserves device names whatever the extension (`con.users.csv`): encode the first letter.
  if (isFirst && WINDOWS_DEVICES.test(out)) out = `%${out.charCodeAt(0).toString(16).toUpperCase()}${out.slice(1)}`;
  return out;
}

/** `<yyyymmddThhmmssZ>_<reason>` in UTC, reason reduced to `[a-z0-9_-]` (SPEC §6). */
export function backupDirName(at: Date, reason: string): string {
  const iso = at.toISOString(); // 2025-06-23T12:34:56.789Z
  const stamp = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
  return `${stamp}_${sanitizeReason(reason)}`;
}

/** Lower case, runs of other characters become `_`, at most 80 characters, `backup` if nothing is left. */
export function sanitizeReason(reason: string): string {
  const clean = reason.toLowerCase().replace(/[^a-z0-9_-]+/g, '_').replace(/^[_-]+|[_-]+$/g, '').slice(0, 80);
  return clean.replace(/[_-]+$/, '') || 'backup';
}
