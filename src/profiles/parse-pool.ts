/**
 * Reading and parsing user folders on worker threads. A small profile file costs ~10 µs to read
 * and ~20 µs to parse and map; a 10,000-folder import (30,000 files) is a second of one core, so
 * large imports spread it: a worker reads whole folders and parses their files, and with
 * `shareWork` the caller's thread does the same whenever the workers already have a backlog, so
 * every core stays busy (SPEC §10: ≥ 10,000 profiles/s). Tasks asked for in one turn travel
 * together (batches of up to `MAX_BATCH` files), and each worker holds the next batch while it
 * works on one, so it never waits for the caller's thread.
 *
 * Small imports (the first `inlineLimit` files) run inline: starting a worker costs more than it
 * saves. Without the compiled worker next to this module (running from TypeScript sources, as the
 * tests do), everything runs inline. Results are identical either way: same functions, same input.
 *
 * Time bound: markdown-it is linear once nesting is bounded (tree.ts), so a 1 MiB file parses in
 * ~1 s at worst, but "never hangs" should not rest on one parser's record. So a file of at least
 * `largeFile` characters always parses as a task of its own on a worker (a folder read anywhere
 * hands such files back), spawned for it if need be, and a worker whose batch outlives its deadline
 * (`deadlineMs` plus `deadlineMsPerMiB` of text; a folder counts as three files just under
 * `largeFile`) is stopped; its tasks are retried one per message, and the file (or folder) that
 * alone outlives its own deadline gets an error. Smaller files may parse inline: at 64 KiB the
 * worst input known costs ~0.1 s.
 */
import fs from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { readFolder, type FolderRef, type UserFolder } from './files.js';
import { parseProfileMarkdown, type ParsedMarkdown } from './markdown.js';

/** Reads and parses markdown profile files, possibly in parallel; `close` when done. */
export interface MarkdownParser {
  parse(text: string): Promise<ParsedMarkdown>;
  /** Reads a user folder (files.ts `readFolder`) and parses its files. */
  readFolder(root: string, ref: FolderRef): Promise<FolderRead>;
  close(): Promise<void>;
}

/** A user folder read and parsed, and the markdown files in it that are not imported. */
export interface FolderRead {
  folder: UserFolder<ParsedMarkdown>;
  ignored: string[];
}

/** What a worker is asked: one file's text, or a folder to read, parsing its files under `largeFile`. */
export type Task = string | { root: string; ref: FolderRef; largeFile: number };

/** A folder as a task answers it: files of `largeFile` characters or more come back unparsed. */
interface FolderAnswer {
  folder: UserFolder<ParsedMarkdown | { text: string }>;
  ignored: string[];
}

/** Runs a task on this thread: the worker's job, and the inline path's. */
export function runTask(task: Task): ParsedMarkdown | FolderAnswer {
  if (typeof task === 'string') return parseProfileMarkdown(task);
  const ignored: string[] = [];
  const read = (text: string): ParsedMarkdown | { text: string } => (text.length >= task.largeFile ? { text } : parseProfileMarkdown(text));
  return { folder: readFolder(task.root, task.ref, read, ignored), ignored };
}

/** Options of `createMarkdownParser`. */
export interface ParserOptions {
  /** Worker threads to use (default: available CPUs − 1, at least 1, at most 7; 0 parses inline). */
  workers?: number;
  /** The compiled worker module (default: `parse-worker.js` beside this module). */
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
}

const DEFAULT_INLINE_LIMIT = 256;
// Large enough to amortise a message (~0.3 ms each way), small enough to keep every worker busy.
const MAX_BATCH = 128;
const MIB = 1024 * 1024;
// Loading the parser into a new thread takes ~50 ms, far more on a busy machine: not the files' fault.
const STARTUP_ALLOWANCE_MS = 10_000;

/** A parser for one import run: inline, or a worker pool when it pays and is available. */
export function createMarkdownParser(options: ParserOptions = {}): MarkdownParser {
  const workers = options.workers ?? Math.min(7, Math.max(1, os.availableParallelism() - 1));
  const url = options.workerUrl ?? new URL('./parse-worker.js', import.meta.url);
  if (workers < 1 || !fs.existsSync(fileURLToPath(url))) return inlineParser;
  return new WorkerPool(url, workers, {
    inlineLimit: options.inlineLimit ?? DEFAULT_INLINE_LIMIT,
    shareWork: options.shareWork ?? false,
    largeFile: options.largeFile ?? 64 * 1024,
    deadlineMs: options.deadlineMs ?? 5000,
    deadlineMsPerMiB: options.deadlineMsPerMiB ?? 10_000,
  });
}

const inlineParser: MarkdownParser = {
  parse: async (text) => parseProfileMarkdown(text),
  readFolder: async (root, ref) => runTask({ root, ref, largeFile: Infinity }) as FolderRead,
  close: async () => {},
};

interface Job {
  task: Task;
  resolve: (result: unknown) => void;
}

// A folder is three files: its weight in a batch, and (each just under `largeFile`) in a deadline.
const FOLDER_FILES = 3;

function weight(task: Task): number {
  return typeof task === 'string' ? 1 : FOLDER_FILES;
}

/** Jobs sent to a worker in one message; its deadline runs while it is the worker's oldest. */
interface Batch {
  jobs: Job[];
  ms: number;
  timer?: NodeJS.Timeout;
}

type PoolSettings = Required<Pick<ParserOptions, 'inlineLimit' | 'shareWork' | 'largeFile' | 'deadlineMs' | 'deadlineMsPerMiB'>>;

// Batches a worker may hold: the next one waits in its port, so the worker never idles while this
// thread is busy reading (it only hands out work between its own chunks).
const DEPTH = 2;

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
  private spawned = false;
  private pumping = false;
  /** True once any worker answered: from then on a dying worker is the fault of its files, not of startup. */
  private started = false;
  private closed = false;

  constructor(private readonly url: URL, private readonly size: number, private readonly settings: PoolSettings) {}

  parse(text: string): Promise<ParsedMarkdown> {
    return this.submit(text) as Promise<ParsedMarkdown>;
  }

  async readFolder(root: string, ref: FolderRef): Promise<FolderRead> {
    const answer = (await this.submit({ root, ref, largeFile: this.settings.largeFile })) as FolderAnswer;
    const { folder, ignored } = answer;
    if (!folder.files.some((file) => 'text' in file.content)) return answer as FolderRead;
    // Large files come back as text and parse as tasks of their own, under their own deadline.
    const files = await Promise.all(folder.files.map(async (file) => ({
      ...file, content: 'text' in file.content ? await this.parse(file.content.text) : file.content,
    })));
    return { folder: { ...folder, files }, ignored };
  }

  private submit(task: Task): Promise<unknown> {
    const { inlineLimit, shareWork, largeFile } = this.settings;
    const large = typeof task === 'string' && task.length >= largeFile;
    this.requested += weight(task);
    if (this.requested <= inlineLimit && !large) return Promise.resolve(runTask(task));
    if (!this.spawned) {
      // Once: workers that cannot start are not started again (the tasks then run inline).
      this.spawned = true;
      for (let i = 0; i < this.size; i++) this.spawn();
    }
    if (shareWork && !large && this.queued >= 2 * MAX_BATCH * this.workers.length) return Promise.resolve(runTask(task));
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

  async close(): Promise<void> {
    this.closed = true;
    for (const batches of this.inFlight.values()) for (const batch of batches) clearTimeout(batch.timer);
    await Promise.all(this.workers.map((worker) => worker.terminate()));
  }

  private spawn(): void {
    const worker = new Worker(this.url);
    worker.on('message', (results: unknown[]) => this.finish(worker, results));
    worker.on('error', (error) => this.lose(worker, error.message));
    worker.on('exit', (code) => this.lose(worker, `worker exited with code ${code}`));
    this.workers.push(worker);
    this.inFlight.set(worker, []);
  }

  private pump(): void {
    if (this.workers.length === 0) {
      // No worker left (none could start): finish inline rather than leave promises hanging.
      for (const job of [...this.retry.splice(0), ...this.queue.splice(0)]) job.resolve(runTask(job.task));
      this.queued = 0;
      return;
    }
    for (let worker = this.leastBusy(); worker && (this.retry.length > 0 || this.queue.length > 0); worker = this.leastBusy()) {
      const jobs = this.retry.length > 0 ? this.retry.splice(0, 1) : this.nextBatch();
      const chars = jobs.reduce((sum, { task }) => sum + (typeof task === 'string' ? task.length : FOLDER_FILES * task.largeFile), 0);
      const batches = this.inFlight.get(worker) as Batch[];
      batches.push({ jobs, ms: Math.round(this.settings.deadlineMs + (this.settings.deadlineMsPerMiB * chars) / MIB) });
      if (batches.length === 1) this.startClock(worker);
      worker.postMessage(jobs.map((job) => job.task));
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
function failed(task: Task, reason: string): ParsedMarkdown | FolderAnswer {
  if (typeof task === 'string') return { data: {}, issues: [{ line: 1, message: `could not be parsed: ${reason}` }] };
  const { name, path } = task.ref;
  return { folder: { name, path, files: [], errors: [{ path, message: `could not be read: ${reason}` }] }, ignored: [] };
}
