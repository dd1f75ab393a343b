/**
 * The engine of `migrate import-profiles DIR [--dry-run] [--verify] [--create-users] [--skip-invalid]`
 * (SPEC §9). Returns data; the CLI renders it and sets the exit code (1 when `errors` or
 * `differences` is non-empty). The caller owns the connection and holds the migration lock.
 *
 * Order of work, pipelined for SPEC §10's ≥ 10,000 profiles/s: list DIR; read and parse the user
 * folders in chunks; as soon as the first file is read, look up every folder's user and PostgreSQL's
 * time zone names (one query each, answered while reading goes on); check each folder as soon as
 * both are known; and hand every 1,000 valid users to the writer, whose statements run on the server
 * while the next chunks are parsed. Everything happens in ONE transaction that commits only after
 * the last folder was read and checked: with any error (unless `skipInvalid`) it is rolled back and
 * writing stops at the first error, so "nothing is written" holds exactly as if all files had been
 * validated first. Folders that share a user with another folder wait for the end.
 */
import type { Sql } from '../db/connect.js';
import { MigrationFailed, UsageError } from '../errors.js';
import {
  applyResolution, checkTimezone, rejectSameUser, sharedUserIds, toCandidate, type Candidate,
} from './candidates.js';
import { listProfileFolders, type FolderListing, type FolderRef, type UserFolder } from './files.js';
import type { ParsedMarkdown } from './markdown.js';
import { createMarkdownParser } from './parse-pool.js';
import { silentImportLog, type ImportIssue, type ImportLog } from './types.js';
import { loadTimezones, resolveUsers, type TimezoneCheck, type UserResolution } from './users.js';
import { findDifferences, type ProfileDifference, type VerifiedProfile } from './verify.js';
import { ProfileWriter } from './write.js';

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

const DEFAULT_BATCH_SIZE = 1000;

// Folders read between two turns of the event loop, which let the server's answers in.
const READ_CHUNK = 50;

/** Imports (or dry-runs, or verifies) the markdown profiles of `dir` into `user_profiles`. */
export async function importProfiles(sql: Sql, dir: string, options: ImportOptions, log: ImportLog = silentImportLog): Promise<ImportResult> {
  const batchSize = checkOptions(options);
  const listing = await listProfileFolders(dir);
  if (listing.folders.length === 0 && listing.errors.length === 0) {
    listing.errors.push({ path: dir, message: 'no user folders: expected DIR/<user>/profile.md, preferences.md or patterns.md' });
  }
  log.info(`profiles: ${listing.folders.length} user folders`);
  return new ImportRun(sql, listing, options, batchSize, log).run();
}

/** A failed lookup, with the usual cause (tables not there yet) spelled out. */
function readFailed(error: unknown, schema: string): MigrationFailed {
  const { code, message } = error as { code?: string; message?: string };
  const hint = code === '42P01' || code === '3F000'
    ? `users and user_profiles must exist in schema "${schema}": apply the migrations up to 010_user_profiles first`
    : undefined;
  return new MigrationFailed(`import-profiles could not read the database: ${message ?? String(error)}`, { ...(hint ? { hint } : {}), cause: error });
}

/** What the two lookups answered. */
interface Lookups {
  users: Map<string, UserResolution>;
  timezones: TimezoneCheck;
  /** User ids that several folder names resolve to: their folders are checked at the end. */
  shared: Set<string>;
}

/** One import: the folders read so far, the lookups, and the batches handed to the writer. */
class ImportRun {
  // Workers read and parse folders; this thread does so too when they have a backlog, and talks to the server.
  private readonly parser = createMarkdownParser({ shareWork: true });
  /** Chunks read, in folder order, whose files may still be parsing. */
  private readonly parsing: { folders?: UserFolder<ParsedMarkdown>[]; done: Promise<void> }[] = [];
  private readonly candidates: Candidate[] = [];
  private readonly ignored: string[] = [];
  private lookups?: Promise<void>;
  private answers?: Lookups;
  private lookupFailure: unknown;
  /** candidates[0..checked) have been checked against the lookups. */
  private checked = 0;
  private readonly sameUser: Candidate[] = [];
  private readonly ready: VerifiedProfile[] = [];
  private readonly writer?: ProfileWriter;
  private hasErrors: boolean;

  constructor(
    private readonly sql: Sql,
    private readonly listing: FolderListing,
    private readonly options: ImportOptions,
    private readonly batchSize: number,
    private readonly log: ImportLog,
  ) {
    const { schema, dryRun, lockTimeoutMs, statementTimeoutMs } = options;
    if (!options.verify) this.writer = new ProfileWriter(sql, { schema, dryRun, lockTimeoutMs, statementTimeoutMs }, log);
    this.hasErrors = listing.errors.length > 0;
  }

  async run(): Promise<ImportResult> {
    try {
      await this.readAll();
    } finally {
      await this.parser.close();
    }
    for (const file of this.ignored.sort()) this.log.warn(`ignored ${file}: only profile.md, preferences.md and patterns.md are imported`);
    await this.lookups;
    if (this.lookupFailure !== undefined) {
      await this.writer?.abandon().catch(() => undefined);
      throw readFailed(this.lookupFailure, this.options.schema);
    }
    this.check(true);
    return this.result();
  }

  private async readAll(): Promise<void> {
    const { folders, root } = this.listing;
    for (let start = 0; start < folders.length; start += READ_CHUNK) {
      const reads = folders.slice(start, start + READ_CHUNK).map((ref: FolderRef) => this.parser.readFolder(root, ref));
      const chunk: { folders?: UserFolder<ParsedMarkdown>[]; done: Promise<void> } = { done: Promise.resolve() };
      chunk.done = Promise.all(reads).then((done) => {
        chunk.folders = done.map(({ folder, ignored }) => {
          this.ignored.push(...ignored);
          return folder;
        });
      });
      this.parsing.push(chunk);
      await new Promise((resolve) => setImmediate(resolve));
      this.collect();
      // The run will fail anyway: say so now rather than after reading everything.
      if (this.lookupFailure !== undefined || this.writer?.hasFailed) break;
    }
    await Promise.all(this.parsing.map((chunk) => chunk.done));
    this.collect();
  }

  /** Takes the chunks whose parsing is done, in order, as candidates, and checks what it can. */
  private collect(): void {
    for (let chunk = this.parsing[0]; chunk?.folders; chunk = this.parsing[0]) {
      this.parsing.shift();
      for (const folder of chunk.folders) {
        const candidate = toCandidate(folder);
        this.candidates.push(candidate);
        if (candidate.errors.length > 0) this.hasErrors = true;
        if (candidate.folder.files.length > 0) this.lookups ??= this.lookUp();
      }
    }
    if (this.lookupFailure === undefined) this.check(false);
  }

  /** Both lookups for every listed folder at once; answered while reading goes on. */
  private lookUp(): Promise<void> {
    const names = this.listing.folders.map((f) => f.name);
    const createUsers = this.options.createUsers && !this.options.verify;
    return Promise.all([resolveUsers(this.sql, this.options.schema, names, createUsers), loadTimezones(this.sql)]).then(
      ([users, timezones]) => { this.answers = { users, timezones, shared: sharedUserIds(users) }; },
      (error: unknown) => { this.lookupFailure = error; },
    );
  }

  /** Checks the folders read since the last call (once the lookups are in) and writes full batches. */
  private check(final: boolean): void {
    const answers = this.answers;
    if (!answers) return;
    for (; this.checked < this.candidates.length; this.checked++) {
      const candidate = this.candidates[this.checked] as Candidate;
      // A folder with no readable file has nothing to import: its user would only add noise to its error.
      if (candidate.folder.files.length === 0) continue;
      applyResolution(candidate, answers.users.get(candidate.folder.name));
      if (answers.shared.has(candidate.profile.userId)) this.sameUser.push(candidate);
      else this.accept(candidate, answers.timezones);
    }
    if (final) {
      rejectSameUser(this.sameUser);
      for (const candidate of this.sameUser) this.accept(candidate, answers.timezones);
    }
    while (this.ready.length >= this.batchSize || (final && this.ready.length > 0)) {
      const batch = this.ready.splice(0, this.batchSize);
      // After an error nothing will be committed (unless skipInvalid): stop sending work.
      if (!this.hasErrors || this.options.skipInvalid) this.writer?.write(batch);
    }
  }

  private accept(candidate: Candidate, timezones: TimezoneCheck): void {
    checkTimezone(candidate, timezones);
    if (candidate.errors.length > 0) this.hasErrors = true;
    else this.ready.push(candidate.profile);
  }

  private async result(): Promise<ImportResult> {
    const { options, candidates } = this;
    const errors: ImportIssue[] = [...this.listing.errors, ...candidates.flatMap((c) => c.errors)];
    const valid = candidates.filter((c) => c.errors.length === 0).map((c) => c.profile);
    const result: ImportResult = { dryRun: options.dryRun, imported: 0, unchanged: 0, created: 0, errors, skipped: candidates.length - valid.length };
    if (options.verify) {
      const differences = await findDifferences(this.sql, options.schema, valid).catch((error: unknown) => { throw readFailed(error, options.schema); });
      const differing = new Set(differences.map((d) => d.userId));
      return { ...result, dryRun: false, unchanged: valid.length - differing.size, differences };
    }
    const writer = this.writer as ProfileWriter;
    if (errors.length > 0 && !options.skipInvalid) {
      await writer.abandon();
      return result;
    }
    return { ...result, ...(await writer.finish()) };
  }
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
