/**
 * Reading and parsing user folders, the parsing on a worker thread. A small profile file costs
 * ~8 µs to read and ~12 µs to parse and map once the code is optimised — but the first thousands
 * of files run before V8 has optimised markdown-it and the mapping, ~10× slower, and that warm-up
 * (~250 ms of CPU on 2 cores, JIT compilation included) is paid once per thread that parses. So the
 * caller's thread reads the folders (files.ts `readFolder`, synchronous system calls) and hands the
 * texts to the workers (by default one, and one more per further core, at most three), which parse
 * them and answer with each folder encoded as one string (encode.ts); the calling thread never
 * loads markdown-it. Tasks asked for in one turn travel together (batches of up to `MAX_BATCH`
 * files), each worker holds up to `DEPTH` batches so it never waits for the caller's thread, and
 * `backlogBelow` lets the reader wait rather than read far ahead: texts that wait long survive
 * garbage collections, which is what makes those expensive. With `shareWork` the caller's thread
 * also parses whenever the workers have a backlog (it then pays the warm-up too).
 *
 * Small imports (the first `inlineLimit` files) run inline: starting a worker costs more than it
 * saves. Without the compiled worker (running from TypeScript sources, as the tests do),
 * everything runs inline. Results are identical either way: same functions, same input.
 *
 * Time bound: markdown-it is linear once nesting is bounded (tree.ts), so a 1 MiB file parses in
 * ~1 s at worst, but "never hangs" should not rest on one parser's record. So a file of at least
 * `largeFile` characters always parses as a task of its own on a worker (and so do the other files
 * of its folder), spawned for it if need be, and a worker whose batch outlives its deadline
 * (`deadlineMs` plus `deadlineMsPerMiB` of text in the batch) is stopped; its tasks are retried one
 * per message, and the file (or folder) that alone outlives its own deadline gets an error. Smaller
 * files may parse inline: at 64 KiB the worst input known costs ~0.1 s.
 */
import fs from 'node:fs';
import os from 'node:os';
import v8 from 'node:v8';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { encodeFolder, unpackFolder, type ParsedFolder } from './encode.js';
import { readFolder, type FolderRef, type UserFolder } from './files.js';
import type { FolderTask, runTask as RunTask, Task, TaskResult } from './folder-task.js';
import type { ParsedMarkdown } from './markdown.js';

export type { Task } from './folder-task.js';

/** Reads and parses markdown profile files, possibly in parallel; `close` when done. */
export interface MarkdownParser {
  parse(text: string): Promise<ParsedMarkdown>;
  /** Reads a user folder (files.ts `readFolder`), parses its files and encodes it (encode.ts). */
  readFolder(root: string, ref: FolderRef): Promise<ParsedFolder>;
  /**
   * Resolves once at most `files` files wait for a worker: reading no further ahead than the workers
   * parse keeps the texts short-lived (they die young, cheap for the garbage collector).
   */
  backlogBelow(files: number): Promise<void>;
  close(): Promise<void>;
}

/** Options of `createMarkdownParser`. */
export interface ParserOptions {
  /** Worker threads to use (default: one per CPU beyond the first, at least 1, at most 3; 0 parses inline). */
  workers?: number;
  /** The compiled worker module (default: the bundled `../vendor/parse-worker.mjs`, else `parse-worker.js` beside this module). */
  workerUrl?: URL;
  /** Files read and parsed inline before any worker starts (default 256; a folder counts three). */
  inlineLimit?: number;
  /** Run tasks inline while the workers have a backlog, so the calling thread helps (default false). */
  shareWork?: boolean;
  /** Files of at least this many characters always parse on a worker (default 64 KiB). */
  largeFile?: number;
  /** A batch's deadline: this many ms (default 5,000; a worker's first batch gets 10 s more to start) … */
  deadlineMs?: number;
  /** … plus this many per MiB of text in the batch (default 10,000). */
  deadlineMsPerMiB?: number;
  /** Start the workers now rather than with the first task past `inlineLimit` (default false). */
  prestart?: boolean;
}

const DEFAULT_INLINE_LIMIT = 256;
// Large enough to amortise a message (~0.3 ms each way), small enough to keep every worker busy.
const MAX_BATCH = 128;
const MIB = 1024 * 1024;
// Loading the parser into a new thread takes ~50 ms, far more on a busy machine: not the files' fault.
const STARTUP_ALLOWANCE_MS = 10_000;
// A worker's young generation. Node's default for a worker is small: parsing 15,000 files held in
// the worker took ~600 ms instead of ~330 (scavenges copying what is still in use, over and over).
// A worker now holds little, and 16 MiB keeps its scavenges few without the page faults of more.
const YOUNG_GENERATION_MB = 16;

/** The worker module: the one-file bundle when the build made it, else tsc's output (undefined: none, parse inline). */
function defaultWorkerUrl(): URL | undefined {
  for (const url of [new URL('../vendor/parse-worker.mjs', import.meta.url), new URL('./parse-worker.js', import.meta.url)]) {
    if (fs.existsSync(fileURLToPath(url))) return url;
  }
  return undefined;
}

/** A parser for one import run: inline, or a worker pool when it pays and is available. */
export function createMarkdownParser(options: ParserOptions = {}): MarkdownParser {
  const workers = options.workers ?? Math.max(1, Math.min(3, os.availableParallelism() - 1));
  const url = options.workerUrl ?? defaultWorkerUrl();
  if (workers < 1 || !url || !fs.existsSync(fileURLToPath(url))) return inlineParser;
  const pool = new WorkerPool(url, workers, {
    inlineLimit: options.inlineLimit ?? DEFAULT_INLINE_LIMIT,
    shareWork: options.shareWork ?? false,
    largeFile: options.largeFile ?? 64 * 1024,
    deadlineMs: options.deadlineMs ?? 5000,
    deadlineMsPerMiB: options.deadlineMsPerMiB ?? 10_000,
  });
  if (options.prestart) pool.start();
  return pool;
}

// The parser's module (and markdown-it) load on this thread only when a task runs here.
let taskModule: Promise<{ runTask: typeof RunTask }> | undefined;

function runHere(task: Task): Promise<TaskResult> {
  taskModule ??= import('./folder-task.js');
  return taskModule.then((module) => module.runTask(task));
}

/** Reads a folder on this thread: its files' texts, and the markdown files it ignores. */
function readTexts(root: string, ref: FolderRef): FolderTask {
  const ignored: string[] = [];
  return { folder: readFolder(root, ref, (text) => text, ignored), ignored };
}

/** A folder with nothing to parse (no file could be read), encoded here. */
function withoutFiles({ folder, ignored }: FolderTask): ParsedFolder {
  return encodeFolder({ ...folder, files: [] }, ignored);
}

const inlineParser: MarkdownParser = {
  parse: (text) => runHere(text) as Promise<ParsedMarkdown>,
  readFolder: async (root, ref) => {
    const task = readTexts(root, ref);
    return task.folder.files.length === 0 ? withoutFiles(task) : unpackFolder(ref, (await runHere(task)) as string);
  },
  backlogBelow: async () => {},
  close: async () => {},
};

/**
 * Scavenges (young-generation collections) on one thread, not on V8's helper threads, while a pool
 * runs. A worker keeps little alive from one file to the next, so its scavenges are short, but a
 * parallel scavenge makes it wait for helper threads that compete for the same cores as the import,
 * its workers and the PostgreSQL server: on 2 cores under load, 180 scavenges took ~200 ms of the
 * worker's time in parallel and ~80 ms single-threaded. The flag is process-wide and read at each
 * scavenge; it is set back when the last pool closes.
 */
let poolsRunning = 0;

function scavengeOnOneThread(on: boolean): void {
  poolsRunning += on ? 1 : -1;
  if (on ? poolsRunning === 1 : poolsRunning === 0) v8.setFlagsFromString(on ? '--no-parallel-scavenge' : '--parallel-scavenge');
}

interface Job {
  task: Task;
  resolve: (result: unknown) => void;
}

/** A task's weight in a batch: its files. */
function weight(task: Task): number {
  return typeof task === 'string' ? 1 : task.folder.files.length;
}

/** The characters a task parses (its deadline grows with them). */
function characters(task: Task): number {
  if (typeof task === 'string') return task.length;
  let sum = 0;
  for (const file of task.folder.files) sum += file.content.length;
  return sum;
}

/** Jobs sent to a worker in one message; its deadline runs while it is the worker's oldest. */
interface Batch {
  jobs: Job[];
  ms: number;
  timer?: NodeJS.Timeout;
}

type PoolSettings = Required<Pick<ParserOptions, 'inlineLimit' | 'shareWork' | 'largeFile' | 'deadlineMs' | 'deadlineMsPerMiB'>>;

// Batches a worker may hold: the next ones wait in its port, so the worker does not idle while
// this thread is busy (reading, writing a batch, collecting garbage) or off the CPU. Two left the
// worker idle ~15% of the time on 2 busy cores; four, ~5%.
const DEPTH = 4;

class WorkerPool implements MarkdownParser {
  private readonly workers: Worker[] = [];
  /** Batches sent to each worker and not answered yet, oldest first: the oldest is the one it works on. */
  private readonly inFlight = new Map<Worker, Batch[]>();
  /** Workers stopped for missing a deadline, and why: their oldest batch is at fault. */
  private readonly overdue = new Map<Worker, string>();
  /** Workers that have answered once (started up). */
  private readonly answered = new Set<Worker>();
  private readonly queue: Job[] = [];
  /** Weight of the queue (files; a folder counts three). */
  private queued = 0;
  /** Jobs of a batch whose worker died, retried one per message to find the file at fault. */
  private readonly retry: Job[] = [];
  private requested = 0;
  /** Callers of `backlogBelow` waiting for the queue to shrink. */
  private readonly waiting: { files: number; resolve: () => void }[] = [];
  private spawned = false;
  private pumping = false;
  /** True once any worker answered: from then on a dying worker is the fault of its files, not of startup. */
  private started = false;
  private closed = false;

  constructor(private readonly url: URL, private readonly size: number, private readonly settings: PoolSettings) {}

  parse(text: string): Promise<ParsedMarkdown> {
    return this.submit(text) as Promise<ParsedMarkdown>;
  }

  async readFolder(root: string, ref: FolderRef): Promise<ParsedFolder> {
    // Read here (the workers only parse: one worker warms up its compiler once, see the top of this file).
    const task = readTexts(root, ref);
    const { folder, ignored } = task;
    if (folder.files.length === 0) return withoutFiles(task);
    if (folder.files.every((file) => file.content.length < this.settings.largeFile)) {
      const answer = (await this.submit(task)) as string | ParsedFolder;
      return typeof answer === 'string' ? unpackFolder(ref, answer) : answer; // an object: the folder failed
    }
    // A large file parses as a task of its own, under its own deadline; so do its neighbours, then.
    const files = await Promise.all(folder.files.map(async (file) => ({ ...file, content: await this.parse(file.content) })));
    return encodeFolder({ ...folder, files } as UserFolder<ParsedMarkdown>, ignored);
  }

  private submit(task: Task): Promise<unknown> {
    const { inlineLimit, shareWork, largeFile } = this.settings;
    const large = typeof task === 'string' && task.length >= largeFile;
    this.requested += weight(task);
    if (this.requested <= inlineLimit && !large) return runHere(task);
    this.start();
    if (shareWork && !large && this.queued >= 2 * MAX_BATCH * this.workers.length) return runHere(task);
    return new Promise((resolve) => {
      this.queue.push({ task, resolve });
      this.queued += weight(task);
      // Once per turn, not per task: tasks asked for together travel in one message.
      if (!this.pumping) {
        this.pumping = true;
        queueMicrotask(() => {
          this.pumping = false;
          this.pump();
        });
      }
    });
  }

  /** Starts the workers, once: workers that cannot start are not started again (the tasks then run inline). */
  start(): void {
    if (this.spawned || this.closed) return;
    this.spawned = true;
    scavengeOnOneThread(true);
    for (let i = 0; i < this.size; i++) this.spawn();
  }

  backlogBelow(files: number): Promise<void> {
    if (this.queued <= files || this.workers.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiting.push({ files, resolve }));
  }

  async close(): Promise<void> {
    if (this.spawned && !this.closed) scavengeOnOneThread(false);
    this.closed = true;
    for (const { resolve } of this.waiting.splice(0)) resolve();
    for (const batches of this.inFlight.values()) for (const batch of batches) clearTimeout(batch.timer);
    await Promise.all(this.workers.map((worker) => worker.terminate()));
  }

  private spawn(): void {
    const worker = new Worker(this.url, { resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB } });
    worker.on('message', (results: unknown[]) => this.finish(worker, results));
    worker.on('error', (error) => this.lose(worker, error.message));
    worker.on('exit', (code) => this.lose(worker, `worker exited with code ${code}`));
    this.workers.push(worker);
    this.inFlight.set(worker, []);
  }

  private pump(): void {
    if (this.workers.length === 0) {
      // No worker left (none could start): finish inline rather than leave promises hanging.
      for (const job of [...this.retry.splice(0), ...this.queue.splice(0)]) void runHere(job.task).then(job.resolve);
      this.queued = 0;
    }
    for (let worker = this.leastBusy(); worker && (this.retry.length > 0 || this.queue.length > 0); worker = this.leastBusy()) {
      const jobs = this.retry.length > 0 ? this.retry.splice(0, 1) : this.nextBatch();
      const chars = jobs.reduce((sum, { task }) => sum + characters(task), 0);
      const batches = this.inFlight.get(worker) as Batch[];
      batches.push({ jobs, ms: Math.round(this.settings.deadlineMs + (this.settings.deadlineMsPerMiB * chars) / MIB) });
      if (batches.length === 1) this.startClock(worker);
      worker.postMessage(jobs.map((job) => job.task));
    }
    // The queue shrank: readers waiting for it may go on.
    for (let i = this.waiting.length - 1; i >= 0; i--) {
      const waiter = this.waiting[i] as { files: number; resolve: () => void };
      if (this.queued > waiter.files && this.workers.length > 0) continue;
      this.waiting.splice(i, 1);
      waiter.resolve();
    }
  }

  /** The oldest queued jobs, up to a fair share of the queue and `MAX_BATCH` files. */
  private nextBatch(): Job[] {
    const limit = Math.min(MAX_BATCH, Math.ceil(this.queued / this.workers.length));
    let taken = 0;
    let count = 0;
    for (const job of this.queue) {
      if (count > 0 && taken + weight(job.task) > limit) break;
      taken += weight(job.task);
      count++;
    }
    this.queued -= taken;
    return this.queue.splice(0, count);
  }

  /** The worker with the fewest batches, if it can take one more. */
  private leastBusy(): Worker | undefined {
    let best: Worker | undefined;
    for (const worker of this.workers) {
      const load = this.inFlight.get(worker)?.length ?? DEPTH;
      if (load < DEPTH && (best === undefined || load < (this.inFlight.get(best)?.length ?? DEPTH))) best = worker;
    }
    return best;
  }

  /** Starts the deadline of the worker's oldest batch (the one it is working on). */
  private startClock(worker: Worker): void {
    const batch = this.inFlight.get(worker)?.[0];
    if (!batch) return;
    const startup = this.answered.has(worker) ? 0 : STARTUP_ALLOWANCE_MS;
    batch.timer = setTimeout(() => {
      this.overdue.set(worker, `parsing took longer than ${(batch.ms / 1000).toFixed(1)} s: the file may be crafted to be slow`);
      void worker.terminate();
    }, batch.ms + startup);
  }

  private finish(worker: Worker, results: unknown[]): void {
    const batch = this.inFlight.get(worker)?.shift();
    if (batch) clearTimeout(batch.timer);
    (batch?.jobs ?? []).forEach((job, i) => job.resolve(results[i] ?? failed(job.task, 'no result from the parser thread')));
    this.started = true;
    this.answered.add(worker);
    this.startClock(worker);
    this.pump();
  }

  private lose(worker: Worker, reason: string): void {
    const index = this.workers.indexOf(worker);
    if (index < 0) return; // already handled ('error' is followed by 'exit')
    this.workers.splice(index, 1);
    const [oldest, ...waiting] = this.inFlight.get(worker) ?? [];
    this.inFlight.delete(worker);
    this.answered.delete(worker);
    for (const batch of [oldest, ...waiting]) clearTimeout(batch?.timer);
    if (this.closed) return;
    const requeue = (jobs: Job[]): void => {
      this.queue.unshift(...jobs);
      this.queued += jobs.reduce((sum, job) => sum + weight(job.task), 0);
    };
    // Batches still waiting in the worker's port were never started: not at fault (a retried job stays alone).
    for (const batch of waiting.reverse()) {
      if (batch.jobs.length === 1) this.retry.unshift(...batch.jobs);
      else requeue(batch.jobs);
    }
    const jobs = oldest?.jobs ?? [];
    const overdue = this.overdue.get(worker);
    if (!this.started && overdue === undefined) {
      // Workers cannot start (no respawn loop): not the tasks' fault; they wait for another worker, or run inline.
      requeue(jobs);
    } else {
      // A batch dies with its worker; only a task that kills (or stalls) a worker on its own is reported.
      const [job] = jobs;
      if (jobs.length === 1 && job) job.resolve(failed(job.task, overdue ?? reason));
      else this.retry.push(...jobs);
      this.spawn();
    }
    this.pump();
  }
}

/** A task's answer when its worker died on it (or outlived its deadline). */
function failed(task: Task, reason: string): ParsedMarkdown | ParsedFolder {
  if (typeof task === 'string') return { data: {}, issues: [{ line: 1, message: `could not be parsed: ${reason}` }] };
  const { folder, ignored } = task;
  const failure = { path: folder.path, message: `could not be read: ${reason}` };
  return { name: folder.name, path: folder.path, json: {}, paths: {}, errors: [...folder.errors, failure], ignored };
}
