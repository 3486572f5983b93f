// Child process of bench/collector.ts: runs a share of the simulated agents (and, with
// `probes`, one simulated probe pod per node: the same Reporter with a probe Hello, sending
// a K = 10 ProbeReport with real cumulative counters each interval). Each agent is
// the agent's real Reporter (its real backoff with full jitter) on its own grpc-js channel
// with a local subchannel pool, so every agent holds its own HTTP/2 connection to the
// collector, and submits a report of realistic shape every interval (jittered like
// agent/run.ts, started at a random phase). Talks to the parent over IPC only:
//   parent → child  { cmd: 'start', address, nodes, intervalMs, probes? } | { cmd: 'reset' } | { cmd: 'stats' }
//                   | { cmd: 'mark' } | { cmd: 'pause' } | { cmd: 'latest' } | { cmd: 'stop' }
//   child → parent  one answer per command, { cmd, ... }
import { CHECKS } from '../agent/checks/registry.js';
import { Reporter } from '../agent/reporter.js';
import { jittered } from '../agent/run.js';
import { createLogger } from '../common/log.js';
import type { CheckSummary, Finding } from '../common/findings.js';
import { findingToWire } from '../common/wire.js';
import { NO_NAT_OBSERVED } from '../common/probe.js';
import { ProbeStats, type ProbeOutcome } from '../agent/probe/stats.js';

interface Sim {
  readonly node: string;
  readonly reporter: Reporter;
  /** Submit time (ms) per sequence not yet acknowledged. */
  readonly sent: Map<number, number>;
  submitted: number;
  acked: number;
  /** First ack after the last `mark` (restart), ms since epoch. */
  backAt: number | undefined;
  timer: NodeJS.Timeout | undefined;
}

const sims: Sim[] = [];
/** Simulated probe pods: their reporters and how many of their reports were acknowledged. */
const probeSims: { reporter: Reporter; timer: NodeJS.Timeout | undefined; acked: number }[] = [];
let probeReportsAcked = 0;
let latencies: number[] = [];
let reportsAcked = 0;
let paused = false;
const log = createLogger({ component: 'bench-agent' }, 'silent');

/** 11 check summaries and 20 non-passing findings, shaped like a node with a few broken Services. */
export function realisticReport(node: string, seq: number): { checks: CheckSummary[]; findings: Finding[]; scannedAt: string; proxyMode: string; cni: string } {
  const findings: Finding[] = [];
  for (let i = 0; i < 14; i++) {
    const svc = `shop-${(i * 7 + seq) % 40}`;
    findings.push({
      check: 'service-routing.clusterip', status: 'fail', severity: 'high', subject: `shop/${svc}:80/TCP`,
      message: `ClusterIP 10.96.${i}.${(seq % 200) + 1}:80/TCP reaches 2 of 3 ready endpoints: 10.244.${i}.17:8080 has no DNAT rule`,
      evidence: { expected: [`10.244.${i}.15:8080`, `10.244.${i}.16:8080`, `10.244.${i}.17:8080`], seen: [`10.244.${i}.15:8080`, `10.244.${i}.16:8080`],
        chain: `KUBE-SVC-${svc.toUpperCase()}XYZ`, rule: `-A KUBE-SVC-ABCDEF -m statistic --mode random --probability 0.5 -j KUBE-SEP-${i}` },
    });
  }
  for (let i = 0; i < 3; i++) {
    findings.push({ check: 'service-routing.nodeport', status: 'warn', severity: 'medium', subject: `shop/np-${i}:443/TCP`,
      message: `NodePort 3${2000 + i}/TCP is served by a rule that matches only the node's internal IP`, evidence: { nodePort: 32000 + i, addresses: ['192.168.50.2'] } });
  }
  findings.push({ check: 'pod-network.sysctl', status: 'fail', severity: 'critical', subject: 'net.ipv4.ip_forward', message: 'net.ipv4.ip_forward is 0: the node does not forward pod traffic', evidence: { key: 'net.ipv4.ip_forward', value: '0', want: '1' } });
  findings.push({ check: 'no-nat.pod-to-pod', status: 'fail', severity: 'critical', subject: node, message: 'POSTROUTING masquerades traffic from 10.244.0.0/16 to pods', evidence: { rule: '-A POSTROUTING -s 10.244.0.0/16 -j MASQUERADE', table: 'nat' } });
  findings.push({ check: 'cni.config', status: 'warn', severity: 'low', subject: '/etc/cni/net.d/10-bridge.conflist', message: 'CNI config 10-bridge.conflist shadows 20-flannel.conflist', evidence: { files: ['10-bridge.conflist', '20-flannel.conflist'] } });
  const by = new Map<string, Finding[]>();
  for (const f of findings) by.set(f.check, [...(by.get(f.check) ?? []), f]);
  const checks: CheckSummary[] = CHECKS.map((c) => {
    const fs = by.get(c.id) ?? [];
    const failed = fs.filter((f) => f.status === 'fail').length;
    const warned = fs.filter((f) => f.status === 'warn').length;
    return { id: c.id, status: failed ? 'fail' : warned ? 'warn' : 'pass', passed: c.id.startsWith('service-routing.') ? 480 : 3, failed, warned, skipped: 0, errored: 0 };
  });
  return { checks, findings, scannedAt: new Date().toISOString(), proxyMode: 'iptables', cni: 'bridge' };
}

/** One probe round at K = 10 (20 pod probes, 3 through the Service), all answered with the true source. */
function probeRound(stats: ProbeStats, node: string): Parameters<Reporter['submitProbe']>[0] {
  const outcomes: ProbeOutcome[] = [];
  for (let i = 0; i < 10; i++) for (let j = 0; j < 2; j++) outcomes.push({ path: 'pod', result: 'ok', peerNode: `peer-${i}`, rttSeconds: 0.0002 + Math.random() * 0.002 });
  for (let j = 0; j < 3; j++) outcomes.push({ path: 'service', result: 'ok', peerNode: '', rttSeconds: 0.0003 + Math.random() * 0.002 });
  stats.addRound(outcomes);
  const findings: Finding[] = [...Array.from({ length: 10 }, (_, i) => `peer-${i}`), 'service'].map((subject) => ({
    check: NO_NAT_OBSERVED, status: 'pass', severity: 'info', subject, message: `2 probes to pods on ${subject} arrived from this pod's 10.244.0.10`, evidence: { answered: 2, sent: 2 },
  }));
  return { observedAt: new Date().toISOString(), podIp: `10.244.${node.length}.10`, findings: findings.map(findingToWire), ...stats.toWire() };
}

function startProbe(address: string, node: string, intervalMs: number): void {
  const sim = { reporter: undefined as unknown as Reporter, timer: undefined as NodeJS.Timeout | undefined, acked: 0 };
  sim.reporter = new Reporter(address, node, 'bench', log, {
    onAck() {
      sim.acked++;
      probeReportsAcked++;
    },
  }, undefined, { transport: { insecure: true }, probe: { podIp: '10.244.0.10' } }, { 'grpc.use_local_subchannel_pool': 1 });
  probeSims.push(sim);
  sim.reporter.start();
  const stats = new ProbeStats();
  const loop = (): void => {
    if (!paused) sim.reporter.submitProbe(probeRound(stats, node));
    sim.timer = setTimeout(loop, jittered(intervalMs));
  };
  sim.timer = setTimeout(loop, Math.round(Math.random() * Math.min(intervalMs, 10_000)));
}

function submit(s: Sim): void {
  if (paused) return;
  const seq = s.reporter.submit(realisticReport(s.node, s.submitted + 1));
  s.submitted = seq;
  s.sent.set(seq, Date.now());
}

function start(address: string, nodes: readonly string[], intervalMs: number): void {
  for (const node of nodes) {
    const sim: Sim = { node, sent: new Map(), submitted: 0, acked: 0, backAt: undefined, timer: undefined, reporter: undefined as unknown as Reporter };
    (sim as { reporter: Reporter }).reporter = new Reporter(address, node, 'bench', log, {
      onAck(sequence) {
        const at = Date.now();
        const t0 = sim.sent.get(sequence);
        if (t0 !== undefined) {
          latencies.push(at - t0);
          // Older sequences will never be acked on their own (the reporter sends only the latest).
          for (const k of sim.sent.keys()) if (k <= sequence) sim.sent.delete(k);
        }
        if (sequence > sim.acked) sim.acked = sequence;
        if (sim.backAt === undefined) sim.backAt = at;
        reportsAcked++;
      },
    }, undefined, undefined, { 'grpc.use_local_subchannel_pool': 1 });
    sims.push(sim);
    sim.reporter.start();
    // First report at a random phase of the interval (a fleet that did not start in lockstep), then jittered.
    const loop = (): void => {
      submit(sim);
      sim.timer = setTimeout(loop, jittered(intervalMs));
    };
    sim.timer = setTimeout(loop, Math.round(Math.random() * Math.min(intervalMs, 10_000)));
  }
}

process.on('message', (m: { cmd: string; address?: string; nodes?: string[]; intervalMs?: number; probes?: boolean }) => {
  const reply = (x: Record<string, unknown>): void => void process.send!({ cmd: m.cmd, ...x });
  switch (m.cmd) {
    case 'start':
      start(m.address!, m.nodes!, m.intervalMs!);
      if (m.probes) for (const node of m.nodes!) startProbe(m.address!, node, m.intervalMs!);
      reply({ agents: sims.length, probes: probeSims.length });
      break;
    case 'reset':
      latencies = [];
      reportsAcked = 0;
      probeReportsAcked = 0;
      reply({});
      break;
    case 'stats':
      reply({ latencies, reportsAcked, withAck: sims.filter((s) => s.acked > 0).length, probeReportsAcked, probesWithAck: probeSims.filter((p) => p.acked > 0).length });
      break;
    case 'mark':
      for (const s of sims) s.backAt = undefined;
      reply({ at: Date.now() });
      break;
    case 'back':
      reply({ back: sims.map((s) => s.backAt ?? null) });
      break;
    case 'pause':
      paused = true;
      reply({});
      break;
    case 'latest':
      reply({ latest: sims.map((s) => ({ node: s.node, bootId: s.reporter.bootId, submitted: s.submitted, acked: s.acked })) });
      break;
    case 'stop':
      for (const s of [...sims, ...probeSims]) if (s.timer) clearTimeout(s.timer);
      void Promise.all([...sims, ...probeSims].map((s) => s.reporter.stop())).then(() => {
        reply({});
        process.exit(0);
      });
      break;
  }
});
process.send!({ cmd: 'ready' });
