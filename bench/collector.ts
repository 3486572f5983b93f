// Collector benchmark at fleet scale: N simulated agents (the real Reporter, each on its own
// HTTP/2 connection, its own node name, 20 findings and 11 check summaries per report, one
// report per --interval) from --procs child processes, against one real collector process
// (`collector/main.ts`, file SQLite store) on 127.0.0.1. For each N it prints:
//   - collector RSS per connected agent (RSS with N agents reporting minus RSS before any)
//   - collector CPU per report (user+sys over the steady window / reports acked in it)
//   - report → Ack latency p50 / p99 (the agent's clock, submit to Ack)
//   - /metrics scrape size, series, series per node and time (median of 3)
//   - collector restart: SIGKILL, then (checked first) every agent's last acknowledged
//     report is in the store, restart on the same port and DB, and the time until every
//     agent has an Ack from the new process (the Reporter's own backoff with jitter).
// Goals: ≤ 20 KB collector memory per agent, scrape < 1 s at 5,000 nodes, every agent back
// within two report intervals after a restart, nothing acknowledged lost.
// Loopback only; every phase has a deadline; stops by itself and kills what it started.
//
// With --probes every node also has a probe pod (ProbeReport at K = 10 each interval, on its
// own stream): the per-agent figures then cover an agent and a probe per node.
//
//   npx tsx bench/collector.ts [--agents 1000,5000] [--interval 30s] [--duration 60s] [--procs 4] [--probes] [--collector-args "..."]
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createServer } from 'node:net';
import Database from 'better-sqlite3';
import { parseDuration } from '../common/duration.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({ options: {
  agents: { type: 'string' }, interval: { type: 'string' }, duration: { type: 'string' }, procs: { type: 'string' },
  'collector-args': { type: 'string' },
  probes: { type: 'boolean' },
} });
const PROBES = values.probes ?? false;
const COUNTS = (values.agents ?? '1000,5000').split(',').map(Number);
const INTERVAL_MS = parseDuration(values.interval ?? '30s', '--interval');
const WINDOW_MS = parseDuration(values.duration ?? `${Math.round(2 * INTERVAL_MS / 1000)}s`, '--duration');
const PROCS = Number(values.procs ?? 4);
const COLLECTOR_ARGS = (values['collector-args'] ?? '').split(/\s+/).filter(Boolean);
// One socket per stream: with --probes every node holds two (its agent's and its probe's).
const NOFILE = Math.max(...COUNTS) * (PROBES ? 2 : 1) + 4096;
const load = (): string => loadavg().map((x) => x.toFixed(2)).join(' ');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const started = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of started) c.kill('SIGKILL');
});

/**
 * Every child runs under `ulimit -n NOFILE`: the collector holds one socket per agent and a
 * child ~N/procs, more than the usual 1024 soft limit. Raising it needs the hard limit to allow it.
 */
function spawnLimited(args: string[], ipc: boolean): ChildProcess {
  const quoted = args.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const child = spawn('sh', ['-c', `ulimit -n ${NOFILE} 2>/dev/null || { echo "bench: cannot raise the open-files limit to ${NOFILE} (ulimit -n; hard limit: $(ulimit -Hn)); run as root or raise it first" >&2; exit 3; }; exec ${quoted}`], {
    cwd: root, stdio: ['ignore', 'ignore', 'pipe', ...(ipc ? ['ipc' as const] : [])],
  });
  started.add(child);
  child.on('exit', () => started.delete(child));
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
    if (err.length > 20_000) err = err.slice(-10_000);
  });
  child.on('exit', (code) => {
    if (code === 3) process.stderr.write(err);
  });
  return child;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

interface Proc { rssKB: number; cpuMs: number }
function procStats(pid: number): Proc {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rssKB = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(f[11]) + Number(f[12]); // utime + stime (fields 14, 15), in clock ticks of 10 ms
  return { rssKB, cpuMs: ticks * 10 };
}

async function until<T>(what: string, deadlineMs: number, probe: () => Promise<T | undefined>, everyMs = 500): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

class Collector {
  child!: ChildProcess;
  constructor(readonly grpcPort: number, readonly httpPort: number, readonly db: string) {}
  async start(): Promise<void> {
    this.child = spawnLimited([process.execPath, '--import', 'tsx', `${root}collector/main.ts`, '--grpc-listen', `127.0.0.1:${this.grpcPort}`,
      '--http-listen', `127.0.0.1:${this.httpPort}`, '--db', this.db, '--no-kube', '--insecure', '--log-level', 'warn', ...COLLECTOR_ARGS], false);
    await until('the collector to be ready', 60_000, async () => ((await fetch(`http://127.0.0.1:${this.httpPort}/readyz`)).ok ? true : undefined), 100);
  }
  stats(): Proc {
    return procStats(this.child.pid!);
  }
  async kill(): Promise<void> {
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGKILL');
    await exited;
  }
  async stop(): Promise<void> {
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    await Promise.race([exited, sleep(10_000).then(() => this.child.kill('SIGKILL'))]);
  }
  async scrape(): Promise<{ bytes: number; ms: number; series: number; text: string }> {
    const t0 = performance.now();
    const res = await fetch(`http://127.0.0.1:${this.httpPort}/metrics`);
    const text = await res.text();
    const ms = performance.now() - t0;
    return { bytes: Buffer.byteLength(text), ms, series: text.split('\n').filter((l) => l && !l.startsWith('#')).length, text };
  }
}

/** One child process of simulated agents, spoken to over IPC (see bench/_collector-agents.ts). */
class Agents {
  private readonly child: ChildProcess;
  private readonly waiting = new Map<string, (m: Record<string, unknown>) => void>();
  readonly ready: Promise<unknown>;
  constructor() {
    this.child = spawnLimited([process.execPath, '--import', 'tsx', `${root}bench/_collector-agents.ts`], true);
    this.ready = this.ask('ready');
    this.child.on('message', (m: Record<string, unknown>) => {
      const w = this.waiting.get(String(m['cmd']));
      this.waiting.delete(String(m['cmd']));
      w?.(m);
    });
  }
  ask<T = Record<string, unknown>>(cmd: string, extra: Record<string, unknown> = {}, timeoutMs = 60_000): Promise<T> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`agents child: no answer to ${cmd}`)), timeoutMs);
      this.waiting.set(cmd, (m) => {
        clearTimeout(t);
        resolve(m as T);
      });
      if (cmd !== 'ready') this.child.send({ cmd, ...extra });
    });
  }
}

function heapOf(metrics: string): { used: number; external: number } {
  const v = (name: string): number => Number(new RegExp(`^${name} (\\S+)`, 'm').exec(metrics)?.[1] ?? NaN);
  return { used: v('netconform_collector_nodejs_heap_size_used_bytes'), external: v('netconform_collector_nodejs_external_memory_bytes') };
}

const pct = (xs: number[], p: number): number => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
};

async function run(n: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'nc-bench-collector-'));
  const collector = new Collector(await freePort(), await freePort(), join(dir, 'netconform.db'));
  const children: Agents[] = [];
  try {
    await collector.start();
    await sleep(2000);
    const base = collector.stats();
    const heap0 = heapOf((await collector.scrape()).text);
    console.log(`\nN = ${n} agents, interval ${INTERVAL_MS / 1000} s, ${PROCS} agent processes; collector RSS before agents ${(base.rssKB / 1024).toFixed(1)} MiB, load ${load()}`);

    for (let p = 0; p < PROCS; p++) children.push(new Agents());
    await Promise.all(children.map((c) => c.ready));
    const t0 = Date.now();
    await Promise.all(children.map((c, p) => c.ask('start', {
      address: `127.0.0.1:${collector.grpcPort}`, intervalMs: INTERVAL_MS, probes: PROBES,
      nodes: Array.from({ length: Math.ceil(n / PROCS) }, (_, i) => p + i * PROCS).filter((i) => i < n).map((i) => `node-${String(i).padStart(5, '0')}`),
    })));
    type Stats = { latencies: number[]; reportsAcked: number; withAck: number; probeReportsAcked: number; probesWithAck: number };
    const stats = async (): Promise<Stats> => {
      const all = await Promise.all(children.map((c) => c.ask<Stats>('stats')));
      const sum = (k: 'reportsAcked' | 'withAck' | 'probeReportsAcked' | 'probesWithAck'): number => all.reduce((s, a) => s + a[k], 0);
      return { latencies: all.flatMap((a) => a.latencies), reportsAcked: sum('reportsAcked'), withAck: sum('withAck'), probeReportsAcked: sum('probeReportsAcked'), probesWithAck: sum('probesWithAck') };
    };
    let shownAt = Date.now();
    await until(`all ${n} agents${PROBES ? ' and probes' : ''} to have a report acknowledged`, 5 * 60_000 + 2 * INTERVAL_MS, async () => {
      const s = await stats();
      // Progress every 15 s: a fleet that never finishes connecting says how far it got.
      if (Date.now() - shownAt >= 15_000) {
        shownAt = Date.now();
        console.log(`  … ${((shownAt - t0) / 1000).toFixed(0)} s: ${s.withAck} of ${n} agents acknowledged, ${s.reportsAcked} reports, load ${load()}`);
      }
      return s.withAck >= n && (!PROBES || s.probesWithAck >= n) ? true : undefined;
    }, 1000);
    console.log(`  all connected and acknowledged once after ${((Date.now() - t0) / 1000).toFixed(1)} s`);

    // Steady state: every agent reports once per interval.
    await Promise.all(children.map((c) => c.ask('reset')));
    const c0 = collector.stats();
    const w0 = Date.now();
    await sleep(WINDOW_MS);
    const c1 = collector.stats();
    const s = await stats();
    const windowS = (Date.now() - w0) / 1000;
    const allReports = s.reportsAcked + s.probeReportsAcked;
    console.log(`  steady window ${windowS.toFixed(0)} s: ${s.reportsAcked} reports acked (${(s.reportsAcked / windowS).toFixed(0)}/s)${PROBES ? `, ${s.probeReportsAcked} probe reports (${(s.probeReportsAcked / windowS).toFixed(0)}/s)` : ''}, load ${load()}`);
    console.log(`  collector RSS ${(c1.rssKB / 1024).toFixed(1)} MiB: ${((c1.rssKB - base.rssKB) / n).toFixed(1)} KB per connected ${PROBES ? 'node (agent and probe)' : 'agent'} (goal ≤ 20)`);
    console.log(`  collector CPU ${((c1.cpuMs - c0.cpuMs) / Math.max(1, allReports)).toFixed(2)} ms per report${PROBES ? ' (agent and probe reports)' : ''} (${(100 * (c1.cpuMs - c0.cpuMs) / (windowS * 1000)).toFixed(0)} % of a core)`);
    console.log(`  report → Ack p50 ${pct(s.latencies, 0.5).toFixed(1)} ms, p99 ${pct(s.latencies, 0.99).toFixed(1)} ms, max ${pct(s.latencies, 1).toFixed(0)} ms`);

    const scrapes = [await collector.scrape(), await collector.scrape(), await collector.scrape()];
    const sc = scrapes.sort((a, b) => a.ms - b.ms)[1]!;
    const heap1 = heapOf(sc.text);
    console.log(`  of which V8 heap used ${((heap1.used - heap0.used) / n / 1024).toFixed(1)} KB/agent, external ${((heap1.external - heap0.external) / n / 1024).toFixed(1)} KB/agent (the rest: native HTTP/2 sessions, sockets, allocator)`);
    const nodeSeries = sc.text.split('\n').filter((l) => l.includes('node="node-00000"')).length;
    console.log(`  /metrics ${(sc.bytes / 1e6).toFixed(2)} MB, ${sc.series} series (${nodeSeries} for node-00000; goal ≤ 20), scrape ${sc.ms.toFixed(0)} ms (median of 3; goal < 1000 at 5,000)`);

    // Restart: SIGKILL, check the store holds every acknowledged report, restart, time the herd.
    await collector.kill();
    await Promise.all(children.map((c) => c.ask('mark')));
    const killedAt = Date.now();
    const acked = (await Promise.all(children.map((c) => c.ask<{ latest: { node: string; bootId: string; acked: number }[] }>('latest')))).flatMap((a) => a.latest);
    const db = new Database(collector.db);
    const stored = new Map((db.prepare('SELECT node, sequence, boot_id FROM node_reports').all() as { node: string; sequence: number; boot_id: string }[]).map((r) => [r.node, r]));
    db.close();
    const lost = acked.filter((a) => {
      const r = stored.get(a.node);
      return !r || r.boot_id !== a.bootId || r.sequence < a.acked;
    });
    console.log(`  after SIGKILL: ${acked.length - lost.length} of ${acked.length} agents' last acknowledged report in the store${lost.length ? ` — LOST: ${lost.slice(0, 5).map((l) => l.node).join(', ')}…` : ' (nothing lost)'}`);
    const r0 = Date.now();
    await collector.start();
    const upMs = Date.now() - r0;
    const back = await until(`all ${n} agents back after the restart`, 4 * INTERVAL_MS + 120_000, async () => {
      const b = (await Promise.all(children.map((c) => c.ask<{ back: (number | null)[] }>('back')))).flatMap((x) => x.back);
      return b.every((x) => x !== null) ? (b as number[]) : undefined;
    }, 250).catch(async (err: Error) => {
      const b = (await Promise.all(children.map((c) => c.ask<{ back: (number | null)[] }>('back')))).flatMap((x) => x.back);
      console.log(`  ${err.message}: ${b.filter((x) => x !== null).length} of ${n} back`);
      return b.filter((x): x is number => x !== null);
    });
    const rel = back.map((x) => (x - killedAt) / 1000);
    console.log(`  restart: collector ready ${(upMs / 1000).toFixed(1)} s after the kill; agents back (first Ack) p50 ${pct(rel, 0.5).toFixed(1)} s, p99 ${pct(rel, 0.99).toFixed(1)} s, all ${pct(rel, 1).toFixed(1)} s after the kill (goal ≤ ${(2 * INTERVAL_MS / 1000).toFixed(0)} s), load ${load()}`);

    // Nothing lost across the restart either: stop reporting, let the last reports be acked, stop cleanly, compare.
    await Promise.all(children.map((c) => c.ask('pause')));
    await until('the last reports to be acknowledged', 60_000, async () => {
      const l = (await Promise.all(children.map((c) => c.ask<{ latest: { submitted: number; acked: number }[] }>('latest')))).flatMap((a) => a.latest);
      return l.every((x) => x.acked >= x.submitted) ? true : undefined;
    }, 500).catch((err: Error) => console.log(`  ${err.message}`));
    const final = (await Promise.all(children.map((c) => c.ask<{ latest: { node: string; bootId: string; submitted: number; acked: number }[] }>('latest')))).flatMap((a) => a.latest);
    await collector.stop();
    const db2 = new Database(collector.db, { readonly: true });
    const stored2 = new Map((db2.prepare('SELECT node, sequence, boot_id FROM node_reports').all() as { node: string; sequence: number; boot_id: string }[]).map((r) => [r.node, r]));
    db2.close();
    const behind = final.filter((a) => stored2.get(a.node)?.sequence !== a.acked || stored2.get(a.node)?.boot_id !== a.bootId);
    console.log(`  at the end: ${final.length - behind.length} of ${final.length} agents' latest sequence in the store${behind.length ? ` — MISSING ${behind.length}` : ' (nothing lost)'}`);
  } finally {
    await Promise.all(children.map((c) => c.ask('stop', {}, 20_000).catch(() => undefined)));
    if (collector.child?.exitCode === null) await collector.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`collector bench: agents ${COUNTS.join(', ')}, interval ${INTERVAL_MS / 1000} s, steady window ${WINDOW_MS / 1000} s, load ${load()}`);
for (const n of COUNTS) await run(n);
process.exit(0);
