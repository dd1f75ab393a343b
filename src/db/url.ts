/**
 * Connection URLs: parse, build from libpq variables, and redact (SPEC §2: a password is never printed).
 */
import { UsageError } from '../errors.js';

/** The parts of a PostgreSQL URL that strata shows or needs. */
export interface ConnectionParts {
  user: string;
  password: string | undefined;
  /** A host name or address, or (starting with `/`) the directory of a Unix-domain socket, as in libpq. */
  host: string;
  port: number;
  database: string;
  /** Query parameters strata honours besides the parts above: `sslmode`, `application_name`, `options`. */
  params: Record<string, string>;
  /** Query parameters strata ignores (harmless ones; see `parseDatabaseUrl`): the CLI warns about them. */
  ignored?: string[];
  /** libpq's `connect_timeout` (URL parameter, else `PGCONNECT_TIMEOUT`), in seconds; 0: no limit. `--connect-timeout` wins over it. */
  connectTimeoutSeconds?: number;
  /** The password file to read when no password is given (URL `passfile`, else `PGPASSFILE`, else `~/.pgpass`). */
  passfile?: string;
  /** Set when `password` came from that file: connection errors name it, as libpq's do. */
  passwordFrom?: string;
  /** Why the password file was not used (group- or world-readable, not a plain file): the CLI warns. */
  passfileWarning?: string;
}

const SCHEMES = new Set(['postgres:', 'postgresql:']);

/** libpq's sslmode values. */
export const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;

/** Query parameters passed on as they are: sslmode is checked, the other two go to the server. */
const PASSED_PARAMS = new Set(['sslmode', 'application_name', 'options']);

/**
 * libpq parameters whose meaning strata cannot honour and must not drop in silence: ignoring them
 * would connect with less security than asked for (client certificates, CA files, channel binding,
 * GSS, …), or to another place (a service file, a second host), or migrate another schema (Prisma's
 * `schema`). Any other name that starts with `ssl` or `gss` is refused too (a misspelt sslmode).
 */
const REFUSED_PARAMS = new Set([
  'sslcert', 'sslkey', 'sslrootcert', 'sslcrl', 'sslcrldir', 'sslpassword', 'sslcertmode', 'sslnegotiation', 'sslsni',
  'ssl_min_protocol_version', 'ssl_max_protocol_version', 'sslcompression', 'requiressl', 'gssencmode', 'gsslib',
  'gssdelegation', 'krbsrvname', 'channel_binding', 'require_auth', 'requirepeer', 'service', 'servicefile',
  'hostaddr', 'replication', 'target_session_attrs', 'load_balance_hosts', 'schema',
]);

/** What strata reads from a URL, for messages. */
export const SUPPORTED_PARAMS = 'host, port, dbname, user, password, passfile, sslmode, connect_timeout, application_name, options';

/** Percent-decodes one part of a URL; a bad escape is the user's input, exit 2 (never the part itself: it may be the password). */
function decodePart(text: string, what: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new UsageError(`invalid database URL: the ${what} is not valid percent-encoding`, {
      hint: 'in a URL a literal % is written %25 (encodeURIComponent in JavaScript encodes a whole password)',
    });
  }
}

function portNumber(text: string, where: string): number {
  const port = /^\d{1,5}$/.test(text) ? Number(text) : Number.NaN;
  if (!(port >= 1 && port <= 65535)) throw new UsageError(`invalid ${where} "${text}": expected a port from 1 to 65535`);
  return port;
}

function singleHost(host: string, where: string): string {
  if (host.includes(',')) throw new UsageError(`${where} names several hosts ("${host}"): strata connects to one`);
  return host;
}

/**
 * Parses `postgres://user:pass@host:port/db?sslmode=…`; anything wrong with it is a usage error
 * (exit 2). Query parameters, as libpq reads them: `host` (a directory for a Unix-domain socket),
 * `port`, `dbname`, `user` and `password` override the URL's parts; `sslmode` must be one of
 * libpq's; `application_name` and `options` go to the server; `passfile` and `connect_timeout`
 * mean what they mean to libpq; REFUSED_PARAMS are exit 2; any other name (`keepalives`, Prisma's
 * `connection_limit`, …) is ignored and listed in `ignored`.
 */
export function parseDatabaseUrl(url: string): ConnectionParts {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`invalid database URL: ${redactUrlLoosely(url)}`, {
      hint: 'expected postgres://user:password@host:port/database',
    });
  }
  if (!SCHEMES.has(parsed.protocol)) {
    throw new UsageError(`invalid database URL scheme "${parsed.protocol}" (expected postgres:// or postgresql://)`);
  }
  let user = decodePart(parsed.username, 'user name');
  let password = parsed.password === '' ? undefined : decodePart(parsed.password, 'password');
  let host = decodePart(parsed.hostname, 'host').replace(/^\[(.*)\]$/, '$1');
  let port = parsed.port === '' ? 5432 : portNumber(parsed.port, 'port in the database URL');
  let database = decodePart(parsed.pathname.replace(/^\//, ''), 'database name');
  const params: Record<string, string> = {};
  const ignored: string[] = [];
  let passfile: string | undefined;
  let connectTimeoutSeconds: number | undefined;
  for (const [given, value] of parsed.searchParams) {
    // libpq refuses an unknown parameter; we refuse the security-relevant ones in any case
    // (`SSLMODE=verify-full` must not pass for an unknown name and connect in plain text).
    const key = given.toLowerCase();
    if (key === 'host') host = value === '' ? host : value;
    else if (key === 'port') port = value === '' ? port : portNumber(value, 'port parameter of the database URL');
    else if (key === 'dbname') database = value;
    else if (key === 'user') user = value;
    else if (key === 'password') password = value === '' ? undefined : value;
    else if (key === 'passfile') passfile = value === '' ? undefined : value;
    else if (key === 'connect_timeout') connectTimeoutSeconds = connectTimeout(value, 'connect_timeout parameter of the database URL');
    else if (PASSED_PARAMS.has(key)) params[key] = value;
    else if (REFUSED_PARAMS.has(key) || /^(ssl|gss)/.test(key)) { // `sslmod=require` must not connect without SSL
      throw new UsageError(`the database URL parameter "${key}" is not supported by strata`, {
        hint: key === 'schema' ? 'pass --schema NAME for the target schema' : `strata reads ${SUPPORTED_PARAMS} from a URL`,
      });
    } else if (!ignored.includes(key)) ignored.push(key);
  }
  if (params.sslmode !== undefined && !(SSL_MODES as readonly string[]).includes(params.sslmode)) {
    throw new UsageError(`invalid sslmode "${params.sslmode}" in the database URL`, { hint: `use one of ${SSL_MODES.join(', ')}` });
  }
  return {
    user: user || 'postgres',
    password,
    host: singleHost(host, 'the database URL') || 'localhost',
    port,
    database: database || user || 'postgres',
    params,
    ...(ignored.length > 0 ? { ignored } : {}),
    ...(connectTimeoutSeconds !== undefined ? { connectTimeoutSeconds } : {}),
    ...(passfile !== undefined ? { passfile } : {}),
  };
}

/**
 * libpq's connect_timeout (the URL parameter, `PGCONNECT_TIMEOUT`): whole seconds; zero or
 * negative waits as long as the system does (0 here, as `--connect-timeout 0`), and 1 means 2,
 * libpq's minimum. Anything else is a usage error, as it is to libpq.
 */
export function connectTimeout(text: string, where: string): number | undefined {
  const trimmed = text.trim();
  if (trimmed === '') return undefined;
  const seconds = /^[-+]?\d+$/.test(trimmed) ? Number(trimmed) : Number.NaN;
  if (!Number.isSafeInteger(seconds)) throw new UsageError(`invalid ${where} "${text}": expected whole seconds`);
  if (seconds <= 0) return 0;
  return Math.min(Math.max(seconds, 2), MAX_CONNECT_SECONDS);
}

/** Node's timers hold at most 2^31 - 1 ms: the longest connect timeout that still means what it says. */
export const MAX_CONNECT_SECONDS = Math.floor(2_147_483_647 / 1000);

/** True when `host` is a Unix-domain socket directory (libpq: a host that starts with `/`). */
export function isSocketHost(host: string): boolean {
  return host.startsWith('/');
}

/** The socket file libpq connects to for a socket directory: `<dir>/.s.PGSQL.<port>`. */
export function socketPath(parts: Pick<ConnectionParts, 'host' | 'port'>): string {
  return `${parts.host.replace(/\/+$/, '')}/.s.PGSQL.${parts.port}`;
}

/** Builds a URL from the parts, password included: for `migrate db url` and tests only. */
export function formatDatabaseUrl(parts: ConnectionParts): string {
  const auth = parts.password === undefined
    ? encodeURIComponent(parts.user)
    : `${encodeURIComponent(parts.user)}:${encodeURIComponent(parts.password)}`;
  const query = new URLSearchParams(parts.params).toString();
  return `postgres://${auth}@${hostForUrl(parts.host)}:${parts.port}/${encodeURIComponent(parts.database)}${query ? `?${query}` : ''}`;
}

/**
 * `postgres://user:***@host:port/db`: the only form in which a URL reaches any output. A socket
 * directory is the host, percent-encoded as libpq reads it (`postgres://app:***@%2Fvar%2Frun%2Fpostgresql:5432/app`):
 * the shape stays the SPEC's, and the URL still parses.
 */
export function redactParts(parts: ConnectionParts): string {
  const sslmode = parts.params.sslmode ? `?sslmode=${encodeURIComponent(parts.params.sslmode)}` : '';
  return `postgres://${encodeURIComponent(parts.user)}:***@${hostForUrl(parts.host)}:${parts.port}/${encodeURIComponent(parts.database)}${sslmode}`;
}

/** Where the server is, for messages: `host:port`, or the socket file. */
export function describeServer(parts: Pick<ConnectionParts, 'host' | 'port'>): string {
  return isSocketHost(parts.host) ? `the socket ${socketPath(parts)}` : `${parts.host}:${parts.port}`;
}

/** Redacts a URL string; if it cannot be parsed, everything between `//` and `@` is masked. */
export function redactUrl(url: string): string {
  try {
    return redactParts(parseDatabaseUrl(url));
  } catch {
    return redactUrlLoosely(url);
  }
}

/** For text that does not parse: everything up to the LAST `@` may be credentials (an unencoded `@` in a password). */
function redactUrlLoosely(url: string): string {
  return url.replace(/\/\/.*@/s, '//***@').replace(/(password=)[^&\s]*/gi, '$1***');
}

function hostForUrl(host: string): string {
  if (isSocketHost(host)) return encodeURIComponent(host);
  return host.includes(':') ? `[${host}]` : host;
}

/** libpq variables of SPEC §2, as read by `connectionFromLibpqEnv`. */
export interface LibpqEnv {
  PGHOST?: string | undefined;
  PGPORT?: string | undefined;
  PGUSER?: string | undefined;
  PGPASSWORD?: string | undefined;
  PGDATABASE?: string | undefined;
  USER?: string | undefined;
}

/**
 * Connection parts from `PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`, `PGDATABASE` (libpq defaults
 * otherwise). A `PGHOST` that starts with `/` is a Unix-domain socket directory, as in libpq.
 */
export function connectionFromLibpqEnv(env: LibpqEnv): ConnectionParts {
  const user = env.PGUSER || env.USER || 'postgres';
  const port = env.PGPORT ? portNumber(env.PGPORT, 'PGPORT') : 5432;
  return {
    user,
    password: env.PGPASSWORD || undefined,
    host: singleHost(env.PGHOST || 'localhost', 'PGHOST'),
    port,
    database: env.PGDATABASE || user,
    params: {},
  };
}

/**
 * Masks a password wherever it stands in free text (driver and server messages, a migration's log
 * lines): belt and braces, since every URL is redacted by its structure already (`redactUrl`).
 *
 * It must not damage what the output is about, so it masks whole tokens only: `p4ss` in
 * `001_p4ss_table` or in `p4ssword` is part of a name, not the password (a weak password such as
 * `postgres` or `init` would otherwise turn `001_init` into `001_***` and `postgres://` into
 * `***://`). For the same reason a password that equals a word the output prints anyway — the user
 * or database name, a migration or phase name (`publicWords`) — is left to the structural
 * redaction: masking it would hide those names and protect nothing.
 */
export function secretScrubber(secrets: Iterable<string>, publicWords: ReadonlySet<string> = new Set()): (text: string) => string {
  const patterns: RegExp[] = [];
  for (const secret of new Set(secrets)) {
    if (secret.length < 3 || publicWords.has(secret)) continue;
    const forms = new Set([secret, encodeURIComponent(secret)]);
    patterns.push(new RegExp([...forms].map(tokenPattern).join('|'), 'gu'));
  }
  if (patterns.length === 0) return (text) => text;
  return (text) => patterns.reduce((out, pattern) => out.replace(pattern, '***'), text);
}

const WORD = /[\p{L}\p{N}_]/u;

/** `form` as a whole token: no letter, digit or `_` glued to it, and not a URL scheme (`postgres://`). */
function tokenPattern(form: string): string {
  const escaped = form.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  const before = WORD.test(form.charAt(0)) ? '(?<![\\p{L}\\p{N}_])' : '';
  const after = WORD.test(form.charAt(form.length - 1)) ? '(?![\\p{L}\\p{N}_])' : '';
  return `${before}${escaped}${after}(?!:\\/\\/)`;
}

/** `secretScrubber` applied once. */
export function scrubSecrets(text: string, secrets: Iterable<string>, publicWords?: ReadonlySet<string>): string {
  return secretScrubber(secrets, publicWords)(text);
}
