// Every Prometheus metric the collector exports, declared once. Labels stay bounded:
// node, check, status, severity, namespace, proxy_mode, cni — never a pod, IP or message.
//
// Per-node series are few by default (docs/metrics.md): 3 + one per check + one per status,
// 19 with today's 11 checks. A check's status is one series whose value is the status's rank
// (STATUS_RANK: 0 pass, 1 skip, 2 warn, 3 error, 4 fail — max() is the worst), not one
// series per status; findings are counted per node and status. `--metrics-detail` adds the
// check and severity labels to netconform_findings (sums by node and status stay the same).
//
// The per-node families are not prom-client Gauges: a Gauge keeps a label object and a hash
// string per series for ever (some 200 bytes each). They are generated at scrape time from one
// compact record per node (interned check ids, a byte per check status, five counts).
import { Counter, Registry, collectDefaultMetrics } from 'prom-client';
import { STATUSES, STATUS_RANK, type Status } from '../common/findings.js';
import type { NodeReport, NodeSink } from './nodes.js';

export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'netconform_collector_' });
  return registry;
}

export interface NodeMetricsOptions {
  /** Per-check and per-severity netconform_findings (`--metrics-detail`). */
  readonly detail?: boolean;
}

interface NodeState {
  connected: number | undefined;
  lastReportS: number | undefined;
  info: readonly [string, string, string] | undefined;
  checks: readonly string[];
  /** STATUS_RANK of each check in `checks`. */
  codes: Uint8Array;
  /** Results per status (STATUSES order), from the check summaries: exact even when findings were left out. */
  counts: Float64Array;
  /** `--metrics-detail`: check, status, severity → count. */
  detail: Map<string, number> | undefined;
}

type Sample = { labels: Record<string, string>; value: number };

/** A gauge family whose samples are produced from the node records at scrape time. */
class NodeFamily {
  readonly type = 'gauge';
  readonly aggregator = 'sum';
  constructor(readonly name: string, readonly help: string, private readonly samples: () => Sample[], registry: Registry) {
    registry.registerMetric(this as never);
  }
  get(): { name: string; help: string; type: 'gauge'; aggregator: 'sum'; values: Sample[] } {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.samples() };
  }
  reset(): void {}
}

const RANK_STATUS = Object.fromEntries(Object.entries(STATUS_RANK).map(([s, r]) => [r, s])) as Record<number, Status>;

export class NodeMetrics implements NodeSink {
  readonly reportsReceived: Counter<string>;
  readonly reportsDuplicate: Counter<string>;
  readonly detail: boolean;
  private readonly nodes = new Map<string, NodeState>();
  /** Check ids, CNI names and versions repeat on every node: one string each. */
  private readonly interned = new Map<string, string>();

  constructor(registry: Registry, opts: NodeMetricsOptions = {}) {
    this.detail = opts.detail ?? false;
    const each = (f: (node: string, s: NodeState, out: Sample[]) => void) => (): Sample[] => {
      const out: Sample[] = [];
      for (const [node, s] of this.nodes) f(node, s, out);
      return out;
    };
    new NodeFamily('netconform_agent_connected', 'Whether the node\'s agent has a stream open to the collector (1) or not (0).',
      each((node, s, out) => void (s.connected !== undefined && out.push({ labels: { node }, value: s.connected }))), registry);
    new NodeFamily('netconform_agent_last_report_timestamp_seconds', 'Unix time of the last report accepted from the node.',
      each((node, s, out) => void (s.lastReportS !== undefined && out.push({ labels: { node }, value: s.lastReportS }))), registry);
    new NodeFamily('netconform_node_info', 'Constant 1: the node\'s kube-proxy mode, CNI and agent version.',
      each((node, s, out) => void (s.info && out.push({ labels: { node, proxy_mode: s.info[0], cni: s.info[1], agent_version: s.info[2] }, value: 1 }))), registry);
    new NodeFamily('netconform_check_status', 'Current status of each check on each node, as a rank: 0 pass, 1 skip, 2 warn, 3 error, 4 fail (max is the worst).',
      each((node, s, out) => s.checks.forEach((check, i) => out.push({ labels: { node, check }, value: s.codes[i]! }))), registry);
    new NodeFamily('netconform_findings', this.detail
      ? 'Current results per node, check, status and severity (passing results counted from the check summaries).'
      : 'Current results per node and status, from the check summaries (--metrics-detail: per check and severity too).',
    each((node, s, out) => {
      if (s.lastReportS === undefined) return;
      if (!s.detail) {
        // Only the statuses a node has: a status it lacks is no series (0 in sums), not a zero series.
        STATUSES.forEach((status, i) => void (s.counts[i]! > 0 && out.push({ labels: { node, status }, value: s.counts[i]! })));
        return;
      }
      for (const [key, value] of s.detail) {
        const [check, status, severity] = key.split('\u0000') as [string, string, string];
        out.push({ labels: { node, check, status, severity }, value });
      }
    }), registry);
    this.reportsReceived = new Counter({ name: 'netconform_collector_reports_received_total', help: 'Reports received from agents (duplicates included).', registers: [registry] });
    this.reportsDuplicate = new Counter({ name: 'netconform_collector_reports_duplicate_total', help: 'Reports ignored because their sequence number was already seen.', registers: [registry] });
  }

  /** The status a check has in the metrics (tests, and a way to read the gauge's coding). */
  checkStatus(node: string, check: string): Status | undefined {
    const s = this.nodes.get(node);
    const i = s?.checks.indexOf(check) ?? -1;
    return s && i >= 0 ? RANK_STATUS[s.codes[i]!] : undefined;
  }

  reportAccepted(report: NodeReport): void {
    const s = this.state(report.node);
    const checks = report.checks.map((c) => this.intern(c.id));
    const codes = new Uint8Array(checks.length);
    const counts = new Float64Array(STATUSES.length);
    report.checks.forEach((c, i) => {
      codes[i] = STATUS_RANK[c.status];
      counts[0] += c.passed;
      counts[1] += c.failed;
      counts[2] += c.warned;
      counts[3] += c.errored;
      counts[4] += c.skipped;
    });
    s.checks = checks;
    s.codes = codes;
    s.counts = counts;
    if (this.detail) {
      const detail = new Map<string, number>();
      const add = (check: string, status: string, severity: string, n: number): void => {
        const key = this.intern(`${check}\u0000${status}\u0000${severity}`);
        detail.set(key, (detail.get(key) ?? 0) + n);
      };
      for (const f of report.findings) if (f.status !== 'pass') add(f.check, f.status, f.severity, 1);
      for (const o of report.omitted ?? []) add(o.check, o.status, o.severity, o.count);
      // Passing results travel as counts in the summaries only.
      for (const c of report.checks) if (c.passed > 0) add(c.id, 'pass', 'info', c.passed);
      s.detail = detail;
    }
    s.info = [this.intern(report.proxyMode || 'unknown'), this.intern(report.cni || 'unknown'), this.intern(report.agentVersion || 'unknown')];
    s.lastReportS = (Date.parse(report.receivedAt) || Date.now()) / 1000;
  }

  connectionChanged(node: string, connected: boolean): void {
    this.state(node).connected = connected ? 1 : 0;
  }

  nodeRemoved(node: string): void {
    this.nodes.delete(node);
  }

  private state(node: string): NodeState {
    let s = this.nodes.get(node);
    if (!s) {
      s = { connected: undefined, lastReportS: undefined, info: undefined, checks: [], codes: new Uint8Array(0), counts: new Float64Array(STATUSES.length), detail: undefined };
      this.nodes.set(node, s);
    }
    return s;
  }

  private intern(v: string): string {
    const known = this.interned.get(v);
    if (known !== undefined) return known;
    if (this.interned.size < 10_000) this.interned.set(v, v);
    return v;
  }
}
