/**
 * Writing one COPY stream to one file, fast and verified (SPEC §6, §10).
 *
 * Why not `readable.pipe(hash).pipe(fs.createWriteStream())`: the driver pushes one chunk per
 * CopyData message, i.e. one per row (~175 bytes on the benchmark table), so a stream pipeline pays
 * stream bookkeeping, a hash call and a write request per row. Here rows are copied into 1 MiB
 * buffers; each full buffer is hashed, its records counted, written at its offset, then read back
 * from the file and compared byte for byte with what was hashed ("read-behind"). The read-back runs
 * while the next buffers arrive, so verification costs no wall time; it reads the page cache, as a
 * re-read after fsync would. Memory is bounded by the buffers in flight: the source is paused
 * (TCP backpressure to the server) while `maxInFlight` buffers are being written.
 *
 * Rows are counted as CopyData messages — PostgreSQL sends each row of `COPY … TO STDOUT` as one
 * message and the driver pushes one chunk per message — instead of scanning every byte for record
 * ends (a fifth of the CPU of a backup). The caller compares that count with the server's command
 * tag; the bytes read back equal the bytes received; `restore` scans the records again anyway.
 */
import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import fs from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { parse } from 'csv-parse/sync';

/** What was written, as verified against the file. */
export interface SinkResult {
  bytes: number;
  sha256: string;
  /** Data records (header excluded). */
  rows: number;
  /** Column names of the header line. */
  header: string[];
}

/** Tuning of the write path (defaults measured on the benchmark table). */
export interface SinkOptions {
  /** Size of each write (default 1 MiB). */
  bufferSize?: number;
  /** Buffers being written or read back before the source is paused (default 4). */
  maxInFlight?: number;
}

const DEFAULT_BUFFER = 1024 * 1024;
const DEFAULT_IN_FLIGHT = 4;

/** Streams `source` into a new file `file` (mode 0600, must not exist), fsynced and read back. */
export async function writeStreamToFile(source: Readable, file: string, options: SinkOptions = {}): Promise<SinkResult> {
  const out = await fs.open(file, 'wx', 0o600);
  let back: FileHandle | undefined;
  try {
    await out.chmod(0o600); // whatever the umask
    back = await fs.open(file, 'r');
    const sink = new FileSink(out, back, options.bufferSize ?? DEFAULT_BUFFER, options.maxInFlight ?? DEFAULT_IN_FLIGHT);
    await pump(source, sink);
    return await sink.finish();
  } finally {
    await back?.close().catch(() => undefined);
    await out.close().catch(() => undefined);
  }
}

/** Feeds the sink from the stream with backpressure; settles on end, stream error or sink failure. */
function pump(source: Readable, sink: FileSink): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    const finish = (error?: unknown) => {
      if (settled) return;
      settled = true;
      source.off('data', onData);
      if (error === undefined) resolve();
      else reject(error instanceof Error ? error : new Error(String(error)));
    };
    const onData = (chunk: Buffer) => {
      try {
        if (!sink.push(chunk)) {
          source.pause();
          sink.whenReady(() => { if (!settled) source.resume(); });
        }
      } catch (error) {
        finish(error);
      }
    };
    sink.onFailure(finish);
    source.on('data', onData);
    source.once('end', () => finish());
    source.once('error', finish);
    source.once('close', () => finish(new Error('the COPY stream closed before its end')));
  });
}

class FileSink {
  private readonly hash = createHash('sha256');
  /** CopyData messages seen: the header, then one per row. */
  private messages = 0;
  private header: Buffer | undefined;
  private readonly pool: Buffer[] = [];
  private current: Buffer;
  private used = 0;
  private position = 0;
  private inFlight = 0;
  private writes: Promise<void> = Promise.resolve();
  private checks: Promise<void> = Promise.resolve();
  private readonly readBuffer: Buffer;
  private failure: Error | undefined;
  private failureListener: ((error: Error) => void) | undefined;
  private readyListeners: (() => void)[] = [];

  constructor(
    private readonly out: FileHandle,
    private readonly back: FileHandle,
    private readonly size: number,
    private readonly maxInFlight: number,
  ) {
    this.current = Buffer.allocUnsafeSlow(size);
    this.readBuffer = Buffer.allocUnsafeSlow(size);
  }

  /** Takes a chunk; false means "pause the source until whenReady". */
  push(chunk: Buffer): boolean {
    if (this.failure) throw this.failure;
    this.messages += 1;
    if (this.messages === 1) this.header = Buffer.from(chunk);
    let offset = 0;
    while (offset < chunk.length) {
      const n = Math.min(chunk.length - offset, this.size - this.used);
      chunk.copy(this.current, this.used, offset, offset + n);
      this.used += n;
      offset += n;
      if (this.used === this.size) this.submit();
    }
    return this.inFlight < this.maxInFlight;
  }

  whenReady(listener: () => void): void {
    if (this.inFlight < this.maxInFlight) listener();
    else this.readyListeners.push(listener);
  }

  onFailure(listener: (error: Error) => void): void {
    this.failureListener = listener;
    if (this.failure) listener(this.failure);
  }

  /** Hashes and counts a full buffer, then writes it and reads it back, in order. */
  private submit(): void {
    const buffer = this.current;
    const data = buffer.subarray(0, this.used);
    this.current = this.pool.pop() ?? Buffer.allocUnsafeSlow(this.size);
    this.used = 0;
    this.hash.update(data);
    const position = this.position;
    this.position += data.length;
    this.inFlight += 1;
    const written = this.writes.then(() => writeFully(this.out, data, position));
    this.writes = written;
    const checked = Promise.all([this.checks, written]).then(() => this.readBack(data, position));
    this.checks = checked;
    checked.then(() => this.release(buffer), (error: unknown) => this.fail(error));
  }

  private async readBack(data: Buffer, position: number): Promise<void> {
    let done = 0;
    while (done < data.length) {
      const { bytesRead } = await this.back.read(this.readBuffer, done, data.length - done, position + done);
      if (bytesRead === 0) throw new Error(`read back ${position + done} bytes, wrote ${position + data.length}`);
      done += bytesRead;
    }
    if (!data.equals(this.readBuffer.subarray(0, data.length))) {
      throw new Error(`the bytes read back at offset ${position} differ from the bytes written`);
    }
  }

  private release(buffer: Buffer): void {
    this.inFlight -= 1;
    if (this.pool.length < this.maxInFlight) this.pool.push(buffer);
    if (this.inFlight < this.maxInFlight) {
      const listeners = this.readyListeners;
      this.readyListeners = [];
      for (const listener of listeners) listener();
    }
  }

  private fail(error: unknown): void {
    if (this.failure) return;
    this.failure = error instanceof Error ? error : new Error(String(error));
    this.failureListener?.(this.failure);
  }

  /** Flushes the last buffer, waits for every write and read-back, fsyncs, checks the size. */
  async finish(): Promise<SinkResult> {
    if (this.used > 0) this.submit();
    await this.checks;
    if (this.failure) throw this.failure;
    await this.out.sync();
    const { size } = await this.out.stat();
    if (size !== this.position) throw new Error(`the file holds ${size} bytes after fsync, ${this.position} were written`);
    const header = this.header ? ((parse(this.header, { relax_column_count: true }) as string[][])[0] ?? []) : [];
    return { bytes: this.position, sha256: this.hash.digest('hex'), rows: Math.max(0, this.messages - 1), header };
  }
}

/** `write` may write less than asked (a file-size limit, a full disk): loop until all is written or it fails. */
async function writeFully(handle: FileHandle, data: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await handle.write(data, done, data.length - done, position + done);
    if (bytesWritten === 0) throw new Error(`wrote 0 bytes at offset ${position + done}`);
    done += bytesWritten;
  }
}
