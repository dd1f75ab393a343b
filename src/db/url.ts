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

/** Replaces every occurrence of each secret in `text` with `***` (belt and braces for driver messages). */
export function scrubSecrets(text: string, secrets: Iterable<string>): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length < 3) continue;
    out = out.split(secret).join('***');
    const encoded = encodeURIComponent(secret);
    if (encoded !== secret) out = out.split(encoded).join('***');
  }
  return out;
}
