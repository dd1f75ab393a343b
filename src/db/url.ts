/**
 * Connection URLs: parse, build from libpq variables, and redact (SPEC §2: a password is never printed).
 */
import { UsageError } from '../errors.js';

/** The parts of a PostgreSQL URL that strata shows or needs. */
export interface ConnectionParts {
  user: string;
  password: string | undefined;
  host: string;
  port: number;
  database: string;
  /** Query parameters (sslmode, …), passed through to the driver. */
  params: Record<string, string>;
}

const SCHEMES = new Set(['postgres:', 'postgresql:']);

/** Parses `postgres://user:pass@host:port/db?sslmode=…`; a bad URL is a usage error (exit 2). */
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
  const port = parsed.port === '' ? 5432 : Number(parsed.port);
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  const user = decodeURIComponent(parsed.username);
  return {
    user: user || 'postgres',
    password: parsed.password === '' ? undefined : decodeURIComponent(parsed.password),
    host: decodeURIComponent(parsed.hostname).replace(/^\[(.*)\]$/, '$1') || 'localhost',
    port,
    database: database || user || 'postgres',
    params: Object.fromEntries(parsed.searchParams.entries()),
  };
}

/** Builds a URL from the parts, password included: for the driver and `migrate db url` only. */
export function formatDatabaseUrl(parts: ConnectionParts): string {
  const auth = parts.password === undefined
    ? encodeURIComponent(parts.user)
    : `${encodeURIComponent(parts.user)}:${encodeURIComponent(parts.password)}`;
  const query = new URLSearchParams(parts.params).toString();
  return `postgres://${auth}@${hostForUrl(parts.host)}:${parts.port}/${encodeURIComponent(parts.database)}${query ? `?${query}` : ''}`;
}

/** `postgres://user:***@host:port/db`: the only form in which a URL reaches any output. */
export function redactParts(parts: ConnectionParts): string {
  const sslmode = parts.params.sslmode ? `?sslmode=${encodeURIComponent(parts.params.sslmode)}` : '';
  return `postgres://${encodeURIComponent(parts.user)}:***@${hostForUrl(parts.host)}:${parts.port}/${encodeURIComponent(parts.database)}${sslmode}`;
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

/** Connection parts from `PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`, `PGDATABASE` (libpq defaults otherwise). */
export function connectionFromLibpqEnv(env: LibpqEnv): ConnectionParts {
  const user = env.PGUSER || env.USER || 'postgres';
  const port = env.PGPORT ? Number(env.PGPORT) : 5432;
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new UsageError(`invalid PGPORT "${env.PGPORT}"`);
  }
  return {
    user,
    password: env.PGPASSWORD || undefined,
    host: env.PGHOST || 'localhost',
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
