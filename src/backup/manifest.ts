/**
 * `manifest.json` of a backup (SPEC §6): its shape, writing it durably, and reading it back
 * through zod, so that a damaged or hand-edited manifest is an integrity error (exit 5), never
 * a crash or a path outside the backup.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { IntegrityError } from '../errors.js';
import { INCOMPLETE_SUFFIX } from './backup-dir.js';
import { COPY_SETTING_NAMES, COPY_SETTINGS } from './copy-settings.js';
import { displayName, parseTableRef, tableFileName } from './names.js';

/** File name of the manifest inside a backup directory. */
export const MANIFEST_FILE = 'manifest.json';

const MAX_MANIFEST_BYTES = 64 * 1024 * 1024;

const columnSchema = z.object({
  name: z.string().min(1),
  type: z.string().min(1),
});

const tableSchema = z.object({
  table: z.string().min(1),
  // Written by strata; optional on reading so that a manifest with only the SPEC §6 fields works.
  schema: z.string().min(1).optional(),
  name: z.string().min(1).optional(),
  file: z.string().min(1).optional(),
  rows: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex digits'),
  columns: z.array(columnSchema),
});

// Absent in backups written before the settings were fixed: those were written with the session's own.
const copySettingsSchema = z.partialRecord(z.enum(COPY_SETTING_NAMES), z.string()).optional();

const manifestSchema = z.object({
  formatVersion: z.literal(1).optional(),
  createdAt: z.iso.datetime(),
  reason: z.string(),
  database: z.string(),
  serverVersion: z.string(),
  /** The settings the files were written with (see copy-settings.ts); a restore parses with the same. */
  copySettings: copySettingsSchema,
  tables: z.array(tableSchema),
});

/** A column as recorded in the manifest: name and `format_type` of its type. */
export type ManifestColumn = z.infer<typeof columnSchema>;
/**
 * One table of a backup. `table` is the display name (`public.users`, `public."Mixed Case"`);
 * `schema` and `name` are the exact catalog names, `file` the CSV's name in the directory.
 */
export type ManifestTable = Required<z.infer<typeof tableSchema>>;
/** The whole manifest (SPEC §6 fields plus `formatVersion`). */
export type BackupManifest = Omit<z.infer<typeof manifestSchema>, 'tables'> & { tables: ManifestTable[] };

/** Writes `manifest.json` with mode 0600 and fsyncs it (the directory is fsynced by the caller). */
export async function writeManifest(dir: string, manifest: BackupManifest): Promise<void> {
  const file = path.join(dir, MANIFEST_FILE);
  const handle = await fs.open(file, 'wx', 0o600);
  try {
    await handle.chmod(0o600);
    await handle.writeFile(`${JSON.stringify(manifest, null, 2)}\n`, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Reads and validates `manifest.json`; anything wrong with it is an `IntegrityError` naming the file. */
export async function readManifest(dir: string): Promise<BackupManifest> {
  if (path.basename(path.resolve(dir)).endsWith(INCOMPLETE_SUFFIX)) {
    throw new IntegrityError(`${dir} is an incomplete backup: writing it failed or was interrupted`, {
      hint: 'it was never verified; use a backup directory without .incomplete',
    });
  }
  const file = path.join(dir, MANIFEST_FILE);
  let text: string;
  try {
    const stat = await fs.stat(file);
    if (!stat.isFile()) throw new IntegrityError(`${file} is not a file`);
    if (stat.size > MAX_MANIFEST_BYTES) throw new IntegrityError(`${file} is larger than ${MAX_MANIFEST_BYTES} bytes`);
    text = await fs.readFile(file, 'utf8');
  } catch (error) {
    if (error instanceof IntegrityError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new IntegrityError(`cannot read ${file}: ${code === 'ENOENT' ? 'no such file (is this a backup directory?)' : String(code ?? error)}`, { cause: error });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new IntegrityError(`${file} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? ` at ${issue.path.join('.')}` : '';
    throw new IntegrityError(`${file} is not a valid manifest${where}: ${issue?.message ?? 'invalid'}`);
  }
  const manifest = { ...parsed.data, tables: parsed.data.tables.map((entry) => completeEntry(file, entry)) };
  checkConsistency(file, manifest);
  checkCopySettings(file, manifest.copySettings);
  return manifest;
}

/** Fills `schema`, `name` and `file` from `table` when a manifest has only the SPEC fields. */
function completeEntry(file: string, entry: z.infer<typeof tableSchema>): ManifestTable {
  let { schema, name } = entry;
  if (schema === undefined || name === undefined) {
    const parsed = parseTableRef(entry.table);
    if (!parsed?.schema) throw new IntegrityError(`${file}: table "${entry.table}" is not a schema-qualified name`);
    ({ schema, name } = { schema: parsed.schema, name: parsed.name });
  }
  return { ...entry, schema, name, file: entry.file ?? tableFileName({ schema, name }) };
}

/**
 * Recorded settings must be the ones this version parses with: another DateStyle or encoding would
 * read the same bytes as other values, and the checksums (of the files, not of the manifest) could
 * not tell.
 */
function checkCopySettings(file: string, recorded: BackupManifest['copySettings']): void {
  if (recorded === undefined) return;
  // row_security decides which rows a COPY may see, not how their text reads: a manifest written
  // before it was fixed (without it) reads the same.
  const differing = COPY_SETTING_NAMES.filter((name) => recorded[name] !== COPY_SETTINGS[name] && !(name === 'row_security' && recorded[name] === undefined));
  if (differing.length > 0) {
    const shown = differing.map((name) => `${name} ${recorded[name] === undefined ? 'missing' : JSON.stringify(recorded[name])} (expected ${JSON.stringify(COPY_SETTINGS[name])})`);
    throw new IntegrityError(`${file}: the files were written with COPY settings this version does not read: ${shown.join(', ')}`, {
      hint: 'restore it with the strata version that wrote it; nothing was loaded',
    });
  }
}

/** Names must agree with each other, so a manifest can never point at a file outside its directory. */
function checkConsistency(file: string, manifest: BackupManifest): void {
  const seen = new Set<string>();
  for (const entry of manifest.tables) {
    const expectedFile = tableFileName(entry);
    if (entry.file !== expectedFile) {
      throw new IntegrityError(`${file}: table ${entry.table} names file "${entry.file}", expected "${expectedFile}"`);
    }
    if (entry.table !== displayName(entry)) {
      throw new IntegrityError(`${file}: table "${entry.table}" does not match its schema "${entry.schema}" and name "${entry.name}"`);
    }
    if (seen.has(entry.file)) throw new IntegrityError(`${file}: table ${entry.table} is listed twice`);
    seen.add(entry.file);
  }
}
