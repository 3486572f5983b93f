// pod-netns cost on a real kernel: 110 pods (one network namespace each, kubelet-shaped
// cgroups under a private parent in the v1 pids hierarchy) with 400 processes (a sandbox
// and 2–3 containers per pod, a listener in every tenth pod), then — interleaved, so load
// from the shared machine hits both alike — what a scan pays: reading the `pods` facet from
// /proc, and running the two pod-netns checks against 110 Pod objects. Everything made is
// removed at the end, also on failure or Ctrl-C.
//
//   npx tsx bench/pod-netns.ts [--pods 110] [--processes 400] [--rounds 30]
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { readPodProcesses } from '../agent/inspect/pod-processes.js';
import { scanSnapshot } from '../agent/scan.js';
import { podNetnsSharedCheck } from '../agent/checks/pod-netns/shared.js';
import { podNetnsPortConflictCheck } from '../agent/checks/pod-netns/port-conflict.js';
import { EMPTY_CLUSTER } from '../common/cluster.js';
import { parsePodInfo, type PodInfo } from '../common/node-pods.js';

const { values } = parseArgs({ options: { pods: { type: 'string' }, processes: { type: 'string' }, rounds: { type: 'string' } } });
const PODS = Number(values.pods ?? 110);
const PROCESSES = Number(values.processes ?? 400);
const ROUNDS = Number(values.rounds ?? 30);
const tag = `nctest-${process.pid}-${randomBytes(2).toString('hex')}`;
const netnses: string[] = [];
const cgroups: string[] = [];
const children: ChildProcess[] = [];

function cleanup(): void {
  for (const c of children) c.kill('SIGKILL');
  for (const dir of cgroups.reverse()) {
    for (let i = 0; i < 200; i++) {
      try { rmdirSync(dir); break; } catch (e) { if ((e as NodeJS.ErrnoException).code === 'ENOENT') break; execFileSync('sleep', ['0.02']); }
    }
  }
  for (const ns of netnses) try { execFileSync('ip', ['netns', 'del', ns]); } catch { /* gone */ }
}
process.on('SIGINT', () => { cleanup(); process.exit(130); });

const mk = (dir: string): string => { mkdirSync(dir); cgroups.push(dir); return dir; };
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const p95 = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.95)]!;

try {
  const root = mk(`/sys/fs/cgroup/pids/${tag}`);
  const base = mk(join(root, 'kubepods'));
  const qos = mk(join(base, 'burstable'));
  const pods: PodInfo[] = [];
  const node = 'bench-node';
  let started = 0;
  for (let i = 0; i < PODS; i++) {
    const ns = `${tag}-${i}`;
    execFileSync('ip', ['netns', 'add', ns]);
    netnses.push(ns);
    const uid = randomUUID();
    const podDir = mk(join(qos, `pod${uid}`));
    // Spread the processes: a sandbox plus containers until PROCESSES are placed.
    const containers = Math.round((PROCESSES - started) / (PODS - i)) - 1;
    const ids = Array.from({ length: containers + 1 }, () => randomBytes(32).toString('hex'));
    for (let c = 0; c <= containers; c++) {
      const listen = c === 1 && i % 10 === 0;
      const args = listen ? ['-e', `require('node:net').createServer().listen(${8000 + c})`] : ['3600'];
      const child = spawn('ip', ['netns', 'exec', ns, listen ? process.execPath : 'sleep', ...args], { stdio: 'ignore' });
      children.push(child);
      await new Promise((r) => setTimeout(r, listen ? 150 : 2));
      writeFileSync(join(mk(join(podDir, ids[c]!)), 'cgroup.procs'), `${child.pid}\n`);
      started++;
    }
    const now = new Date(Date.now() - 3600_000).toISOString();
    const p = parsePodInfo({
      kind: 'Pod', metadata: { name: `pod-${i}`, namespace: 'bench', uid },
      spec: { nodeName: node, containers: ids.slice(1).map((_, c) => ({ name: `c${c}`, ports: [{ containerPort: 8000 + c + 1 }] })) },
      status: {
        phase: 'Running', startTime: now,
        containerStatuses: ids.slice(1).map((id, c) => ({ name: `c${c}`, containerID: `containerd://${id}`, started: true, state: { running: { startedAt: now } } })),
      },
    });
    pods.push(p!);
  }
  await new Promise((r) => setTimeout(r, 500));
  const cluster = { ...EMPTY_CLUSTER, nodePods: pods };
  const read: number[] = [], check: number[] = [], cpu: number[] = [], tcpShare: number[] = [];
  let facts = readPodProcesses('/proc');
  for (let r = 0; r < ROUNDS; r++) {
    let t0 = performance.now();
    const c0 = process.cpuUsage();
    facts = readPodProcesses('/proc');
    read.push(performance.now() - t0);
    const c1 = process.cpuUsage(c0);
    cpu.push((c1.user + c1.system) / 1000);
    // The kernel walks its whole TCP established hash for every tcp/tcp6 read: time those alone.
    const t1 = performance.now();
    for (const n of facts.netns) for (const f of ['tcp', 'tcp6']) readFileSync(`/proc/${n.readVia === 0 ? 'self' : n.readVia}/net/${f}`);
    tcpShare.push(performance.now() - t1);
    t0 = performance.now();
    const result = scanSnapshot({ node, capturedAt: new Date().toISOString(), source: 'live', pods: facts }, cluster, { checks: [podNetnsSharedCheck, podNetnsPortConflictCheck] });
    check.push(performance.now() - t0);
    if (r === 0) {
      const byStatus = (id: string) => result.checks.find((c) => c.id === id);
      console.log(`pods in facet: ${new Set(facts.containers.map((c) => c.podUID)).size}, processes: ${facts.containers.reduce((n, c) => n + c.processes.length, 0)}, netns read: ${facts.netns.length}`);
      console.log(`shared: ${JSON.stringify(byStatus('pod-netns.shared'))}`);
      console.log(`port-conflict: ${JSON.stringify(byStatus('pod-netns.port-conflict'))}`);
    }
  }
  const total = read.map((x, i) => x + check[i]!);
  console.log(`read pods facet: median ${median(read).toFixed(1)} ms, p95 ${p95(read).toFixed(1)} ms; CPU (user+sys) median ${median(cpu).toFixed(1)} ms`);
  console.log(`of which reading tcp+tcp6 of ${facts.netns.length} namespaces alone: median ${median(tcpShare).toFixed(1)} ms`);
  console.log(`pod-netns checks: median ${median(check).toFixed(1)} ms, p95 ${p95(check).toFixed(1)} ms`);
  console.log(`added to a scan: median ${median(total).toFixed(1)} ms, p95 ${p95(total).toFixed(1)} ms (${ROUNDS} rounds; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')})`);
} finally {
  cleanup();
}
