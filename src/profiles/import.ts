/**
 * The engine of `migrate import-profiles DIR [--dry-run] [--verify] [--create-users] [--skip-invalid]`
 * (SPEC §9). Returns data; the CLI renders it and sets the exit code (1 when `errors` or
 * `differences` is non-empty). The caller owns the connection and holds the migration lock.
 *
 * Order of work: read every folder → parse every file → resolve every user and check every time
 * zone (one query each) → only then write, in one transaction. Any error means nothing is written,
 * unless `skipInvalid`, which writes the users without errors and lists the others.
 */
import type { Sql } from '../db/connect.js';
import { MigrationFailed, UsageError } from '../errors.js';
import { readProfileFolders, type UserFolder } from './files.js';
import type { ParsedMarkdown } from './markdown.js';
import { createMarkdownParser } from './parse-pool.js';
import { silentImportLog, type ImportIssue, type ImportLog, type ProfileColumn, type ProfileObject } from './types.js';
import { checkTimezones, resolveUsers, timezoneProblem, type UserResolution } from './users.js';
import { findDifferences, type ProfileDifference, type VerifiedProfile } from './verify.js';
import { writeProfiles } from './write.js';

export type { ProfileDifference } from './verify.js';

/** Flags of `import-profiles` plus the target schema. */
export interface ImportOptions {
  /** `--dry-run`: do the whole write in a transaction that is rolled back. */
  dryRun: boolean;
  /** `--verify`: write nothing; compare the files with the database. Takes precedence over the rest. */
  verify: boolean;
  /** `--create-users`: create unknown users with 002's id mapping. */
  createUsers: boolean;
  /** `--skip-invalid`: import the valid users even when others have errors. */
  skipInvalid: boolean;
  /** `--schema`: where `users` and `user_profiles` live. */
  schema: string;
  /** Rows per statement (default 1,000). */
  batchSize?: number;
  /** `SET LOCAL lock_timeout` (ms) for the write transaction: the CLI passes its lock settings. */
  lockTimeoutMs?: number;
  /** `SET LOCAL statement_timeout` (ms) for the write transaction (SPEC §7: 60 s for dry runs). */
  statementTimeoutMs?: number;
}

/** SPEC §5's `import-profiles` JSON, plus `skipped` and, for `--verify`, `differences`. */
export interface ImportResult {
  dryRun: boolean;
  /** Users whose profile row was written (or would be, in a dry run), created users included. */
  imported: number;
  /** Valid users whose stored values already equal their files (with `verify`: that have no difference). */
  unchanged: number;
  /** Users created by `--create-users`. */
  created: number;
  /** Every problem, with its path; nothing was written when non-empty unless `skipInvalid`. */
  errors: ImportIssue[];
  /** User folders left out because of errors. */
  skipped: number;
  /** With `verify`: every value that differs between files and database. */
  differences?: ProfileDifference[];
}

/** One user folder after parsing: its values, where they came from, and its problems. */
interface Candidate {
  folder: UserFolder<ParsedMarkdown>;
  profile: VerifiedProfile;
  errors: ImportIssue[];
}

const DEFAULT_BATCH_SIZE = 1000;

/** Imports (or dry-runs, or verifies) the markdown profiles of `dir` into `user_profiles`. */
export async function importProfiles(sql: Sql, dir: string, options: ImportOptions, log: ImportLog = silentImportLog): Promise<ImportResult> {
  const batchSize = checkOptions(options);
  const parser = createMarkdownParser();
  const scan = await readProfileFolders(dir, (text) => parser.parse(text)).finally(() => parser.close());
  for (const file of scan.ignored) log.warn(`ignored ${file}: only profile.md, preferences.md and patterns.md are imported`);
  if (scan.folders.length === 0 && scan.errors.length === 0) {
    scan.errors.push({ path: dir, message: 'no user folders: expected DIR/<user>/profile.md, preferences.md or patterns.md' });
  }
  const candidates = scan.folders.map(toCandidate);
  log.info(`profiles: read ${candidates.length} user folders`);
  await resolveCandidates(sql, candidates, options).catch((error: unknown) => { throw readFailed(error, options.schema); });
  const errors = [...scan.errors, ...candidates.flatMap((c) => c.errors)];
  const valid = candidates.filter((c) => c.errors.length === 0).map((c) => c.profile);
  const result: ImportResult = { dryRun: options.dryRun, imported: 0, unchanged: 0, created: 0, errors, skipped: candidates.length - valid.length };
  if (options.verify) {
    const differences = await findDifferences(sql, options.schema, valid).catch((error: unknown) => { throw readFailed(error, options.schema); });
    const differing = new Set(differences.map((d) => d.userId));
    return { ...result, dryRun: false, unchanged: valid.length - differing.size, differences };
  }
  if (errors.length > 0 && !options.skipInvalid) return result;
  const { schema, dryRun, lockTimeoutMs, statementTimeoutMs } = options;
  const counts = await writeProfiles(sql, valid, { schema, dryRun, batchSize, lockTimeoutMs, statementTimeoutMs }, log);
  return { ...result, ...counts };
}

/** A failed lookup, with the usual cause (tables not there yet) spelled out. */
function readFailed(error: unknown, schema: string): MigrationFailed {
  const { code, message } = error as { code?: string; message?: string };
  const hint = code === '42P01' || code === '3F000'
    ? `users and user_profiles must exist in schema "${schema}": apply the migrations up to 010_user_profiles first`
    : undefined;
  return new MigrationFailed(`import-profiles could not read the database: ${message ?? String(error)}`, { ...(hint ? { hint } : {}), cause: error });
}

function checkOptions(options: ImportOptions): number {
  // porsager's sql(name) splits identifiers on dots; a dotted schema name would be quoted wrongly.
  if (options.schema === '' || options.schema.includes('.')) {
    throw new UsageError(`invalid schema name ${JSON.stringify(options.schema)}`, { hint: 'pass --schema NAME without dots' });
  }
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new UsageError(`batch size must be a positive integer, got ${batchSize}`);
  return batchSize;
}

function toCandidate(folder: UserFolder<ParsedMarkdown>): Candidate {
  const profile: VerifiedProfile = { user: folder.name, userId: '', columns: {}, paths: {} };
  const candidate: Candidate = { folder, profile, errors: [...folder.errors] };
  for (const file of folder.files) {
    const parsed = file.content;
    for (const issue of parsed.issues) candidate.errors.push({ path: file.path, message: `line ${issue.line}: ${issue.message}` });
    profile.columns[file.column] = parsed.data;
    profile.paths[file.column] = file.path;
  }
  readTimezone(candidate);
  return candidate;
}

/** SPEC §9: a top-level `timezone` key in profile.md or preferences.md also sets the column. */
function readTimezone(candidate: Candidate): void {
  const { profile } = candidate;
  const sources: { column: ProfileColumn; data: ProfileObject }[] = [];
  for (const column of ['profile', 'preferences'] as const) {
    const data = profile.columns[column];
    if (data && Object.hasOwn(data, 'timezone')) sources.push({ column, data });
  }
  for (const { column, data } of sources) {
    const value = data.timezone;
    const path = profile.paths[column] ?? candidate.folder.path;
    if (typeof value !== 'string') {
      candidate.errors.push({ path, message: 'timezone must be one time zone name, e.g. "Timezone: Europe/London"' });
    } else if (profile.timezone !== undefined && profile.timezone !== value) {
      candidate.errors.push({ path, message: `timezone "${value}" differs from "${profile.timezone}" in ${profile.paths.timezone}: keep one` });
    } else if (profile.timezone === undefined) {
      profile.timezone = value;
      profile.paths.timezone = path;
    }
  }
}

async function resolveCandidates(sql: Sql, all: Candidate[], options: ImportOptions): Promise<void> {
  // A folder with no readable file has nothing to import: its user would only add noise to its error.
  const candidates = all.filter((c) => c.folder.files.length > 0);
  if (candidates.length === 0) return;
  const createUsers = options.createUsers && !options.verify;
  const resolutions = await resolveUsers(sql, options.schema, candidates.map((c) => c.folder.name), createUsers);
  for (const candidate of candidates) applyResolution(candidate, resolutions.get(candidate.folder.name));
  rejectSameUser(candidates);
  const names = [...new Set(candidates.flatMap((c) => (c.profile.timezone === undefined ? [] : [c.profile.timezone])))];
  const timezones = await checkTimezones(sql, names);
  for (const { profile, errors } of candidates) {
    const problem = profile.timezone === undefined ? undefined : timezoneProblem(profile.timezone, timezones);
    if (problem) errors.push({ path: profile.paths.timezone ?? '', message: problem });
  }
}

function applyResolution(candidate: Candidate, resolution: UserResolution | undefined): void {
  if (!resolution || resolution.kind === 'error') {
    candidate.errors.push({ path: candidate.folder.path, message: resolution?.message ?? 'user not resolved' });
    return;
  }
  candidate.profile.userId = resolution.userId;
  if (resolution.kind === 'create') candidate.profile.create = { externalId: resolution.externalId };
}

/** Two folders naming one user (`ABC…` and `abc…`, or a UUID and an external id) would fight: refuse both. */
function rejectSameUser(candidates: Candidate[]): void {
  const byUser = new Map<string, Candidate[]>();
  for (const candidate of candidates) {
    if (candidate.profile.userId === '') continue;
    byUser.set(candidate.profile.userId, [...(byUser.get(candidate.profile.userId) ?? []), candidate]);
  }
  for (const [userId, same] of byUser) {
    if (same.length < 2) continue;
    const names = same.map((c) => c.folder.name).join(', ');
    for (const candidate of same) {
      candidate.errors.push({ path: candidate.folder.path, message: `folders ${names} are the same user (user_id ${userId}): keep one` });
    }
  }
}
