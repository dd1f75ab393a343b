/**
 * A user folder read and parsed, in the compact form the import works with (SPEC §9, §10): each
 * file's mapping already as JSON text (what the write sends to PostgreSQL), the time zone it sets,
 * and every problem found so far. Workers hand this to the import's thread instead of object trees:
 * a handful of strings per folder to copy between threads, nothing for the import's thread to walk,
 * and little for its garbage collector to trace (parse-pool.ts).
 *
 * Pure and free of the markdown parser, so the import's thread can load it without markdown-it.
 */
import path from 'node:path';
import type { FolderRef, UserFolder } from './files.js';
import type { ParsedMarkdown } from './markdown.js';
import { PROFILE_COLUMNS, PROFILE_FILES, type ImportIssue, type ProfileColumn, type ProfileObject } from './types.js';

/** One user folder, parsed and mapped. */
export interface ParsedFolder {
  /** The folder's name: the user reference. */
  name: string;
  /** DIR as given joined with the name. */
  path: string;
  /** Each file that was read: its column's value as JSON text (`JSON.stringify` of the mapping). */
  json: Partial<Record<ProfileColumn, string>>;
  /** The path of each file that was read. */
  paths: Partial<Record<ProfileColumn, string>>;
  /** From a `timezone` key in profile.md or preferences.md (checked against PostgreSQL later). */
  timezone?: string;
  /** The file `timezone` came from. */
  timezonePath?: string;
  /**
   * In this order: folder and file errors, markdown issues (`line N: …`, per file), problems with the
   * `timezone` key. The import appends the user's and the time zone name's.
   */
  errors: ImportIssue[];
  /** Markdown files in the folder that are not one of the three (warned about, not imported). */
  ignored: string[];
}

/** True when the folder had at least one of the three files readable (something to import). */
export function hasFiles(folder: ParsedFolder): boolean {
  for (const column of PROFILE_COLUMNS) if (folder.paths[column] !== undefined) return true;
  return false;
}

/** The compact form of a folder whose files are parsed. */
export function encodeFolder(folder: UserFolder<ParsedMarkdown>, ignored: string[]): ParsedFolder {
  const encoded: ParsedFolder = { name: folder.name, path: folder.path, json: {}, paths: {}, errors: folder.errors, ignored };
  const data: Partial<Record<ProfileColumn, ProfileObject>> = {};
  for (const file of folder.files) {
    const parsed = file.content;
    for (const issue of parsed.issues) encoded.errors.push({ path: file.path, message: `line ${issue.line}: ${issue.message}` });
    data[file.column] = parsed.data;
    encoded.json[file.column] = JSON.stringify(parsed.data);
    encoded.paths[file.column] = file.path;
  }
  readTimezone(encoded, data);
  return encoded;
}

/** SPEC §9: a top-level `timezone` key in profile.md or preferences.md also sets the column. */
function readTimezone(folder: ParsedFolder, data: Partial<Record<ProfileColumn, ProfileObject>>): void {
  for (const column of ['profile', 'preferences'] as const) {
    const values = data[column];
    if (!values || !Object.hasOwn(values, 'timezone')) continue;
    const value = values.timezone;
    const path = folder.paths[column] ?? folder.path;
    if (typeof value !== 'string') {
      folder.errors.push({ path, message: 'timezone must be one time zone name, e.g. "Timezone: Europe/London"' });
    } else if (folder.timezone !== undefined && folder.timezone !== value) {
      folder.errors.push({ path, message: `timezone "${value}" differs from "${folder.timezone}" in ${folder.timezonePath}: keep one` });
    } else if (folder.timezone === undefined) {
      folder.timezone = value;
      folder.timezonePath = path;
    }
  }
}

// Between the fields of a packed folder. JSON text never holds a raw control character (JSON.stringify
// escapes them), and every field is JSON text or empty.
const FIELD = '\u0001';

/**
 * A folder as one string, for the trip from a worker to the import's thread: one string is copied
 * at the speed of memory, where an object is walked key by key on both sides. Its name and path stay
 * behind (the import's thread knows them: it asked for the folder), and so do the files' paths
 * (`path.join(folder, file name)`, see files.ts `readFolder`). Fields: the JSON of profile,
 * preferences and patterns ('' when the file was not read), the time zone as JSON, the column it
 * came from, the errors and the ignored files as JSON ('' when none).
 */
export function packFolder(folder: ParsedFolder): string {
  const { json, timezone, timezonePath, errors, ignored } = folder;
  const from = timezonePath === undefined ? '' : String(PROFILE_COLUMNS.findIndex((column) => folder.paths[column] === timezonePath));
  return [
    json.profile ?? '', json.preferences ?? '', json.patterns ?? '',
    timezone === undefined ? '' : JSON.stringify(timezone), from,
    errors.length > 0 ? JSON.stringify(errors) : '', ignored.length > 0 ? JSON.stringify(ignored) : '',
  ].join(FIELD);
}

/** The folder `packFolder` packed, given the folder it was asked for. */
export function unpackFolder(ref: FolderRef, packed: string): ParsedFolder {
  const fields = packed.split(FIELD);
  const folder: ParsedFolder = { name: ref.name, path: ref.path, json: {}, paths: {}, errors: [], ignored: [] };
  PROFILE_COLUMNS.forEach((column, i) => {
    const json = fields[i];
    if (!json) return;
    folder.json[column] = json;
    folder.paths[column] = `${ref.path}${path.sep}${PROFILE_FILES[column]}`;
  });
  const [,,, timezone, from, errors, ignored] = fields;
  if (timezone) {
    folder.timezone = JSON.parse(timezone) as string;
    const column = from ? PROFILE_COLUMNS[Number(from)] : undefined;
    folder.timezonePath = column === undefined ? ref.path : folder.paths[column];
  }
  if (errors) folder.errors = JSON.parse(errors) as ImportIssue[];
  if (ignored) folder.ignored = JSON.parse(ignored) as string[];
  return folder;
}
