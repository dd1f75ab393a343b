/**
 * The engine of `migrate import-profiles DIR [--dry-run] [--verify] [--create-users] [--skip-invalid]`
 * (SPEC §9). Returns data; the CLI renders it and sets the exit code (1 when `errors` or
 * `differences` is non-empty). The caller owns the connection and holds the migration lock.
 *
 * Order of work, pipelined for SPEC §10's ≥ 10,000 profiles/s: `readProfiles` lists DIR and starts
 * reading and parsing the user folders on worker threads at once — the CLI calls it before it even
 * connects, so the workers start up while the connection is made. Then, as soon as the run starts,
 * every folder's user and PostgreSQL's time zone names are looked up (one query each, answered
 * while reading goes on); each folder is checked as soon as both are known; and every 1,000 valid
 * users go to the writer, whose statement runs on the server while the next folders are parsed.
 * Everything happens in ONE transaction that commits only after the last folder was read and
 * checked: with any error (unless `skipInvalid`) it is rolled back and writing stops at the first
 * error, so "nothing is written" holds exactly as if all files had been validated first. Folders
 * that share a user with another folder wait for the end.
 */
import type { Sql } from '../db/connect.js';
import { MigrationFailed, UsageError } from '../errors.js';
import {
  applyResolution, checkTimezone, rejectSameUser, sharedUserIds, toCandidate, toVerified, type Candidate,
} from './candidates.js';
import { hasFiles, type ParsedFolder } from './encode.js';
import { listProfileFolders, profilesRoot, type FolderListing } from './files.js';
import { createMarkdownParser, type MarkdownParser } from './parse-pool.js';
import { silentImportLog, type ImportIssue, type ImportLog } from './types.js';
import { loadTimezones, resolveUsers, type TimezoneCheck, type UserResolution } from './users.js';
import { findDifferences, type ProfileDifference } from './verify.js';
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

// Folders handed to the parser per turn of the event loop (inline parsing yields between them).
const READ_CHUNK = 50;

// Up to this many files (a folder counts three) parse on this thread: a worker's start-up costs more.
const INLINE_FILES = 256;

// Files read and waiting for a worker at most (the worker holds four batches of 128 more).
const READ_AHEAD_FILES = 512;

// Rows per statement once fewer than a batch of folders are left to read.
const TAIL_BATCH = 100;

/**
 * The folders of DIR being read and parsed, in folder order, ready before the database is: made by
 * `readProfiles`, consumed by `importProfiles`. Reading stops at `close` (importProfiles closes it).
 */
export class ProfileSource {
  /** DIR listed; rejects with UsageError when DIR itself is unusable (reported by importProfiles). */
  readonly listing: Promise<FolderListing>;
  private parser?: MarkdownParser;
  /** Chunks handed to the parser, in folder order, whose folders may still be parsing. */
  private readonly chunks: { folders?: ParsedFolder[]; done: Promise<void> }[] = [];
  private sink?: (folders: ParsedFolder[]) => void;
  private stopped = false;
  private closed?: Promise<void>;
  /** Settles once every chunk has been handed to the parser and parsed (or reading stopped). */
  readonly done: Promise<void>;

  /** Throws `UsageError` at once when DIR cannot be read: before anything connects or starts. */
  constructor(readonly dir: string) {
    const root = profilesRoot(dir);
    // The worker starts loading the parser while DIR is listed (a small import closes it unused).
    const pool = createMarkdownParser({ inlineLimit: 0, prestart: true });
    this.listing = listProfileFolders(dir, root);
    this.done = this.listing.then((listing) => this.readAll(listing, pool), () => pool.close());
    // Whoever imports awaits `done`; a source that is only closed (the connection failed) must not
    // leave an unhandled rejection behind.
    this.done.catch(() => undefined);
  }

  /** Receives the parsed folders, in order, chunk by chunk: those parsed already at once, the rest as they come. */
  attach(sink: (folders: ParsedFolder[]) => void): void {
    this.sink = sink;
    this.deliver();
  }

  /** Stops handing out more folders (the run will fail anyway). */
  stop(): void {
    this.stopped = true;
  }

  /** Stops reading and ends the worker threads (folders still parsing are dropped). */
  close(): Promise<void> {
    this.stopped = true;
    this.closed ??= this.listing.then(() => this.parser?.close(), () => undefined);
    return this.closed;
  }

  private async readAll(listing: FolderListing, pool: MarkdownParser): Promise<void> {
    const { folders, root } = listing;
    // Small imports parse here; large ones go to the worker from the first folder (no markdown-it on this thread).
    let parser = pool;
    if (folders.length * 3 <= INLINE_FILES) {
      void pool.close();
      parser = createMarkdownParser({ workers: 0 });
    }
    this.parser = parser;
    for (let start = 0; start < folders.length && !this.stopped; start += READ_CHUNK) {
      const reads = folders.slice(start, start + READ_CHUNK).map((ref) => parser.readFolder(root, ref));
      const chunk: { folders?: ParsedFolder[]; done: Promise<void> } = { done: Promise.resolve() };
      chunk.done = Promise.all(reads).then((done) => {
        chunk.folders = done;
        this.deliver();
      });
      this.chunks.push(chunk);
      await new Promise((resolve) => setImmediate(resolve));
      // Read no further ahead than the workers parse (a few batches queued).
      await parser.backlogBelow(READ_AHEAD_FILES);
    }
    await Promise.all(this.chunks.map((chunk) => chunk.done));
  }

  /** Hands the chunks whose parsing is done, in order, to the sink. */
  private deliver(): void {
    const sink = this.sink;
    if (!sink) return;
    for (let chunk = this.chunks[0]; chunk?.folders; chunk = this.chunks[0]) {
      this.chunks.shift();
      sink(chunk.folders);
    }
  }
}

/**
 * Lists `dir` and starts reading and parsing its folders now, on worker threads for large imports,
 * without a database. Pass the result to `importProfiles`, which closes it; `close` it yourself if
 * you do not (its workers would keep the process alive).
 */
export function readProfiles(dir: string): ProfileSource {
  return new ProfileSource(dir);
}

/** Imports (or dry-runs, or verifies) the markdown profiles of `dir` into `user_profiles`. */
export async function importProfiles(sql: Sql, dir: string | ProfileSource, options: ImportOptions, log: ImportLog = silentImportLog): Promise<ImportResult> {
  const source = typeof dir === 'string' ? readProfiles(dir) : dir;
  try {
    const batchSize = checkOptions(options);
    const listing = await source.listing;
    if (listing.folders.length === 0 && listing.errors.length === 0) {
      listing.errors.push({ path: source.dir, message: 'no user folders: expected DIR/<user>/profile.md, preferences.md or patterns.md' });
    }
    log.info(`profiles: ${listing.folders.length} user folders`);
    return await new ImportRun(sql, source, listing, options, batchSize, log).run();
  } finally {
    await source.close();
  }
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

/** One import: the folders parsed so far, the lookups, and the batches handed to the writer. */
class ImportRun {
  /** Every folder read, in order; `undefined` once written (valid, and nothing more is needed of it). */
  private readonly candidates: (Candidate | undefined)[] = [];
  private readonly ignored: string[] = [];
  private lookups?: Promise<void>;
  private answers?: Lookups;
  private lookupFailure: unknown;
  /** True once a folder with a readable file was seen: only then does a failed lookup matter. */
  private anyFiles = false;
  /** candidates[0..checked) have been checked against the lookups. */
  private checked = 0;
  private readonly sameUser: Candidate[] = [];
  private readonly ready: Candidate[] = [];
  private readonly writer?: ProfileWriter;
  private hasErrors: boolean;

  constructor(
    private readonly sql: Sql,
    private readonly source: ProfileSource,
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
    // Asked at once, answered while the folders are read; a failure matters only once a folder has a file.
    if (this.listing.folders.length > 0) this.lookups = this.lookUp();
    this.source.attach((folders) => this.collect(folders));
    await this.source.done;
    // The worker is done: let it go while the last batches are written.
    void this.source.close();
    for (const file of this.ignored.sort()) this.log.warn(`ignored ${file}: only profile.md, preferences.md and patterns.md are imported`);
    await this.lookups;
    if (this.failedLookup()) {
      await this.writer?.abandon().catch(() => undefined);
      throw readFailed(this.lookupFailure, this.options.schema);
    }
    this.check(true);
    return this.result();
  }

  private failedLookup(): boolean {
    return this.anyFiles && this.lookupFailure !== undefined;
  }

  /** Takes parsed folders (in order) as candidates, and checks what it can. */
  private collect(folders: readonly ParsedFolder[]): void {
    for (const folder of folders) {
      const candidate = toCandidate(folder, this.candidates.length);
      this.candidates.push(candidate);
      for (const file of folder.ignored) this.ignored.push(file);
      if (candidate.errors.length > 0) this.hasErrors = true;
      if (!this.anyFiles && hasFiles(folder)) this.anyFiles = true;
    }
    // The run will fail anyway: say so now rather than after reading everything.
    if (this.failedLookup() || this.writer?.hasFailed) this.source.stop();
    else this.check(false);
  }

  /** Both lookups for every listed folder at once. */
  private lookUp(): Promise<void> {
    const names = this.listing.folders.map((f) => f.name);
    const createUsers = this.options.createUsers && !this.options.verify;
    return Promise.all([resolveUsers(this.sql, this.options.schema, names, createUsers), loadTimezones(this.sql)]).then(
      ([users, timezones]) => {
        this.answers = { users, timezones, shared: sharedUserIds(users) };
        this.check(false);
      },
      (error: unknown) => {
        this.lookupFailure = error;
        if (this.anyFiles) this.source.stop();
      },
    );
  }

  /** Checks the folders read since the last call (once the lookups are in) and writes full batches. */
  private check(final: boolean): void {
    const answers = this.answers;
    if (!answers) return;
    for (; this.checked < this.candidates.length; this.checked++) {
      const candidate = this.candidates[this.checked] as Candidate;
      // A folder with no readable file has nothing to import: its user would only add noise to its error.
      if (!hasFiles(candidate.folder)) continue;
      applyResolution(candidate, answers.users.get(candidate.folder.name));
      if (answers.shared.has(candidate.profile.userId)) this.sameUser.push(candidate);
      else this.accept(candidate, answers.timezones);
    }
    if (final) {
      rejectSameUser(this.sameUser);
      for (const candidate of this.sameUser) this.accept(candidate, answers.timezones);
    }
    // Near the end, smaller batches go out as soon as they are ready: the last statement, which the
    // commit waits for, then holds a few dozen rows rather than a thousand.
    const unread = this.listing.folders.length - this.candidates.length;
    const due = unread < this.batchSize ? Math.min(this.batchSize, TAIL_BATCH) : this.batchSize;
    while (this.ready.length >= due || (final && this.ready.length > 0)) {
      const batch = this.ready.splice(0, this.batchSize);
      // After an error nothing will be committed (unless skipInvalid): stop sending work.
      if (!this.hasErrors || this.options.skipInvalid) this.writer?.write(batch.map((c) => c.profile));
      // Sent (or never to be): only the count of valid folders matters now (--verify keeps them all).
      // Letting go of 10,000 candidates as they are written keeps the heap small: collections stay cheap.
      if (this.writer) for (const candidate of batch) this.candidates[candidate.index] = undefined;
    }
  }

  private accept(candidate: Candidate, timezones: TimezoneCheck): void {
    checkTimezone(candidate, timezones);
    if (candidate.errors.length > 0) this.hasErrors = true;
    else this.ready.push(candidate);
  }

  private async result(): Promise<ImportResult> {
    const { options, candidates } = this;
    const errors: ImportIssue[] = [...this.listing.errors];
    const valid: Candidate[] = [];
    let skipped = 0;
    for (const candidate of candidates) {
      if (candidate === undefined) continue; // written: valid
      if (candidate.errors.length > 0) skipped++;
      else valid.push(candidate);
      for (const error of candidate.errors) errors.push(error);
    }
    const result: ImportResult = { dryRun: options.dryRun, imported: 0, unchanged: 0, created: 0, errors, skipped };
    if (options.verify) {
      const differences = await findDifferences(this.sql, options.schema, valid.map(toVerified)).catch((error: unknown) => { throw readFailed(error, options.schema); });
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
