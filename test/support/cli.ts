/**
 * Runs `bin/migrate` the way users do: a child process, its exit code, stdout and stderr.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { inject } from 'vitest';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const migrateBin = path.join(repoRoot, 'bin', 'migrate');

/** What a finished CLI run left behind. */
export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON (throws if it is not exactly one JSON document). */
  json<T = Record<string, unknown>>(): T;
}

/** Options for a CLI run. */
export interface CliOptions {
  cwd?: string;
  /** Added to a minimal environment (PATH, HOME); DATABASE_URL etc. are not inherited. */
  env?: Record<string, string | undefined>;
  input?: string;
  timeoutMs?: number;
}

function baseEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, LANG: 'C.UTF-8', NO_COLOR: '1' };
  for (const [key, value] of Object.entries(extra)) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

/**
 * Suite-wide guard (issue 9): no CLI run may print the test server's password — in any stdout,
 * stderr or JSON — except `migrate db url`, whose job it is to print an embedded server's URL.
 */
function assertNoPassword(args: string[], stdout: string, stderr: string): void {
  let password: string | undefined;
  try {
    password = decodeURIComponent(new URL(inject('adminUrl')).password);
  } catch {
    return; // outside vitest's workers (no provided context)
  }
  if (!password || password.length < 6 || (args.includes('db') && args.includes('url'))) return;
  for (const secret of new Set([password, encodeURIComponent(password)])) {
    if (stdout.includes(secret) || stderr.includes(secret)) {
      throw new Error(`migrate ${args.join(' ')} printed the database password:\nstdout: ${stdout}\nstderr: ${stderr}`);
    }
  }
}

/** Starts `migrate ARGS` without waiting (for races and kills). */
export function startCli(args: string[], options: CliOptions = {}): { child: ChildProcess; done: Promise<CliResult> } {
  const child = spawn(process.execPath, [migrateBin, ...args], {
    cwd: options.cwd ?? repoRoot,
    env: baseEnv(options.env),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
  child.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
  child.stdin?.end(options.input ?? '');
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      try {
        assertNoPassword(args, stdout, stderr);
      } catch (error) {
        reject(error);
        return;
      }
      resolve({
        code, signal, stdout, stderr,
        json<T>() {
          try {
            return JSON.parse(stdout) as T;
          } catch {
            throw new Error(`stdout is not one JSON document:\n${stdout}\nstderr:\n${stderr}`);
          }
        },
      });
    });
  });
  return { child, done };
}

/** Runs `migrate ARGS` to completion. */
export async function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  return startCli(args, options).done;
}
