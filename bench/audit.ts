// Audit webhook ingest benchmark: batches of 400 real-shaped events (the API server's
// default batch size), 4 concurrent posters over real HTTP on 127.0.0.1, durable storage on
// (file-backed SQLite, WAL, and the WAL fdatasync'd before each 200: power-loss durable, as
// synchronous=FULL). Reports events/s and p50/p99 latency per batch, and — in the same run,
// on the same bodies — the cost of a bare JSON.parse as the floor. Goal: ingest at no less
// than a third of JSON.parse throughput. The posters run in a separate process, as the API
// server does: the collector's CPU figure counts only what a collector pays for (the two still
// share the machine's CPUs, so their work still slows the collector down).
//
//   npx tsx bench/audit.ts [--batches 200] [--posters 4] [--batch-size 400]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Agent } from 'node:http';
import { parseArgs } from 'node:util';
import { Registry } from 'prom-client';
import { createLogger } from '../common/log.js';
import { openStore } from '../collector/store/store.js';
import { AuditEventStore } from '../collector/store/audit-events.js';
import { PsaMetrics } from '../collector/audit/metrics.js';
import { AuditIngest } from '../collector/audit/ingest.js';
import { startAuditWebhook } from '../collector/audit/webhook.js';
import { eventList, podEvent, post } from '../test/fixtures/audit/helpers.js';

const { values } = parseArgs({ options: { batches: { type: 'string' }, posters: { type: 'string' }, 'batch-size': { type: 'string' } } });
const BATCHES = Number(values.batches ?? 200);
const POSTERS = Number(values.posters ?? 4);
const PER_BATCH = Number(values['batch-size'] ?? 400);

/** Plain JavaScript for the poster process: N concurrent keep-alive posters over node:http. */
const POSTER_SOURCE = `
const http = require('node:http');
const fs = require('node:fs');
const { url, posters, file, lengths } = JSON.parse(process.env.NETCONFORM_BENCH_POSTERS);
// Bytes ready before the clock starts, as an API server's serialised batch is.
const all = fs.readFileSync(file);
const bodies = [];
for (let o = 0, i = 0; i < lengths.length; o += lengths[i++]) bodies.push(all.subarray(o, o + lengths[i]));
const u = new URL(url);
const agent = new http.Agent({ keepAlive: true, maxSockets: posters });
const latencies = [], failures = [];
let next = 0;
function post(body) {
  return new Promise((resolve, reject) => {
    const req = http.request({ method: 'POST', hostname: u.hostname, port: u.port, path: u.pathname, agent,
      headers: { 'Content-Type': 'application/json', 'Content-Length': body.length } }, (res) => {
      const chunks = []; res.on('data', (c) => chunks.push(c)); res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject); req.end(body);
  });
}
process.send({ ready: true });
let cpu0;
process.once('message', () => (cpu0 = process.cpuUsage(), Promise.all(Array.from({ length: posters }, async () => {
  for (;;) {
    const i = next++;
    if (i >= bodies.length) return;
    const t0 = process.hrtime.bigint();
    const r = await post(bodies[i]);
    latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (r.status !== 200) failures.push('batch ' + i + ': HTTP ' + r.status + ' ' + r.body);
  }
})).then(() => { agent.destroy(); process.send({ latencies, failures, cpu: process.cpuUsage(cpu0) }); })));
`;

interface PostOutcome { latencies: number[]; failures: string[]; sec: number; cpu: { user: number; system: number } }

/**
 * Starts the poster process and waits until it holds its bodies (reading 90 MiB is set-up,
 * not ingest); `go()` starts the clock and the posting.
 */
function postersReady(url: string, bodies: readonly string[], posters: number, dir: string): Promise<{ go(): Promise<PostOutcome> }> {
  const file = join(dir, 'bodies.bin');
  const buffers = bodies.map((b) => Buffer.from(b));
  writeFileSync(file, Buffer.concat(buffers));
  const config = JSON.stringify({ url, posters, file, lengths: buffers.map((b) => b.length) });
  return new Promise((ready, reject) => {
    const child = spawn(process.execPath, ['-e', POSTER_SOURCE], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env, NETCONFORM_BENCH_POSTERS: config } });
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`poster process exited (${code})`)));
    child.once('message', () => ready({
      go: () => new Promise<PostOutcome>((resolve) => {
        const start = process.hrtime.bigint();
        child.once('message', (m: Omit<PostOutcome, 'sec'>) => {
          resolve({ ...m, sec: Number(process.hrtime.bigint() - start) / 1e9 });
          child.kill();
        });
        child.send('go');
      }),
    }));
  });
}

/** Median seconds of `passes` timed runs of `f` (after one warm-up run). */
function medianSec(passes: number, f: () => void): number {
  f();
  const times: number[] = [];
  for (let i = 0; i < passes; i++) {
    const t0 = process.hrtime.bigint();
    f();
    times.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function main(): Promise<void> {
  const now = Date.now();
  const bodies = Array.from({ length: BATCHES }, (_, b) => eventList(Array.from({ length: PER_BATCH }, (_, i) => {
    const id = `b${String(b).padStart(5, '0')}-${String(i).padStart(4, '0')}-4c2a-9d0e-${(b * PER_BATCH + i).toString(16).padStart(12, '0')}`;
    // Mostly ResponseComplete with PSA annotations, some RequestReceived, some denials: a PSA-focused policy's mix.
    // Event times move forward from batch to batch (1 ms apart), as an API server's do: the
    // time index takes appends, not inserts at random places among the same 400 times.
    return podEvent(id, { namespace: `team-${i % 20}`, variant: i, timeMs: now - BATCHES * PER_BATCH + b * PER_BATCH + i, ...(i % 10 === 0 ? { stage: 'RequestReceived' } : i % 25 === 0 ? { denied: true } : {}) });
  })));
  const totalEvents = BATCHES * PER_BATCH;
  const bytes = bodies.reduce((n, b) => n + b.length, 0);

  // Floor: bare JSON.parse of the same bodies, as strings (the collector must also decode the
  // bytes it receives; that is shown apart and not credited). Median of 5 passes after a
  // warm-up pass, so one GC pause or a neighbour's burst does not decide the floor.
  const parseSec = medianSec(5, () => {
    for (const b of bodies) JSON.parse(b);
  });
  const parseRate = totalEvents / parseSec;
  const buffers = bodies.map((b) => Buffer.from(b));
  const decodeParseSec = medianSec(3, () => {
    for (const b of buffers) JSON.parse(b.toString('utf8'));
  });
  buffers.length = 0;

  const dir = mkdtempSync(join(tmpdir(), 'netconform-bench-'));
  const store = openStore(join(dir, 'netconform.db'));
  const log = createLogger({ component: 'bench' }, 'silent');
  const registry = new Registry();
  const metrics = new PsaMetrics(registry);
  const events = new AuditEventStore(store);
  const ingest = new AuditIngest(events, metrics, log);
  const hook = await startAuditWebhook({ listen: { host: '127.0.0.1', port: 0 }, insecure: true, ingest, metrics, registry, log });
  const agent = new Agent({ keepAlive: true, maxSockets: POSTERS });

  // Warm-up batch (distinct ids, not counted).
  await post(hook.url, eventList(Array.from({ length: PER_BATCH }, (_, i) => podEvent(`warm-${i}`))), { agent });

  const posters = await postersReady(hook.url, bodies, POSTERS, dir);
  const cpu0 = process.cpuUsage();
  const elu0 = performance.eventLoopUtilization();
  const { latencies, failures, sec, cpu: posterCpu } = await posters.go();
  const cpu = process.cpuUsage(cpu0);
  const elu = performance.eventLoopUtilization(elu0);
  if (failures.length) throw new Error(`batches failed: ${failures.slice(0, 3).join('; ')}`);
  const stored = events.count() - PER_BATCH;
  latencies.sort((a, b) => a - b);
  const rate = totalEvents / sec;

  // A retried round (every batch again): all duplicates.
  const retryStart = process.hrtime.bigint();
  for (const b of bodies.slice(0, 20)) await post(hook.url, b, { agent });
  const retrySec = Number(process.hrtime.bigint() - retryStart) / 1e9;

  agent.destroy();
  await hook.close();
  store.close();
  rmSync(dir, { recursive: true, force: true });

  const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
  process.stdout.write([
    `audit webhook ingest: ${BATCHES} batches x ${PER_BATCH} events, ${POSTERS} concurrent posters, HTTP on 127.0.0.1, SQLite WAL, WAL fdatasync'd before every 200`,
    `  machine            ${cpus().length} CPUs, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`,
    `  body size          ${(bytes / BATCHES / 1024).toFixed(0)} KiB per batch, ${(bytes / 1024 / 1024).toFixed(1)} MiB total`,
    `  JSON.parse floor   ${fmt(parseRate)} events/s (${(parseSec * 1000 / BATCHES).toFixed(2)} ms per batch; median of 5 passes over the same bodies)`,
    `  decode + parse     ${fmt(totalEvents / decodeParseSec)} events/s (Buffer -> string -> JSON.parse, for reference)`,
    `  webhook ingest     ${fmt(rate)} events/s (${stored === totalEvents ? 'all' : `${stored} of ${totalEvents}`} stored)`,
    `  CPU per batch      ${((cpu.user + cpu.system) / 1000 / BATCHES).toFixed(2)} ms collector (all its threads: HTTP, parse, store; ${(cpu.system / 1000 / BATCHES).toFixed(2)} ms system), posters ${((posterCpu.user + posterCpu.system) / 1000 / BATCHES).toFixed(2)} ms`,
    `  event loop busy    ${(elu.active / BATCHES).toFixed(2)} ms per batch (${(elu.utilization * 100).toFixed(0)}% of the run: HTTP, decode, parse, validate, metrics, hand-off to the writer)`,
    `  per batch latency  p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms, max ${latencies.at(-1)!.toFixed(1)} ms`,
    `  ratio              ${(rate / parseRate).toFixed(2)} of JSON.parse throughput (goal >= 0.33)`,
    `  retried batches    ${fmt(20 * PER_BATCH / retrySec)} events/s (all duplicates, sequential)`,
  ].join('\n') + '\n');
  if (stored !== totalEvents) process.exitCode = 1;
}

main().catch((err: unknown) => {
  process.stderr.write(`bench/audit: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
