// A running probe pod: rounds over its ring peers (directly and through the probe Service),
// each probe time-limited and the whole round rate-limited; the round's no-nat.observed
// findings printed and, with a collector, reported with the cumulative counters; the
// optional connection-disruption mesh alongside. With a NodePort, the round also probes
// through its own node's address at that port (the NodePort path). Peers come from flags or from the API
// (agent/probe/api-peers.ts), and change while it runs.
import { findingToWire } from '../../common/wire.js';
import type { Finding } from '../../common/findings.js';
import type { Logger } from '../../common/log.js';
import { NO_NAT_OBSERVED } from '../../common/probe.js';
import { probeTcp, probeUdp } from './prober.js';
import { selectPeers, type ProbePeer } from './peers.js';
import { judgeProbes, type ExternalTrafficPolicy, type ProbeResult } from './judge.js';
import { ProbeStats, outcomeOf } from './stats.js';
import { ConnectionMesh } from './connections.js';
import type { AddressBook } from './classify.js';
import type { Reporter } from '../reporter.js';

export interface ProbeMeshOptions {
  readonly node: string;
  readonly podIp: string;
  /** This pod's name in the ring (the API's pod name, or node/IP for static peers). */
  readonly name: string;
  readonly k: number;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  /** Probes per second at most (every path together). */
  readonly ratePerSecond: number;
  /** Probes through the Service per round at most (fewer with fewer ring peers, at least 1). */
  readonly serviceProbes: number;
  /** Connection-disruption mode: long-lived connections to this many ring peers (0: off). */
  readonly connections: number;
  readonly heartbeatMs: number;
  readonly breakAfterMs: number;
  readonly log: Logger;
  readonly reporter?: Reporter;
  /** Each round's findings (the command prints them as JSON lines). */
  readonly onRound?: (findings: Finding[]) => void;
}

export interface PeerView {
  readonly peers: readonly ProbePeer[];
  readonly service?: { readonly ip: string; readonly port: number };
  /** The probe Service's NodePort at this probe's own node's address (its hostIP or --node-address). */
  readonly nodePort?: { readonly ip: string; readonly port: number; readonly externalTrafficPolicy: ExternalTrafficPolicy };
  readonly book: AddressBook;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class ProbeMesh {
  private view: PeerView = { peers: [], book: { nodeAddresses: new Map(), gateways: [] } };
  private selected: ProbePeer[] = [];
  private readonly stats = new ProbeStats();
  private connections: ConnectionMesh | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private running: Promise<void> | undefined;

  constructor(private readonly opts: ProbeMeshOptions) {}

  /** The peers, Service and address book changed (flags at start, the API any time). */
  setView(view: PeerView): void {
    this.view = view;
    this.selected = selectPeers({ name: this.opts.name, node: this.opts.node }, view.peers, this.opts.k);
    this.opts.log.info('peers', { peers: this.selected.length, of: view.peers.length, service: view.service ? `${view.service.ip}:${view.service.port}` : '',
      nodePort: view.nodePort ? `${view.nodePort.ip}:${view.nodePort.port} ${view.nodePort.externalTrafficPolicy}` : '' });
    if (this.opts.connections > 0) {
      const targets = this.selected.filter((p) => p.node !== this.opts.node).slice(0, this.opts.connections);
      if (!this.connections) {
        this.connections = new ConnectionMesh(targets, { heartbeatMs: this.opts.heartbeatMs, breakAfterMs: this.opts.breakAfterMs });
        if (!this.stopped) this.connections.start();
      } else {
        this.connections.setPeers(targets);
      }
    }
  }

  /** One round: every selected peer over TCP and UDP, then the Service; judged and counted. */
  async round(): Promise<Finding[]> {
    const { node, podIp, timeoutMs } = this.opts;
    const gapMs = 1000 / this.opts.ratePerSecond;
    const results: ProbeResult[] = [];
    const paced = async (probe: () => Promise<ProbeResult>): Promise<void> => {
      if (this.stopped) return;
      const started = Date.now();
      results.push(await probe());
      const rest = gapMs - (Date.now() - started);
      if (rest > 0) await sleep(rest);
    };
    // One probe at a time: bounded load on every peer, never a burst.
    for (const peer of this.selected) {
      await paced(async () => ({ path: 'pod', proto: 'tcp', peer: peer.name, peerNode: peer.node, answer: await probeTcp(peer.ip, peer.port, timeoutMs) }));
      await paced(async () => ({ path: 'pod', proto: 'udp', peer: peer.name, peerNode: peer.node, answer: await probeUdp(peer.ip, peer.port, timeoutMs) }));
    }
    // As many as there are ring peers, up to serviceProbes: a small mesh does not load one pod.
    const serviceProbes = Math.max(1, Math.min(this.selected.length, this.opts.serviceProbes));
    for (const [path, target] of [['service', this.view.service], ['nodeport', this.view.nodePort]] as const) {
      if (!target) continue;
      for (let i = 0; i < serviceProbes; i++) {
        await paced(async () => ({ path, proto: 'tcp', peer: `${target.ip}:${target.port}`, peerNode: '', answer: await probeTcp(target.ip, target.port, timeoutMs) }));
      }
    }
    const self = { node, podIp };
    // Through the Service (or its NodePort) a probe may land on itself: kube-proxy masquerades
    // that hairpin by design (KUBE-MARK-MASQ for an endpoint's own source), so such answers prove nothing.
    for (let i = results.length - 1; i >= 0; i--) if (results[i]!.path !== 'pod' && results[i]!.answer.by === podIp) results.splice(i, 1);
    this.stats.addRound(results.map((r) => outcomeOf(r, self, this.view.book)));
    const nodePortPolicy = this.view.nodePort?.externalTrafficPolicy;
    const findings = judgeProbes(self, results, this.view.book, nodePortPolicy ? { nodePortPolicy } : {}).map((r) => ({ check: NO_NAT_OBSERVED, ...r }));
    this.report(findings);
    return findings;
  }

  /** Rounds every interval (jittered ±10%) until stop(). */
  start(): void {
    const loop = async (): Promise<void> => {
      if (this.stopped) return;
      if (this.selected.length > 0 || this.view.service || this.view.nodePort) {
        try {
          this.opts.onRound?.(await this.round());
        } catch (err) {
          this.opts.log.error('probe round failed', { err: (err as Error).message });
        }
      } else {
        // Nothing to probe yet: still report (connections, an empty picture) so the collector
        // sees the probe; an empty round, so the last round's peers are not counted again.
        this.stats.addRound([]);
        this.report([]);
      }
      if (!this.stopped) this.timer = setTimeout(() => void (this.running = loop()), Math.round(this.opts.intervalMs * (0.9 + 0.2 * Math.random())));
    };
    this.running = loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.connections?.stop();
    await this.running;
  }

  figures(): ReturnType<ConnectionMesh['figures']> | undefined {
    return this.connections?.figures();
  }

  private report(findings: readonly Finding[]): void {
    if (!this.opts.reporter) return;
    const c = this.connections?.figures();
    this.opts.reporter.submitProbe({
      observedAt: new Date().toISOString(), podIp: this.opts.podIp,
      findings: findings.map(findingToWire), ...this.stats.toWire(),
      ...(c ? { connections: { open: c.open, breaks: String(c.breaks), longestGapSeconds: c.longestGapSeconds } } : {}),
    });
  }
}
