// The collector's current picture of every node: the latest accepted report per node
// and whether its agent is connected. Inputs (the agent stream, a restored store) write
// here; sinks (metrics, store) are told about every change and know nothing of each other.
import type { CheckSummary, Finding, OmittedFindings } from '../common/findings.js';

export interface NodeReport {
  readonly node: string;
  readonly sequence: number;
  readonly bootId: string;
  readonly scannedAt: string;
  /** When the collector accepted it (RFC 3339). */
  readonly receivedAt: string;
  readonly proxyMode: string;
  readonly cni: string;
  readonly agentVersion: string;
  readonly checks: readonly CheckSummary[];
  /** Non-passing findings only (at most the agent's bound, the most severe first). */
  readonly findings: readonly Finding[];
  /** What the agent left out of `findings` to bound the report, counted (none when absent). */
  readonly omitted?: readonly OmittedFindings[];
  /**
   * The node's network fingerprint (agent/fingerprint.ts) as the agent sent it: JSON the
   * collector stores and hands to `migrate check --collector` without reading it. '' or
   * absent when the agent sent none (an agent older than fingerprints).
   */
  readonly fingerprintJson?: string;
}

export interface NodeStatus {
  readonly node: string;
  readonly connected: boolean;
  readonly report: NodeReport | undefined;
  /** Restored from the store after a restart and not re-reported since. */
  readonly stale: boolean;
  readonly agentVersion: string;
  /** Last time the node connected, disconnected or reported (ms since epoch). */
  readonly lastSeenMs: number;
}

/** Something that reacts to node changes: metrics, the durable store, later PolicyReports. */
export interface NodeSink {
  /**
   * Called before the report is acknowledged. A durable sink returns a promise that resolves
   * once the report is stored (the Ack waits for it; the store commits a batch per tick).
   */
  reportAccepted?(report: NodeReport, previous: NodeReport | undefined): void | Promise<void>;
  connectionChanged?(node: string, connected: boolean, atMs: number): void;
  nodeRemoved?(node: string): void;
}

export type ReportVerdict = 'accepted' | 'duplicate';

export class NodeRegistry {
  private readonly nodes = new Map<string, { connected: number; report?: NodeReport; stale: boolean; agentVersion: string; lastSeenMs: number; stored?: Promise<void> }>();
  private readonly sinks: NodeSink[] = [];

  addSink(sink: NodeSink): void {
    this.sinks.push(sink);
  }

  /** Restores reports known from before a restart; they stay stale until the agent reports. */
  restore(reports: readonly NodeReport[]): void {
    for (const r of reports) {
      this.nodes.set(r.node, { connected: 0, report: r, stale: true, agentVersion: r.agentVersion, lastSeenMs: Date.parse(r.receivedAt) || 0 });
      for (const s of this.sinks) s.reportAccepted?.(r, undefined);
      for (const s of this.sinks) s.connectionChanged?.(r.node, false, Date.parse(r.receivedAt) || 0);
    }
  }

  connected(node: string, agentVersion: string, atMs = Date.now()): void {
    const entry = this.entry(node);
    entry.connected++;
    entry.agentVersion = agentVersion;
    entry.lastSeenMs = atMs;
    if (entry.connected === 1) for (const s of this.sinks) s.connectionChanged?.(node, true, atMs);
  }

  disconnected(node: string, atMs = Date.now()): void {
    const entry = this.nodes.get(node);
    if (!entry || entry.connected === 0) return;
    entry.connected--;
    entry.lastSeenMs = atMs;
    if (entry.connected === 0) for (const s of this.sinks) s.connectionChanged?.(node, false, atMs);
  }

  /**
   * Latest report wins. The same (bootId, sequence) or an older sequence from the same agent
   * process is a duplicate (a resend after reconnect) and changes nothing.
   */
  acceptReport(report: NodeReport): ReportVerdict {
    return this.accept(report).verdict;
  }

  /**
   * acceptReport, resolving once every durable sink has stored the report — or, for a
   * duplicate, once the report it repeats is stored: only then may the agent get its Ack.
   * If storing fails the registry forgets the report again, so the agent's resend is new.
   */
  acceptAndStore(report: NodeReport): Promise<ReportVerdict> {
    const { verdict, stored } = this.accept(report);
    return stored.then(() => verdict);
  }

  private accept(report: NodeReport): { verdict: ReportVerdict; stored: Promise<void> } {
    const entry = this.entry(report.node);
    const prev = entry.report;
    if (prev && prev.bootId === report.bootId && report.sequence <= prev.sequence) {
      if (entry.stale) entry.stale = false; // the agent is alive and confirms what we had
      return { verdict: 'duplicate', stored: entry.stored ?? Promise.resolve() };
    }
    const pending: Promise<void>[] = [];
    for (const s of this.sinks) {
      const p = s.reportAccepted?.(report, prev);
      if (p) pending.push(p);
    }
    entry.report = report;
    entry.stale = false;
    entry.lastSeenMs = Date.parse(report.receivedAt) || Date.now();
    if (pending.length === 0) {
      entry.stored = undefined;
      return { verdict: 'accepted', stored: Promise.resolve() };
    }
    const stored = Promise.all(pending).then(() => {
      if (entry.stored === stored) entry.stored = undefined;
    }, (err: unknown) => {
      if (entry.report === report) entry.report = prev;
      if (entry.stored === stored) entry.stored = undefined;
      throw err;
    });
    entry.stored = stored;
    return { verdict: 'accepted', stored };
  }

  remove(node: string): void {
    if (!this.nodes.delete(node)) return;
    for (const s of this.sinks) s.nodeRemoved?.(node);
  }

  /** Nodes disconnected for longer than `olderThanMs` are forgotten (their series too). */
  pruneDisconnected(olderThanMs: number, nowMs = Date.now()): string[] {
    const removed: string[] = [];
    for (const [node, e] of this.nodes) {
      if (e.connected === 0 && nowMs - e.lastSeenMs > olderThanMs) {
        removed.push(node);
      }
    }
    for (const n of removed) this.remove(n);
    return removed;
  }

  list(): NodeStatus[] {
    return [...this.nodes.entries()]
      .map(([node, e]) => ({ node, connected: e.connected > 0, report: e.report, stale: e.stale, agentVersion: e.agentVersion, lastSeenMs: e.lastSeenMs }))
      .sort((a, b) => a.node.localeCompare(b.node));
  }

  get(node: string): NodeStatus | undefined {
    const e = this.nodes.get(node);
    return e && { node, connected: e.connected > 0, report: e.report, stale: e.stale, agentVersion: e.agentVersion, lastSeenMs: e.lastSeenMs };
  }

  private entry(node: string) {
    let e = this.nodes.get(node);
    if (!e) this.nodes.set(node, (e = { connected: 0, stale: false, agentVersion: '', lastSeenMs: Date.now() }));
    return e;
  }
}
