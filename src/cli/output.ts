/**
 * Where output goes (SPEC §5 "Streams"): results on stdout, progress/warnings/notices on stderr,
 * exactly one JSON document on stdout with --json; colour and spinners only on a terminal.
 * Every line passes through secret scrubbing: a password can reach no output (SPEC §2).
 */
import { secretScrubber } from '../db/url.js';
import type { Logger } from '../core/types.js';

/** How the output behaves, from the global options. */
export interface OutputOptions {
  json: boolean;
  quiet: boolean;
  verbose: boolean;
  /** --no-color / NO_COLOR turn it off; otherwise on only for a TTY. */
  color: boolean;
  stdout?: NodeJS.WriteStream;
  stderr?: NodeJS.WriteStream;
}

/** The colours the renderers use; identity functions when colour is off. */
export interface Paint {
  green(text: string): string;
  red(text: string): string;
  yellow(text: string): string;
  cyan(text: string): string;
  dim(text: string): string;
  bold(text: string): string;
}

const plain = (text: string) => text;

/** Narrower than this, a terminal gets plain progress lines instead of a spinner (see canAnimate). */
export const MIN_SPINNER_COLUMNS = 20;
const NO_PAINT: Paint = { green: plain, red: plain, yellow: plain, cyan: plain, dim: plain, bold: plain };

/** A spinner or its plain-text stand-in. */
export interface Progress {
  update(text: string): void;
  succeed(text: string): void;
  fail(text: string): void;
  stop(): void;
}

/** The one object through which the CLI writes anything. */
export class Output {
  readonly json: boolean;
  readonly quiet: boolean;
  readonly verbose: boolean;
  paint: Paint = NO_PAINT;
  private readonly wantsColour: boolean;
  /** --no-color / NO_COLOR: no colour and no animation either (README "Output"). */
  private readonly plain: boolean;
  private readonly stdout: NodeJS.WriteStream;
  private readonly stderr: NodeJS.WriteStream;
  private readonly secrets = new Set<string>();
  /** Names the output prints anyway (user, database, migrations): never masked as a password (url.ts `secretScrubber`). */
  private readonly publicWords = new Set<string>();
  private scrubber: ((text: string) => string) | undefined;
  private activeSpinner: { stop(): void; clear(): void; render(): void } | undefined;

  constructor(options: OutputOptions) {
    this.json = options.json;
    this.quiet = options.quiet;
    this.verbose = options.verbose;
    this.stdout = options.stdout ?? process.stdout;
    this.stderr = options.stderr ?? process.stderr;
    this.wantsColour = options.color && !options.json && Boolean(this.stdout.isTTY);
    this.plain = !options.color;
  }

  /** Loads chalk only when colour is on (a terminal, no --json/--no-color/NO_COLOR): status stays lean. */
  async init(): Promise<this> {
    if (this.wantsColour) {
      const { Chalk } = await import('chalk');
      this.paint = new Chalk({ level: 1 });
    }
    return this;
  }

  /** Registers a secret (a password) that must never be printed. */
  addSecret(secret: string | undefined): void {
    if (!secret || this.secrets.has(secret)) return;
    this.secrets.add(secret);
    this.scrubber = undefined;
  }

  /** Registers names the output prints in its own right (user and database names, migration and phase names). */
  addPublicWords(words: Iterable<string | undefined>): void {
    for (const word of words) {
      if (!word || this.publicWords.has(word)) continue;
      this.publicWords.add(word);
      if (this.secrets.has(word)) this.scrubber = undefined;
    }
  }

  /** Removes registered secrets from text. */
  scrub(text: string): string {
    if (this.secrets.size === 0) return text;
    this.scrubber ??= secretScrubber(this.secrets, this.publicWords);
    return this.scrubber(text);
  }

  /** A result line on stdout (human mode only: JSON mode prints one document instead). */
  result(text: string): void {
    if (this.json) return;
    this.write(this.stdout, text);
  }

  /** The JSON document of the command, on stdout. */
  document(value: unknown): void {
    // Each string scrubbed before it is escaped (a password holding `"` or `\` would not match its
    // escaped form), and the text once more, keys included.
    const scrubbed = this.secrets.size === 0 ? jsonReplacer : function (this: unknown, key: string, raw: unknown): unknown {
      const replaced = jsonReplacer.call(this, key, raw);
      return typeof replaced === 'string' ? scrub(replaced) : replaced;
    };
    const scrub = (text: string): string => this.scrub(text);
    this.stdout.write(`${this.scrub(JSON.stringify(value, scrubbed, 2))}\n`);
  }

  /** A result line that goes to stderr (the dry-run line with --json, SPEC §7): -q does not silence it. */
  resultOnStderr(text: string): void {
    this.write(this.stderr, text);
  }

  /** A progress line on stderr; -q silences it. */
  progress(text: string): void {
    if (this.quiet) return;
    this.write(this.stderr, text);
  }

  /** A warning on stderr (not silenced by -q: warnings are results of a kind). */
  warn(text: string): void {
    this.write(this.stderr, this.paint.yellow(`warning: ${text}`));
  }

  /** Verbose detail on stderr. */
  debug(text: string): void {
    if (this.verbose) this.write(this.stderr, this.paint.dim(text));
  }

  /** Error lines on stderr. */
  errorLines(lines: string[]): void {
    for (const line of lines) this.write(this.stderr, line);
  }

  /** The logger core code receives. */
  get logger(): Logger {
    return { info: (m) => this.progress(m), warn: (m) => this.warn(m), debug: (m) => this.debug(m) };
  }

  /**
   * True when a spinner would be shown: stderr is a terminal at least MIN_SPINNER_COLUMNS wide, not
   * --json, not -q, not --no-color/NO_COLOR (which ask for plain output: a spinner is cursor codes). A terminal may report 0 columns (`stty cols 0`, a pty nobody sized, as under
   * `script`): ora divides each line's width by the column count to know how many lines to erase,
   * gets Infinity, and erases forever — the run never exits and keeps its lock.
   */
  get canAnimate(): boolean {
    if (!this.stderr.isTTY || this.json || this.quiet || this.plain) return false;
    const columns = this.stderr.columns as number | undefined;
    // undefined: ora assumes 80, which is fine.
    return columns === undefined || columns >= MIN_SPINNER_COLUMNS;
  }

  /** An ora spinner on a terminal, otherwise plain progress lines. */
  async spinner(text: string): Promise<Progress> {
    if (!this.canAnimate) {
      return {
        update: () => {},
        succeed: (t) => this.progress(t),
        fail: (t) => this.progress(t),
        stop: () => {},
      };
    }
    const { default: ora } = await import('ora');
    const spinner = ora({ text, stream: this.stderr }).start();
    this.activeSpinner = spinner;
    const done = () => { this.activeSpinner = undefined; };
    return {
      update: (t) => { spinner.text = this.scrub(t); },
      succeed: (t) => { spinner.succeed(this.scrub(t)); done(); },
      fail: (t) => { spinner.fail(this.scrub(t)); done(); },
      stop: () => { spinner.stop(); done(); },
    };
  }

  private write(stream: NodeJS.WriteStream, text: string): void {
    // A log line in the middle of a spinner: clear it, print, redraw.
    this.activeSpinner?.clear();
    stream.write(`${this.scrub(text)}\n`);
    this.activeSpinner?.render();
  }
}

/** JSON.stringify replacer: Dates as ISO strings in UTC, bigints as strings, Buffers as hex. */
function jsonReplacer(this: unknown, key: string, value: unknown): unknown {
  const raw = (this as Record<string, unknown>)[key];
  if (raw instanceof Date) return Number.isNaN(raw.getTime()) ? null : raw.toISOString();
  if (typeof value === 'bigint') return value.toString();
  if (raw instanceof Uint8Array) return `\\x${Buffer.from(raw).toString('hex')}`;
  return value;
}
