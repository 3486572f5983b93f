// Every Prometheus metric the collector exports, declared once. Labels stay bounded:
// node, check, status, severity, namespace, proxy_mode, cni — never a pod, IP or message.
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { STATUSES } from '../common/findings.js';
import type { NodeReport, NodeSink } from './nodes.js';

export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'netconform_collector_' });
  return registry;
}

export class NodeMetrics implements NodeSink {
  readonly agentConnected: Gauge<'node'>;
  readonly lastReport: Gauge<'node'>;
  readonly checkStatus: Gauge<'node' | 'check' | 'status'>;
  readonly findings: Gauge<'node' | 'check' | 'status' | 'severity'>;
  readonly nodeInfo: Gauge<'node' | 'proxy_mode' | 'cni' | 'agent_version'>;
  readonly reportsReceived: Counter<string>;
  readonly reportsDuplicate: Counter<string>;
  /** Label sets this sink has set per node, so a newer report can remove what vanished. */
  private readonly setByNode = new Map<string, { checks: Set<string>; findings: Map<string, string[]>; info?: string[] }>();

  constructor(registry: Registry) {
    this.agentConnected = new Gauge({ name: 'netconform_agent_connected', help: '1 while the node\'s agent has a stream open to the collector, else 0.', labelNames: ['node'], registers: [registry] });
    this.lastReport = new Gauge({ name: 'netconform_agent_last_report_timestamp_seconds', help: 'Unix time of the last report accepted from the node.', labelNames: ['node'], registers: [registry] });
    this.checkStatus = new Gauge({ name: 'netconform_check_status', help: '1 for the current status of each check on each node, 0 for the other statuses.', labelNames: ['node', 'check', 'status'], registers: [registry] });
    this.findings = new Gauge({ name: 'netconform_findings', help: 'Current findings per node, check, status and severity.', labelNames: ['node', 'check', 'status', 'severity'], registers: [registry] });
    this.nodeInfo = new Gauge({ name: 'netconform_node_info', help: 'Constant 1: the node\'s kube-proxy mode, CNI and agent version.', labelNames: ['node', 'proxy_mode', 'cni', 'agent_version'], registers: [registry] });
    this.reportsReceived = new Counter({ name: 'netconform_collector_reports_received_total', help: 'Reports received from agents (duplicates included).', registers: [registry] });
    this.reportsDuplicate = new Counter({ name: 'netconform_collector_reports_duplicate_total', help: 'Reports ignored because their sequence number was already seen.', registers: [registry] });
  }

  reportAccepted(report: NodeReport): void {
    const node = report.node;
    const prev = this.setByNode.get(node) ?? { checks: new Set<string>(), findings: new Map<string, string[]>() };
    const next = { checks: new Set<string>(), findings: new Map<string, string[]>(), info: prev.info };

    for (const c of report.checks) {
      next.checks.add(c.id);
      for (const s of STATUSES) this.checkStatus.set({ node, check: c.id, status: s }, c.status === s ? 1 : 0);
    }
    for (const id of prev.checks) {
      if (!next.checks.has(id)) for (const s of STATUSES) this.checkStatus.remove({ node, check: id, status: s });
    }

    const counts = new Map<string, number>();
    for (const f of report.findings) {
      const key = `${f.check}\u0000${f.status}\u0000${f.severity}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    // Passing results travel as counts in the summaries only.
    for (const c of report.checks) if (c.passed > 0) counts.set(`${c.id}\u0000pass\u0000info`, c.passed);
    for (const [key, n] of counts) {
      const [check, status, severity] = key.split('\u0000') as [string, string, string];
      this.findings.set({ node, check, status, severity }, n);
      next.findings.set(key, [check, status, severity]);
    }
    for (const [key, [check, status, severity]] of prev.findings) {
      if (!next.findings.has(key)) this.findings.remove({ node, check: check!, status: status!, severity: severity! });
    }

    if (prev.info) this.nodeInfo.remove(...prev.info);
    next.info = [node, report.proxyMode || 'unknown', report.cni || 'unknown', report.agentVersion || 'unknown'];
    this.nodeInfo.set({ node, proxy_mode: next.info[1]!, cni: next.info[2]!, agent_version: next.info[3]! }, 1);

    this.lastReport.set({ node }, (Date.parse(report.receivedAt) || Date.now()) / 1000);
    this.setByNode.set(node, next);
  }

  connectionChanged(node: string, connected: boolean): void {
    this.agentConnected.set({ node }, connected ? 1 : 0);
  }

  nodeRemoved(node: string): void {
    const prev = this.setByNode.get(node);
    this.agentConnected.remove({ node });
    this.lastReport.remove({ node });
    if (prev) {
      for (const id of prev.checks) for (const s of STATUSES) this.checkStatus.remove({ node, check: id, status: s });
      for (const [check, status, severity] of prev.findings.values()) this.findings.remove({ node, check: check!, status: status!, severity: severity! });
      if (prev.info) this.nodeInfo.remove(...prev.info);
    }
    this.setByNode.delete(node);
  }
}
