/**
 * Markdown parsing off the main thread. micromark, the CommonMark parser behind
 * mdast-util-from-markdown, costs ~0.1–0.3 ms per small file, ten times the batched database
 * write (SPEC §10 asks ≥ 10,000 profiles/s), so large imports spread parsing over worker threads.
 *
 * Small imports (the first `INLINE_LIMIT` files) parse inline: starting workers costs more than it
 * saves. Without the compiled worker next to this module (running from TypeScript sources, as the
 * tests do), everything parses inline. Results are identical either way: same function, same input.
 */
import fs from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { parseProfileMarkdown, type ParsedMarkdown } from './markdown.js';

/** Parses markdown profile files, possibly in parallel; `close` when done. */
export interface MarkdownParser {
  parse(text: string): Promise<ParsedMarkdown>;
  close(): Promise<void>;
}

/** Options of `createMarkdownParser`. */
export interface ParserOptions {
  /** Worker threads to use (default: available CPUs, at most 8; ≤ 1 parses inline). */
  workers?: number;
  /** The compiled worker module (default: `parse-worker.js` beside this module). */
  workerUrl?: URL;
  /** Files parsed inline before any worker starts (default 256). */
  inlineLimit?: number;
}

const DEFAULT_INLINE_LIMIT = 256;
// Large enough to amortise a message round trip, small enough to keep every worker busy.
const MAX_BATCH = 64;

/** A parser for one import run: inline, or a worker pool when it pays and is available. */
export function createMarkdownParser(options: ParserOptions = {}): MarkdownParser {
  const workers = options.workers ?? Math.min(8, os.availableParallelism());
  const url = options.workerUrl ?? new URL('./parse-worker.js', import.meta.url);
  if (workers <= 1 || !fs.existsSync(fileURLToPath(url))) return inlineParser;
  return new WorkerPool(url, workers, options.inlineLimit ?? DEFAULT_INLINE_LIMIT);
}

const inlineParser: MarkdownParser = {
  parse: async (text) => parseProfileMarkdown(text),
  close: async () => {},
};

interface Job {
  text: string;
  resolve: (parsed: ParsedMarkdown) => void;
}

class WorkerPool implements MarkdownParser {
  private readonly workers: Worker[] = [];
  private readonly idle: Worker[] = [];
  private readonly inFlight = new Map<Worker, Job[]>();
  private readonly queue: Job[] = [];
  /** Jobs of a batch whose worker died, retried one per message to find the file at fault. */
  private readonly retry: Job[] = [];
  private requested = 0;
  /** True once any worker answered: from then on a dying worker is the fault of its files, not of startup. */
  private started = false;
  private closed = false;

  constructor(private readonly url: URL, private readonly size: number, private readonly inlineLimit: number) {}

  parse(text: string): Promise<ParsedMarkdown> {
    if (++this.requested <= this.inlineLimit) return Promise.resolve(parseProfileMarkdown(text));
    if (this.workers.length === 0 && this.requested === this.inlineLimit + 1) {
      for (let i = 0; i < this.size; i++) this.spawn();
    }
    return new Promise((resolve) => {
      this.queue.push({ text, resolve });
      this.pump();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.workers.map((worker) => worker.terminate()));
  }

  private spawn(): void {
    const worker = new Worker(this.url);
    worker.on('message', (results: ParsedMarkdown[]) => this.finish(worker, results));
    worker.on('error', (error) => this.lose(worker, error.message));
    worker.on('exit', (code) => this.lose(worker, `worker exited with code ${code}`));
    this.workers.push(worker);
    this.idle.push(worker);
  }

  private pump(): void {
    if (this.workers.length === 0) {
      // No worker left (none could start): finish inline rather than leave promises hanging.
      for (const job of [...this.retry.splice(0), ...this.queue.splice(0)]) job.resolve(parseProfileMarkdown(job.text));
      return;
    }
    while (this.idle.length > 0 && (this.retry.length > 0 || this.queue.length > 0)) {
      const worker = this.idle.pop() as Worker;
      const jobs = this.retry.length > 0
        ? this.retry.splice(0, 1)
        : this.queue.splice(0, Math.min(MAX_BATCH, Math.ceil(this.queue.length / this.workers.length)));
      this.inFlight.set(worker, jobs);
      worker.postMessage(jobs.map((job) => job.text));
    }
  }

  private finish(worker: Worker, results: ParsedMarkdown[]): void {
    const jobs = this.inFlight.get(worker) ?? [];
    this.inFlight.delete(worker);
    jobs.forEach((job, i) => job.resolve(results[i] ?? failed('no result from the parser thread')));
    this.started = true;
    this.idle.push(worker);
    this.pump();
  }

  private lose(worker: Worker, reason: string): void {
    const index = this.workers.indexOf(worker);
    if (index < 0) return; // already handled ('error' is followed by 'exit')
    this.workers.splice(index, 1);
    const idleIndex = this.idle.indexOf(worker);
    if (idleIndex >= 0) this.idle.splice(idleIndex, 1);
    const jobs = this.inFlight.get(worker) ?? [];
    this.inFlight.delete(worker);
    if (this.closed) return;
    if (!this.started) {
      // Workers cannot start (no respawn loop): not the files' fault; they wait for another worker, or run inline.
      this.queue.unshift(...jobs);
    } else {
      // A batch dies with its worker; only a file that kills a worker on its own is reported.
      if (jobs.length === 1) jobs[0]?.resolve(failed(reason));
      else this.retry.push(...jobs);
      this.spawn();
    }
    this.pump();
  }
}

function failed(reason: string): ParsedMarkdown {
  return { data: {}, issues: [{ line: 1, message: `could not be parsed: ${reason}` }] };
}
