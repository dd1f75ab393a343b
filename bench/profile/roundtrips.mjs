#!/usr/bin/env node
/**
 * Counts what a command says to PostgreSQL: a TCP proxy between the command and the server that
 * parses the wire protocol and reports, per connection, the round trips (exchanges: the client
 * sends, then waits for the server before sending again), the messages of each type, and how the
 * wall time splits between waiting for the server and the client's own work between exchanges.
 *
 *   node bench/profile/roundtrips.mjs --url postgres://u:p@host:port/db [--verbose] -- COMMAND ARGS…
 *
 * Every `{url}` in COMMAND ARGS becomes the proxy's URL (DATABASE_URL is set to it too), e.g.
 *   node bench/profile/roundtrips.mjs --url "$URL" -- node bin/migrate status --database-url {url} --migrations m
 * --verbose prints each exchange (the client's messages and the server's wait) in order.
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';

const split = process.argv.indexOf('--');
if (split < 0) {
  process.stderr.write('usage: node bench/profile/roundtrips.mjs --url URL [--verbose] -- COMMAND ARGS… ({url} is replaced)\n');
  process.exit(2);
}
const { values } = parseArgs({ args: process.argv.slice(2, split), options: { url: { type: 'string' }, verbose: { type: 'boolean', default: false } } });
const upstream = new URL(values.url ?? process.env.DATABASE_URL);
const command = process.argv.slice(split + 1);

const SSL_REQUEST = 80877103;
const GSS_REQUEST = 80877104;
const CLIENT_NAMES = { Q: 'Query', P: 'Parse', B: 'Bind', E: 'Execute', D: 'Describe', S: 'Sync', C: 'Close', H: 'Flush', X: 'Terminate', p: 'Password/SASL', d: 'CopyData', c: 'CopyDone', f: 'CopyFail', F: 'FunctionCall' };

/** Splits a byte stream into protocol messages; `untyped` messages first (startup, SSL request). */
function messageReader(onMessage, untypedFirst) {
  let buffer = Buffer.alloc(0);
  let untyped = untypedFirst;
  return (chunk) => {
    buffer = Buffer.concat([buffer, chunk]);
    for (;;) {
      if (untyped > 0) {
        if (buffer.length < 8) return;
        const len = buffer.readInt32BE(0);
        if (buffer.length < len) return;
        const code = buffer.readInt32BE(4);
        onMessage(code === SSL_REQUEST ? 'SSLRequest' : code === GSS_REQUEST ? 'GSSENCRequest' : 'Startup', len);
        buffer = buffer.subarray(len);
        // After an SSL/GSS request the client sends another untyped startup.
        if (code !== SSL_REQUEST && code !== GSS_REQUEST) untyped = 0;
        continue;
      }
      if (buffer.length < 5) return;
      const len = buffer.readInt32BE(1);
      if (buffer.length < len + 1) return;
      onMessage(String.fromCharCode(buffer[0]), len + 1);
      buffer = buffer.subarray(len + 1);
    }
  };
}

const connections = [];

const server = net.createServer((client) => {
  const started = performance.now();
  const stats = { id: connections.length + 1, exchanges: 0, client: {}, serverMessages: 0, waitMs: 0, clientMs: 0, log: [] };
  connections.push(stats);
  let lastFrom = 'server';
  let lastServerAt = started;
  let current;
  const db = net.connect(Number(upstream.port || 5432), upstream.hostname);
  client.setNoDelay(true);
  db.setNoDelay(true);
  const readClient = messageReader((type) => {
    const name = CLIENT_NAMES[type] ?? type;
    stats.client[name] = (stats.client[name] ?? 0) + 1;
    current?.messages.push(name);
  }, 1);
  client.on('data', (chunk) => {
    const now = performance.now();
    if (lastFrom === 'server') {
      // A new exchange: the client speaks after the server answered the previous one.
      stats.exchanges++;
      stats.clientMs += now - lastServerAt;
      current = { at: now - started, start: now, messages: [], thinkMs: now - lastServerAt, chunks: 0 };
      stats.log.push(current);
    }
    lastFrom = 'client';
    readClient(chunk);
    db.write(chunk);
  });
  db.on('data', (chunk) => {
    const now = performance.now();
    if (current) {
      // Waiting lasts until the server's last reply chunk before the client speaks again.
      if (lastFrom === 'client' || current.chunks > 0) {
        stats.waitMs += now - (current.chunks > 0 ? lastServerAt : current.start);
        current.waitMs = now - current.start;
        current.firstReplyMs ??= now - current.start;
      }
      current.chunks++;
    }
    lastFrom = 'server';
    lastServerAt = now;
    client.write(chunk);
  });
  const end = () => { client.destroy(); db.destroy(); stats.wallMs = performance.now() - started; };
  client.on('close', end);
  db.on('close', end);
  client.on('error', end);
  db.on('error', end);
});

server.listen(0, '127.0.0.1', () => {
  const proxied = new URL(upstream);
  proxied.hostname = '127.0.0.1';
  proxied.port = String(server.address().port);
  const url = proxied.toString();
  const [file, ...args] = command.map((a) => a.replaceAll('{url}', url));
  const t0 = performance.now();
  const child = spawn(file, args, { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DATABASE_URL: url } });
  child.on('close', (code) => {
    const wall = performance.now() - t0;
    setTimeout(() => {
      server.close();
      console.log(`exit ${code}; process wall ${wall.toFixed(1)} ms; ${connections.length} connection(s)`);
      for (const c of connections) {
        const msgs = Object.entries(c.client).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ');
        console.log(`connection ${c.id}: ${c.exchanges} round trips; open ${c.wallMs?.toFixed(1)} ms; waiting for the server ${c.waitMs.toFixed(1)} ms; client work between exchanges ${c.clientMs.toFixed(1)} ms (the rest: connecting, and after Terminate)`);
        console.log(`  client messages: ${msgs}`);
        if (values.verbose) {
          for (const e of c.log) {
            const server = e.waitMs === undefined ? 'no reply' : `server first reply ${e.firstReplyMs.toFixed(2)} ms, last ${e.waitMs.toFixed(2)} ms in ${e.chunks} chunk(s)`;
            console.log(`  +${e.at.toFixed(1)} ms (client work before it ${e.thinkMs.toFixed(2)} ms; ${server}): ${e.messages.join(' ')}`);
          }
        }
      }
    }, 50);
  });
});
