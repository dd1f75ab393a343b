#!/usr/bin/env node
/**
 * A TCP proxy that delays every byte by a fixed one-way latency, in both directions: a network link
 * between the migration tool and PostgreSQL, for the benchmark that shows what round trips cost
 * (benchmarks/apply-net.mjs). Bandwidth is unlimited and order is kept; data sent back to back
 * stays back to back (a pipelined client pays the latency once per exchange, not once per message),
 * as on a real link.
 *
 * It runs in a process of its own, so that the bench's own event loop never sits on the path:
 *
 *   node bench/lib/latency-proxy.mjs --upstream 127.0.0.1:5432 --delay 1
 *
 * prints `listening <port>` on stdout, then forwards until it is killed. Node's timers have a
 * resolution of 1 ms, so the delay is whole milliseconds (at least 1), and a timer may fire a little
 * late on a busy machine: `startLatencyProxy` measures the round trip it really gives.
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

/** Forwards `from` to `to`, each chunk (and the end) `delayMs` after it arrived, in order. */
function delayedPipe(from, to, delayMs) {
  const queue = [];
  let timer;
  const flush = () => {
    timer = undefined;
    const now = performance.now();
    while (queue.length > 0 && queue[0].at <= now) {
      const { chunk } = queue.shift();
      if (chunk === null) to.end();
      else to.write(chunk);
    }
    if (queue.length > 0) timer = setTimeout(flush, Math.max(1, queue[0].at - now));
  };
  const enqueue = (chunk) => {
    queue.push({ at: performance.now() + delayMs, chunk });
    if (timer === undefined) timer = setTimeout(flush, delayMs);
  };
  from.on('data', enqueue);
  from.on('end', () => enqueue(null));
}

function serve(upstream, delayMs) {
  const at = upstream.lastIndexOf(':');
  const host = upstream.slice(0, at).replace(/^\[(.*)\]$/, '$1');
  const port = Number(upstream.slice(at + 1));
  const server = net.createServer((client) => {
    const db = net.connect(port, host);
    client.setNoDelay(true);
    db.setNoDelay(true);
    delayedPipe(client, db, delayMs);
    delayedPipe(db, client, delayMs);
    // A side that goes away takes the other with it once what it sent before has arrived.
    const close = () => setTimeout(() => { client.destroy(); db.destroy(); }, delayMs + 5);
    for (const socket of [client, db]) {
      socket.on('error', close);
      socket.on('close', close);
    }
  });
  server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${server.address().port}\n`));
}

/** One SSLRequest answered ('N'): a round trip through the proxy, in ms. */
function pingOnce(port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.setNoDelay(true);
      const started = performance.now();
      socket.once('data', () => {
        resolve(performance.now() - started);
        socket.destroy();
      });
      const request = Buffer.alloc(8);
      request.writeInt32BE(8, 0);
      request.writeInt32BE(80877103, 4);
      socket.write(request);
    });
    socket.on('error', reject);
  });
}

/**
 * Starts the proxy in front of `upstream` (HOST:PORT) with `delayMs` each way. Resolves with its
 * port, the round trip it measured (median of 21 pings) and `stop()`.
 */
export async function startLatencyProxy({ upstream, delayMs }) {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--upstream', upstream, '--delay', String(delayMs)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const match = /listening (\d+)/.exec(out);
      if (match) resolve(Number(match[1]));
    });
    child.on('exit', (code) => reject(new Error(`latency proxy exited with ${code}`)));
    child.on('error', reject);
  });
  const pings = [];
  for (let i = 0; i < 21; i++) pings.push(await pingOnce(port));
  pings.sort((a, b) => a - b);
  return {
    port,
    rttMs: pings[10],
    stop: () => new Promise((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill();
    }),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { upstream: { type: 'string' }, delay: { type: 'string', default: '1' } } });
  const delayMs = Math.max(1, Math.round(Number(values.delay)));
  if (!values.upstream || !Number.isFinite(delayMs)) {
    process.stderr.write('usage: node bench/lib/latency-proxy.mjs --upstream HOST:PORT --delay MS\n');
    process.exit(2);
  }
  serve(values.upstream, delayMs);
}
