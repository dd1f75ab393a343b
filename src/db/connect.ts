/**
 * Which database to use (SPEC §2) and opening it: one connection per run, set up in one round trip,
 * with connection failures turned into one clear line and exit 3.
 */
import net from 'node:net';
import postgres from 'postgres';
import { ConnectionError, StrataError, UsageError } from '../errors.js';
import { defaultPassfile, lookupPassfile } from './passfile.js';
import {
  connectionFromLibpqEnv, connectTimeout, describeServer, isSocketHost, parseDatabaseUrl, redactParts, socketPath, SSL_MODES,
  type ConnectionParts, type LibpqEnv,
} from './url.js';

/** The `postgres` driver's tagged-template function (one connection). */
export type Sql = postgres.Sql<Record<string, never>>;

/** Where the connection settings came from. */
export type ConnectionSource = 'flag' | 'DATABASE_URL' | 'libpq' | 'embedded';

/** A resolved connection target: a server we were given, or the embedded default. */
export type ConnectionTarget =
  | { kind: 'server'; parts: ConnectionParts; source: Exclude<ConnectionSource, 'embedded'> }
  | { kind: 'embedded' };

/** Environment variables `resolveConnection` reads (cli passes `process.env`). */
export interface ConnectionEnv extends LibpqEnv {
  DATABASE_URL?: string | undefined;
  /** libpq's defaults for what a URL leaves out (see withLibpqEnvironment). */
  PGSSLMODE?: string | undefined;
  PGCONNECT_TIMEOUT?: string | undefined;
  PGAPPNAME?: string | undefined;
  PGPASSFILE?: string | undefined;
}

/** Inputs of `resolveConnection`. */
export interface ConnectionChoice {
  /** `--database-url`. */
  databaseUrl?: string | undefined;
  /** `--embedded`. */
  embedded?: boolean | undefined;
  /** Whether stdin/stdout are a terminal: the embedded default applies only there. */
  interactive: boolean;
}

/**
 * SPEC §2 order: `--database-url`, `DATABASE_URL`, libpq variables (when `PGHOST` or `PGDATABASE`
 * is set), then the embedded database on a terminal or with `--embedded`; otherwise exit 3, never a
 * silent run against a throwaway database.
 */
export function resolveConnection(choice: ConnectionChoice, env: ConnectionEnv): ConnectionTarget {
  if (choice.databaseUrl) return { kind: 'server', parts: withLibpqEnvironment(parseDatabaseUrl(choice.databaseUrl), env), source: 'flag' };
  if (env.DATABASE_URL) return { kind: 'server', parts: withLibpqEnvironment(parseDatabaseUrl(env.DATABASE_URL), env), source: 'DATABASE_URL' };
  if (env.PGHOST || env.PGDATABASE) return { kind: 'server', parts: withLibpqEnvironment(connectionFromLibpqEnv(env), env), source: 'libpq' };
  if (choice.embedded || choice.interactive) return { kind: 'embedded' };
  throw new ConnectionError('no database given: pass --database-url, set DATABASE_URL, or --embedded', {
    hint: 'without a terminal strata never falls back to a local database on its own',
  });
}

/**
 * libpq's environment applies to every connection, URLs included, for what the URL leaves out:
 * `PGSSLMODE` is the sslmode (`PGSSLMODE=verify-full` must never connect in plain text),
 * `PGCONNECT_TIMEOUT` the connect timeout, `PGAPPNAME` the application_name, `PGPASSWORD` the
 * password — and without one, the password file (`passfile`, `PGPASSFILE`, `~/.pgpass`; read here,
 * once, so that every connection of the run and every redaction of its output know the password).
 * The variables that ask for more security or another target than strata can give — client
 * certificates, a CA file, channel binding, GSS, a service file — are refused (exit 2), as their
 * URL parameters are: ignoring them would connect with less security than asked for, or elsewhere.
 */
export function withLibpqEnvironment(parts: ConnectionParts, env: ConnectionEnv): ConnectionParts {
  const refused = REFUSED_ENV.filter((name) => (env as Record<string, string | undefined>)[name]);
  if (refused.length > 0) {
    throw new UsageError(`${refused.join(', ')} ${refused.length === 1 ? 'is' : 'are'} set, and strata cannot honour ${refused.length === 1 ? 'it' : 'them'}`, {
      hint: 'unset it for strata (it would connect with less security than asked for, or elsewhere); sslmode is read from PGSSLMODE or the URL',
    });
  }
  const result: ConnectionParts = { ...parts, params: { ...parts.params } };
  const mode = env.PGSSLMODE;
  if (mode && result.params.sslmode === undefined) {
    if (!(SSL_MODES as readonly string[]).includes(mode)) {
      throw new UsageError(`invalid PGSSLMODE "${mode}"`, { hint: `use one of ${SSL_MODES.join(', ')}` });
    }
    result.params.sslmode = mode;
  }
  if (result.connectTimeoutSeconds === undefined && env.PGCONNECT_TIMEOUT !== undefined) {
    const seconds = connectTimeout(env.PGCONNECT_TIMEOUT, 'PGCONNECT_TIMEOUT');
    if (seconds !== undefined) result.connectTimeoutSeconds = seconds;
  }
  if (result.params.application_name === undefined && env.PGAPPNAME) result.params.application_name = env.PGAPPNAME;
  if (result.password === undefined && env.PGPASSWORD) result.password = env.PGPASSWORD;
  if (result.password === undefined) {
    const file = result.passfile ?? (env.PGPASSFILE || defaultPassfile(env as { APPDATA?: string }));
    result.passfile = file;
    const found = lookupPassfile(file, result);
    if (found.password !== undefined) {
      result.password = found.password;
      result.passwordFrom = file;
    }
    if (found.warning !== undefined) result.passfileWarning = found.warning;
  }
  return result;
}

/** libpq variables strata refuses (see withLibpqEnvironment). */
const REFUSED_ENV = [
  'PGSSLCERT', 'PGSSLKEY', 'PGSSLROOTCERT', 'PGSSLCRL', 'PGSSLCRLDIR', 'PGSSLCERTMODE', 'PGSSLNEGOTIATION', 'PGSSLSNI',
  'PGSSLMINPROTOCOLVERSION', 'PGSSLMAXPROTOCOLVERSION', 'PGREQUIRESSL', 'PGGSSENCMODE', 'PGGSSLIB', 'PGGSSDELEGATION',
  'PGKRBSRVNAME', 'PGCHANNELBINDING', 'PGREQUIREAUTH', 'PGREQUIREPEER', 'PGSERVICE', 'PGSERVICEFILE', 'PGHOSTADDR',
  'PGTARGETSESSIONATTRS',
] as const;

/** Session settings applied at connect time. */
export interface OpenOptions {
  /** `--connect-timeout` in seconds; when not given, the parts' (libpq's connect_timeout), else 10. */
  connectTimeoutSeconds?: number | undefined;
  /** Shown in `pg_stat_activity` and in lock-timeout messages of other runners. */
  applicationName?: string;
  /** search_path for the session (the target schema first). */
  searchPath?: string;
  /** Receives server NOTICE/WARNING messages (never stdout). */
  onNotice?: (message: string) => void;
  /** Loads array types at connect time (one extra round trip; default on unless `probe: false`). */
  fetchTypes?: boolean;
  /**
   * Run the session-setup query now (default). `false` connects lazily with the first query and
   * skips the setup (server facts, client_connection_check_interval): `status` makes one round
   * trip. Callers then map connection failures with `asConnectionFailure`. Never `reserve()` on such
   * a pool before a first query: postgres 3.4.9 never resolves a reserve that opens the connection
   * when fetch_types is off.
   */
  probe?: boolean;
}

/** Facts about the server, read in the connect round trip. */
export interface ServerInfo {
  version: string;
  versionNum: number;
  user: string;
  database: string;
  pid: number;
}

/** An open connection: the driver handle plus what we know about it. */
export interface Database {
  sql: Sql;
  parts: ConnectionParts;
  /** `postgres://user:***@host:port/db`. */
  redactedUrl: string;
  /** Undefined when opened with `probe: false`. */
  server: ServerInfo | undefined;
  /**
   * True once the server has authenticated us and started the session (its first ParameterStatus);
   * a failure before that is a failure to connect (exit 3), whatever it looks like.
   */
  hasSession(): boolean;
  /** Routes server NOTICE/WARNING messages to `handler` until replaced (undefined: back to `onNotice`). */
  setNoticeHandler(handler: ((message: string) => void) | undefined): void;
  /**
   * Ends the session. With `{ wait: false }` (a command that is done and exits next, nothing pending):
   * sends Terminate and returns at once; the socket no longer keeps the process alive while the
   * server closes its end (~2 ms of every `status`, SPEC §10).
   */
  close(options?: { wait?: boolean }): Promise<void>;
}

/**
 * Pools whose session ended (killed backend, network, idle_in_transaction_session_timeout). A run
 * is one session: its transaction, its advisory lock and its SET LOCALs live there. The driver
 * would silently open a fresh session for the next query — which has none of them — so the pool
 * is ended on the first close and every later query fails with CONNECTION_ENDED instead.
 */
const lostSessions = new WeakSet<object>();

/** True once the session of a pool opened by `openDatabase` has closed; nothing may be sent any more. */
export function isSessionLost(sql: object): boolean {
  return lostSessions.has(sql);
}

/** How a connection negotiates SSL, from sslmode (libpq: never over a Unix-domain socket). */
type SslUse = 'none' | 'prefer' | 'require';

function sslUse(parts: ConnectionParts): SslUse {
  const mode = parts.params.sslmode;
  if (isSocketHost(parts.host) || mode === 'disable') return 'none';
  // No sslmode: libpq's default, `prefer` — encrypted when the server offers it, plain otherwise.
  return mode === undefined || mode === 'allow' || mode === 'prefer' ? 'prefer' : 'require';
}

/**
 * The driver's `ssl` option for a sslmode. `allow` becomes `prefer` (the driver's `allow` insists on
 * TLS after the server said no); `verify-ca` checks the chain but not the host name, as in libpq.
 */
function sslOption(parts: ConnectionParts): false | 'prefer' | 'require' | 'verify-full' | object {
  const mode = parts.params.sslmode;
  if (sslUse(parts) === 'none') return false;
  if (mode === undefined || mode === 'allow' || mode === 'prefer') return 'prefer';
  if (mode === 'verify-ca') return { rejectUnauthorized: true, checkServerIdentity: () => undefined };
  return mode === 'verify-full' ? 'verify-full' : 'require';
}

/** The first byte a PostgreSQL server answers with: to SSLRequest S/N (E: too old), to StartupMessage R/E/v (N: a notice). */
const FIRST_BYTES = { ssl: new Set([0x53, 0x4e, 0x45]), plain: new Set([0x52, 0x45, 0x76, 0x4e]) };

function failure(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

/**
 * The socket factory of a one-session pool, and a way to hear that the session is gone. It also
 * reads the first byte the server answers: something that is not PostgreSQL (an HTTP server, a
 * port that writes garbage) fails at once instead of leaving the driver waiting for a message
 * length that never comes; a server that refuses SSL under sslmode=require is said as such.
 */
function oneSession(parts: ConnectionParts, timeoutSeconds: number): { socket: () => Promise<net.Socket>; onLost: (fn: () => void) => void; unref: () => void } {
  let first: net.Socket | undefined;
  let lost = false;
  let answered = false;
  const listeners: (() => void)[] = [];
  const ssl = sslUse(parts);
  const checkFirstAnswer = (socket: net.Socket) => {
    const onData = (chunk: Buffer) => {
      socket.off('data', onData);
      answered = true;
      const byte = chunk[0] ?? -1;
      if (ssl === 'require' && byte === 0x4e) {
        socket.destroy(failure(`the server does not accept SSL connections, and sslmode=${parts.params.sslmode} requires SSL`, 'SSL_REFUSED'));
      } else if (!(ssl === 'none' ? FIRST_BYTES.plain : FIRST_BYTES.ssl).has(byte)
        // A server answers SSLRequest with that one byte and waits for the client: `SSH-2.0-…` is not a yes.
        || (ssl !== 'none' && (byte === 0x53 || byte === 0x4e) && chunk.length > 1)) {
        socket.destroy(failure(`the server at ${describeServer(parts)} did not answer as PostgreSQL does (is this a PostgreSQL port?)`, 'NOT_POSTGRES'));
      }
    };
    socket.prependListener('data', onData);
  };
  return {
    onLost: (fn) => { listeners.push(fn); },
    unref: () => { first?.unref(); },
    socket: () => {
      if (lost) {
        return Promise.reject(answered
          ? failure('the connection to the server was lost', 'CONNECTION_CLOSED')
          : failure(`the server at ${describeServer(parts)} closed the connection without answering (is this a PostgreSQL port?)`, 'CONNECTION_CLOSED'));
      }
      return new Promise<net.Socket>((resolve, reject) => {
        const socket = isSocketHost(parts.host) ? net.connect({ path: socketPath(parts) }) : net.connect({ host: parts.host, port: parts.port });
        // SPEC §2 --connect-timeout; 0 waits as long as the system does, as libpq's connect_timeout=0.
        const timer = timeoutSeconds > 0
          ? setTimeout(() => {
            socket.destroy();
            reject(failure(`connect timed out after ${timeoutSeconds} s`, 'CONNECT_TIMEOUT'));
          }, timeoutSeconds * 1000)
          : undefined;
        socket.once('connect', () => {
          clearTimeout(timer);
          socket.removeAllListeners('error');
          // Later sockets are cancel requests of this session; only the first one is the session.
          if (!first) {
            first = socket;
            checkFirstAnswer(socket);
            watchClose(socket, () => {
              if (lost) return;
              lost = true;
              for (const fn of listeners) fn();
            });
          }
          // The driver names the TLS server (SNI, certificate host name) after `socket.host`.
          if (!isSocketHost(parts.host) && !net.isIP(parts.host)) Object.assign(socket, { host: parts.host });
          resolve(socket);
        });
        socket.once('error', (error) => { clearTimeout(timer); reject(error); });
      });
    },
  };
}

/**
 * Calls `onClose` when `socket` closes — and keeps listening when the driver removes every listener
 * of it: for SSL it wraps the raw socket in a TLS socket and calls `removeAllListeners()` on the raw
 * one (postgres/src/connection.js `secure`), which silently dropped ours, so a lost SSL session went
 * unnoticed and the driver opened a fresh one for the next query.
 */
function watchClose(socket: net.Socket, onClose: () => void): void {
  socket.once('close', onClose);
  const removeAll = socket.removeAllListeners.bind(socket);
  socket.removeAllListeners = (event?: string | symbol) => {
    const result = event === undefined ? removeAll() : removeAll(event);
    if (event === undefined || event === 'close') socket.once('close', onClose);
    return result;
  };
}

/** As the driver serialises a date parameter. */
function serializeDate(value: unknown): string {
  return (value instanceof Date ? value : new Date(value as string)).toISOString();
}

/**
 * date, timestamp and timestamptz text → Date, as the driver does, but only for ISO text (DateStyle
 * ISO, the default): anything else stays the text the server wrote. Under 'SQL, DMY' or 'German'
 * (`24/11/2026 00:58:54 IST`) the driver's `new Date(x)` gave an Invalid Date (null in a verify
 * sample, a crash where it was formatted) — or, worse, a valid wrong one: `03/04/2026` is read as
 * March 4th whatever the day/month order.
 */
export function parseDateText(text: string): Date | string {
  if (!ISO_DATE.test(text)) return text;
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? text : date;
}

// DateStyle ISO output: `2026-11-24`, `2026-11-24 00:58:54.68+05:30` (years past 9999 and BC too).
const ISO_DATE = /^\d{4,}-\d{2}-\d{2}(?:$|[ T])/;

/** How long a vanished client may keep a statement running (PostgreSQL 14+; issue "killed runners"). */
const CLIENT_CHECK_INTERVAL_MS = 1000;

/** Opens one connection and runs the session setup; connection failures become `ConnectionError`. */
export async function openDatabase(parts: ConnectionParts, options: OpenOptions = {}): Promise<Database> {
  const timeout = connectTimeoutOf(parts, options.connectTimeoutSeconds);
  const connection: Record<string, string> = { application_name: options.applicationName ?? 'strata' };
  if (options.searchPath) connection.search_path = options.searchPath;
  if (parts.params.application_name !== undefined) connection.application_name = parts.params.application_name;
  if (parts.params.options !== undefined) connection.options = parts.params.options;
  let noticeHandler: ((message: string) => void) | undefined;
  let hasSession = false;
  const session = oneSession(parts, timeout);
  // Options, not a URL: the driver would send every query parameter to the server as a setting
  // (`host` among them), and reads PG* variables for what a URL leaves out.
  const sql = postgres({
    host: parts.host,
    port: parts.port,
    user: parts.user,
    ...(parts.password !== undefined ? { pass: parts.password } : {}),
    database: parts.database,
    ssl: sslOption(parts),
    // One session for the whole run (see lostSessions): the driver gets its socket from us, and gets
    // no second one once the first has closed — it would otherwise reconnect to run queued queries
    // in a fresh session without the run's transaction, advisory lock and SET LOCALs. (`socket` is a
    // documented option of postgres 3 that its type definitions lack.)
    ...({ socket: session.socket } as Record<string, unknown>),
    // The server reports its parameters once authentication has succeeded: the session exists.
    onparameter: () => { hasSession = true; },
    max: 1,
    connect_timeout: timeout,
    idle_timeout: 0,
    max_lifetime: null,
    // Array parameters need the array type OIDs (one query at connect); a lazy connection (status) skips it.
    fetch_types: options.fetchTypes ?? options.probe !== false,
    onnotice: (notice) => (noticeHandler ?? options.onNotice)?.(`${notice.severity ?? 'NOTICE'}: ${notice.message}`),
    connection,
    // The driver's own date type, parsed so that a value it cannot read stays as the server wrote it.
    ...({ types: { date: { to: 1184, from: [1082, 1114, 1184], serialize: serializeDate, parse: parseDateText } } } as Record<string, unknown>),
  }) as unknown as Sql;
  session.onLost(() => {
    lostSessions.add(sql);
    // Queries queued in the driver would wait forever for a connection it can no longer open (and
    // with nothing else pending, Node would exit 0 with the run unfinished): end the pool, which
    // rejects them. Deferred until the driver has finished handling the close.
    setImmediate(() => { void sql.end({ timeout: 0 }).catch(() => undefined); });
  });
  const base = {
    sql,
    parts,
    redactedUrl: redactParts(parts),
    hasSession: () => hasSession,
    setNoticeHandler: (handler: ((message: string) => void) | undefined) => { noticeHandler = handler; },
    close: (closeOptions?: { wait?: boolean }) => {
      if (closeOptions?.wait !== false) return sql.end({ timeout: lostSessions.has(sql) ? 0 : 5 });
      void sql.end().catch(() => undefined); // Terminate is written in a microtask, before the process can exit
      session.unref();
      return Promise.resolve();
    },
  };
  if (options.probe === false) return { ...base, server: undefined };
  try {
    // No parameters: a parameterised statement costs the driver a second round trip (Parse/Describe first).
    const [row] = await sql.unsafe<{ version: string; version_num: number; user: string; database: string; pid: number }[]>(`
      SELECT current_setting('server_version') AS version,
             current_setting('server_version_num')::int AS version_num,
             current_user AS user, current_database() AS database, pg_backend_pid() AS pid,
             CASE WHEN current_setting('server_version_num')::int >= 140000
                  THEN set_config('client_connection_check_interval', '${Math.trunc(CLIENT_CHECK_INTERVAL_MS)}', false) END AS check_interval`);
    if (!row) throw new Error('session setup returned no row');
    return { ...base, server: { version: row.version, versionNum: row.version_num, user: row.user, database: row.database, pid: row.pid } };
  } catch (error) {
    await sql.end({ timeout: 0 }).catch(() => undefined);
    throw toConnectionError(error, parts, timeout);
  }
}

/** Codes that mean the connection failed or was lost, whenever they happen. */
const CONNECT_FAILURES = new Set([
  'ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'CONNECT_TIMEOUT', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH',
  'ECONNRESET', 'EPIPE', 'ECONNABORTED', 'CONNECTION_CLOSED', 'CONNECTION_DESTROYED', 'NOT_POSTGRES', 'SSL_REFUSED',
  '28P01', '28000', '3D000', '57P03', '53300', 'SASL_SIGNATURE_MISMATCH',
]);

/**
 * For lazily opened connections (`probe: false`): the ConnectionError a failed first query stands
 * for, if it is one — any failure before the server started the session (refused, reset, TLS,
 * garbage, authentication, a startup parameter it rejects …), and a lost connection after.
 */
export function asConnectionFailure(error: unknown, db: Pick<Database, 'parts' | 'hasSession'>, timeoutSeconds: number | undefined): StrataError | undefined {
  if (error instanceof StrataError) return undefined;
  const err = error as { code?: string; errno?: string };
  const code = err.code ?? err.errno ?? '';
  if (!db.hasSession() || CONNECT_FAILURES.has(code)) return toConnectionError(error, db.parts, connectTimeoutOf(db.parts, timeoutSeconds));
  return undefined;
}

/** The connect timeout in seconds: `--connect-timeout` when given, else libpq's connect_timeout (URL, PGCONNECT_TIMEOUT), else 10. */
export function connectTimeoutOf(parts: Pick<ConnectionParts, 'connectTimeoutSeconds'>, given: number | undefined): number {
  return given ?? parts.connectTimeoutSeconds ?? 10;
}

/** Maps driver and server errors at connect time to one line that says which failure it was. */
export function toConnectionError(error: unknown, parts: ConnectionParts, timeoutSeconds: number): StrataError {
  if (error instanceof StrataError) return error;
  const err = error as { code?: string; message?: string; errno?: string };
  const where = redactParts(parts);
  const code = err.code ?? err.errno ?? '';
  const detail = (message: string, hint?: string) =>
    new ConnectionError(`cannot connect to ${where}: ${message}`, { ...(hint ? { hint } : {}), cause: error });
  const socket = isSocketHost(parts.host);
  switch (code) {
    case 'ECONNREFUSED':
      return socket
        ? detail(`connection refused on the socket ${socketPath(parts)} (no server is listening on it)`)
        : detail(`connection refused (is PostgreSQL running on ${parts.host}:${parts.port}?)`);
    case 'ENOENT':
      return detail(`no PostgreSQL socket at ${socketPath(parts)}`, `is the server running, with ${parts.host} in its unix_socket_directories and port ${parts.port}?`);
    case 'EACCES':
      return detail(`permission denied on the socket ${socketPath(parts)}`);
    case 'ECONNRESET':
    case 'EPIPE':
    case 'ECONNABORTED':
      if (/TLS|SSL/.test(err.message ?? '')) return detail(`the TLS handshake failed (sslmode=${parts.params.sslmode ?? 'prefer'}): ${err.message ?? code}`);
      return detail(`the connection was reset (by the server, a proxy or the network): ${err.message ?? code}`);
    case 'CONNECTION_CLOSED':
    case 'CONNECTION_DESTROYED':
    case 'NOT_POSTGRES':
      return detail(/^write CONNECTION_/.test(err.message ?? '') ? 'the server closed the connection' : err.message ?? code);
    case 'SSL_REFUSED':
      return detail(err.message ?? code, 'sslmode=prefer uses SSL when the server offers it');
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return detail(`unknown host "${parts.host}"`);
    case 'CONNECT_TIMEOUT':
    case 'ETIMEDOUT':
      return detail(`timed out after ${timeoutSeconds} s`, 'raise --connect-timeout, or check the host and firewall');
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return detail(`host ${parts.host} is unreachable`);
    case '28P01':
      if (parts.passwordFrom !== undefined) return detail(`password authentication failed for user "${parts.user}" (password from the file ${parts.passwordFrom})`);
      if (parts.password === undefined) {
        const file = parts.passfile ?? '~/.pgpass';
        return detail(`password authentication failed for user "${parts.user}": no password was given`, `put it in the URL, in PGPASSWORD, or in the password file ${file} (as for psql)`);
      }
      return detail(`password authentication failed for user "${parts.user}"`);
    case '28000':
      return detail(`authentication rejected for user "${parts.user}": ${err.message ?? ''}`.trim());
    case '3D000':
      return detail(`database "${parts.database}" does not exist`);
    case '57P03':
      return detail('the server is starting up or shutting down');
    case '53300':
      return detail('too many connections');
    case 'SASL_SIGNATURE_MISMATCH':
      return detail('the server failed SCRAM authentication (wrong password or man in the middle)');
    default:
      if (/password|auth/i.test(err.message ?? '')) return detail(`authentication failed for user "${parts.user}"`);
      return detail(err.message ?? String(error));
  }
}
