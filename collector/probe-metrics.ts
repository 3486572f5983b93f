// The probe mesh's metrics at the collector. Probes send cumulative counters per boot
// (ProbeReport); the collector adds only the difference to what the same probe boot sent
// before, so a resent or repeated report adds nothing and a restarted probe (new boot id)
// starts from zero again. Labels are bounded by the lists in common/probe.ts (a value
// outside them is dropped and counted), and by node for the per-node families.
// The families are produced at scrape time from plain maps (like collector/metrics.ts).
import { Counter, type Registry } from 'prom-client';
import {
  CNI_PAIR_RESULTS, PROBE_METRICS, PROBE_RTT_BUCKETS, isMismatchKind, isProbePath, isProbeResult, type CniPairResult,
} from '../common/probe.js';
import type { ProbeReport__Output } from '../gen/proto/netconform/v1/ProbeReport.js';
import type { NodeSink } from './nodes.js';

type Sample = { labels: Record<string, string | number>; value: number; metricName?: string };
type Hist = { buckets: number[]; sum: number; count: number };

class ScrapedFamily {
  readonly aggregator = 'sum';
  constructor(readonly name: string, readonly help: string, readonly type: 'counter' | 'gauge' | 'histogram', private readonly samples: () => Sample[], registry: Registry) {
    registry.registerMetric(this as never);
  }
  get(): { name: string; help: string; type: string; aggregator: 'sum'; values: Sample[] } {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.samples() };
  }
  reset(): void {}
}

/** What one probe boot sent last: the base the next report's differences are taken from. */
interface ProbeBase {
  bootId: string;
  sequence: number;
  attempts: Map<string, number>;
  mismatches: Map<string, number>;
  rtt: Map<string, Hist>;
  breaks: number;
}

const num = (v: string | number): number => Number(v) || 0;
const split2 = (k: string): [string, string] => k.split('\u0000') as [string, string];

export class ProbeMetrics implements NodeSink {
  private readonly attempts = new Map<string, number>();
  private readonly mismatches = new Map<string, number>();
  private readonly rtt = new Map<string, Hist>();
  private readonly breaks = new Map<string, number>();
  private readonly longestGap = new Map<string, number>();
  private readonly cniPairs = new Map<string, number>();
  private readonly bases = new Map<string, ProbeBase>();
  readonly dropped: Counter<string>;

  /** `cniOf(node)`: the node's CNI as its agent reported it ("" or undefined: unknown). */
  constructor(registry: Registry, private readonly cniOf: (node: string) => string | undefined) {
    new ScrapedFamily(PROBE_METRICS.attempts, 'Probes sent by probe pods, by path (pod, node-local, service, nodeport) and result (ok, mismatch, timeout, error).', 'counter',
      () => [...this.attempts].map(([k, value]) => ({ labels: { path: split2(k)[0], result: split2(k)[1] }, value })), registry);
    new ScrapedFamily(PROBE_METRICS.mismatches, 'Probes whose receiver saw another source than the sender\'s pod IP, by path and what the source was (sender-node, gateway, other-node, unknown).', 'counter',
      () => [...this.mismatches].map(([k, value]) => ({ labels: { path: split2(k)[0], kind: split2(k)[1] }, value })), registry);
    new ScrapedFamily(PROBE_METRICS.rtt, 'Round-trip time of probes (connect or datagram to answer), by path and result.', 'histogram', () => {
      const out: Sample[] = [];
      for (const [k, h] of this.rtt) {
        const [path, result] = split2(k);
        PROBE_RTT_BUCKETS.forEach((le, i) => out.push({ metricName: `${PROBE_METRICS.rtt}_bucket`, labels: { path, result, le }, value: h.buckets[i]! }));
        out.push({ metricName: `${PROBE_METRICS.rtt}_bucket`, labels: { path, result, le: '+Inf' }, value: h.count });
        out.push({ metricName: `${PROBE_METRICS.rtt}_sum`, labels: { path, result }, value: h.sum });
        out.push({ metricName: `${PROBE_METRICS.rtt}_count`, labels: { path, result }, value: h.count });
      }
      return out;
    }, registry);
    new ScrapedFamily(PROBE_METRICS.breaks, 'Long-lived probe connections (connection-disruption mode) broken, by source node.', 'counter',
      () => [...this.breaks].map(([node, value]) => ({ labels: { node }, value })), registry);
    new ScrapedFamily(PROBE_METRICS.longestGap, 'The longest heartbeat gap of the node\'s probe connections since its probe started, in seconds.', 'gauge',
      () => [...this.longestGap].map(([node, value]) => ({ labels: { node }, value })), registry);
    new ScrapedFamily(PROBE_METRICS.cniPairs, 'Probes to peers on other nodes by the source and destination node\'s CNI (as their agents reported it; unknown when not known) and result — the CNI-migration view.', 'counter',
      () => [...this.cniPairs].map(([k, value]) => {
        const [src, dst, result] = k.split('\u0000') as [string, string, string];
        return { labels: { src_cni: src, dst_cni: dst, result }, value };
      }), registry);
    this.dropped = new Counter({
      name: 'netconform_collector_probe_values_dropped_total',
      help: 'Probe report entries ignored: a path, result or kind outside the known lists, or an RTT histogram with other buckets.',
      registers: [registry],
    });
  }

  /** Adds what this report has beyond the previous report of the same probe boot. */
  observe(node: string, r: ProbeReport__Output): void {
    const sequence = num(r.sequence);
    let base = this.bases.get(node);
    if (base && base.bootId === r.bootId && sequence <= base.sequence) return; // seen already
    if (!base || base.bootId !== r.bootId) {
      base = { bootId: r.bootId, sequence: 0, attempts: new Map(), mismatches: new Map(), rtt: new Map(), breaks: 0 };
      this.bases.set(node, base);
    }
    base.sequence = sequence;
    const addCounts = (entries: typeof r.attempts, valid: (path: string, key: string) => boolean, prev: Map<string, number>, total: Map<string, number>): void => {
      for (const e of entries) {
        if (!valid(e.path, e.key)) {
          this.dropped.inc();
          continue;
        }
        const k = `${e.path}\u0000${e.key}`;
        const now = num(e.count);
        const before = prev.get(k) ?? 0;
        // A counter that went down within one boot was reset: count it from zero.
        const delta = now >= before ? now - before : now;
        prev.set(k, now);
        if (delta > 0 || !total.has(k)) total.set(k, (total.get(k) ?? 0) + delta);
      }
    };
    addCounts(r.attempts, (p, k) => isProbePath(p) && isProbeResult(k), base.attempts, this.attempts);
    addCounts(r.mismatches, (p, k) => isProbePath(p) && isMismatchKind(k), base.mismatches, this.mismatches);
    for (const h of r.rtt) {
      if (!isProbePath(h.path) || !isProbeResult(h.result) || h.buckets.length !== PROBE_RTT_BUCKETS.length) {
        this.dropped.inc();
        continue;
      }
      const k = `${h.path}\u0000${h.result}`;
      const now: Hist = { buckets: h.buckets.map(num), sum: h.sumSeconds, count: num(h.count) };
      const before = base.rtt.get(k);
      const reset = !before || now.count < before.count;
      let total = this.rtt.get(k);
      if (!total) this.rtt.set(k, (total = { buckets: PROBE_RTT_BUCKETS.map(() => 0), sum: 0, count: 0 }));
      now.buckets.forEach((b, i) => void (total.buckets[i]! += reset ? b : Math.max(0, b - before.buckets[i]!)));
      total.sum += reset ? now.sum : Math.max(0, now.sum - before.sum);
      total.count += reset ? now.count : now.count - before.count;
      base.rtt.set(k, now);
    }
    for (const p of r.peers) {
      if (!p.node || p.path === 'service' || !isProbePath(p.path)) continue;
      const src = this.cniOf(node) || 'unknown', dst = this.cniOf(p.node) || 'unknown';
      const add = (result: CniPairResult, n: number): void => {
        const k = `${src}\u0000${dst}\u0000${result}`;
        this.cniPairs.set(k, (this.cniPairs.get(k) ?? 0) + n);
      };
      add(CNI_PAIR_RESULTS[0], p.ok);
      add(CNI_PAIR_RESULTS[1], p.mismatched);
      add(CNI_PAIR_RESULTS[2], p.failed);
    }
    if (r.connections) {
      const now = num(r.connections.breaks);
      const delta = now >= base.breaks ? now - base.breaks : now;
      base.breaks = now;
      this.breaks.set(node, (this.breaks.get(node) ?? 0) + delta);
      this.longestGap.set(node, r.connections.longestGapSeconds);
    }
  }

  nodeRemoved(node: string): void {
    this.bases.delete(node);
    this.breaks.delete(node);
    this.longestGap.delete(node);
  }
}
