// The collector's current picture of every node: the latest accepted report per node
// and whether its agent is connected. Inputs (the agent stream, a restored store) write
// here; sinks (metrics, store) are told about every change and know nothing of each other.
import { summarize, type CheckSummary, type Finding, type OmittedFindings } from '../common/findings.js';
import { NO_NAT_OBSERVED } from '../common/probe.js';

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

/**
 * Keeps the nodes' current findings out of the registry's memory: the durable store, which
 * writes every accepted report anyway. With one the registry holds each node's report
 * without its findings (about 15 KB a node at 20 findings with their evidence, a sixth of
 * what a connected agent cost the collector) and reads them back when asked.
 */
export interface FindingKeeper {
  /** The findings of the node's latest accepted report (stored, or queued to be), in report order. */
  currentFindings(node: string): readonly Finding[];
}

/**
 * The report as the registry keeps it when a FindingKeeper has the findings: the same fields,
 * and `findings` read from the keeper on access (the keeper's are the latest accepted report's,
 * which this one is as long as the registry holds it).
 */
function findingsKeptBy(keeper: FindingKeeper, report: NodeReport): NodeReport {
  const { findings: _held, ...rest } = report;
  const node = report.node;
  return Object.defineProperty(rest, 'findings', { get: () => keeper.currentFindings(node), enumerable: true }) as NodeReport;
}

/**
 * What the node's probe pod last saw on the wire: the no-nat.observed part of the node's
 * results. Agent reports and probe reports arrive on separate streams; the registry keeps
 * both and hands the sinks one merged report (the agent's checks without no-nat.observed,
 * plus the probe's), so neither overwrites the other and the sinks need not know probes exist.
 */
export interface ProbeLayer {
  readonly bootId: string;
  readonly sequence: number;
  readonly observedAt: string;
  readonly receivedAt: string;
  /** no-nat.observed over the latest round (passing results are counted here only). */
  readonly summary: CheckSummary;
  /** The round's non-passing results. */
  readonly findings: readonly Finding[];
}

/** The node's results: the agent's report with the probe's no-nat.observed in place of its own. */
export function mergeProbeLayer(node: string, agent: NodeReport | undefined, probe: ProbeLayer | undefined, agentVersion: string): NodeReport | undefined {
  if (!probe) return agent;
  if (!agent) {
    // Only the probe has spoken: a report of one check (no proxy mode or CNI known yet).
    return { node, sequence: 0, bootId: '', scannedAt: probe.observedAt, receivedAt: probe.receivedAt, proxyMode: '', cni: '', agentVersion, checks: [probe.summary], findings: probe.findings };
  }
  return {
    ...agent,
    checks: [...agent.checks.filter((c) => c.id !== NO_NAT_OBSERVED), probe.summary],
    findings: [...agent.findings.filter((f) => f.check !== NO_NAT_OBSERVED), ...probe.findings],
  };
}

/** A probe round's results as the layer the registry keeps. */
export function probeLayer(meta: Pick<ProbeLayer, 'bootId' | 'sequence' | 'observedAt' | 'receivedAt'>, results: readonly Finding[]): ProbeLayer {
  return { ...meta, summary: summarize(NO_NAT_OBSERVED, results), findings: results.filter((f) => f.status !== 'pass') };
}

/** The no-nat.observed part of a stored report, as the probe layer it came from (restore). */
function probeLayerOf(r: NodeReport): ProbeLayer | undefined {
  const summary = r.checks.find((x) => x.id === NO_NAT_OBSERVED);
  if (!summary) return undefined;
  return { bootId: '', sequence: 0, observedAt: r.scannedAt, receivedAt: r.receivedAt, summary, findings: r.findings.filter((f) => f.check === NO_NAT_OBSERVED) };
}

/** Same results as before (a steady mesh): nothing for the sinks to do. */
function sameResults(a: ProbeLayer, b: ProbeLayer): boolean {
  return JSON.stringify([a.summary, a.findings]) === JSON.stringify([b.summary, b.findings]);
}

export class NodeRegistry {
  private readonly nodes = new Map<string, {
    connected: number;
    /** What the sinks have: the agent's report merged with the probe layer. */
    report?: NodeReport;
    /** The agent's own latest report (duplicates are judged against it). */
    agent?: NodeReport;
    probe?: ProbeLayer;
    stale: boolean; agentVersion: string; lastSeenMs: number; stored?: Promise<void>;
  }>();
  private readonly sinks: NodeSink[] = [];

  /** `keeper`: where the findings stay (the store); without one the registry holds them. */
  constructor(private readonly keeper?: FindingKeeper) {}

  /** What the registry holds of a report: without its findings when a keeper has them. */
  private held(report: NodeReport): NodeReport {
    return this.keeper ? findingsKeptBy(this.keeper, report) : report;
  }

  addSink(sink: NodeSink): void {
    this.sinks.push(sink);
  }

  /** Restores reports known from before a restart; they stay stale until the agent reports. */
  restore(reports: readonly NodeReport[]): void {
    for (const r of reports) {
      const probe = probeLayerOf(r);
      const held = this.held(r);
      this.nodes.set(r.node, { connected: 0, report: held, ...(r.sequence > 0 || r.bootId ? { agent: held } : {}), ...(probe ? { probe } : {}), stale: true, agentVersion: r.agentVersion, lastSeenMs: Date.parse(r.receivedAt) || 0 });
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
    const prevAgent = entry.agent;
    if (prevAgent && prevAgent.bootId === report.bootId && report.sequence <= prevAgent.sequence) {
      if (entry.stale) entry.stale = false; // the agent is alive and confirms what we had
      return { verdict: 'duplicate', stored: entry.stored ?? Promise.resolve() };
    }
    const held = this.held(report);
    entry.agent = held;
    entry.stale = false;
    return this.publish(entry, mergeProbeLayer(report.node, report, entry.probe, entry.agentVersion)!, () => {
      if (entry.agent === held) entry.agent = prevAgent;
    });
  }

  /**
   * The node's probe pod reported (collector/agent-service.ts): its no-nat.observed results
   * replace the previous probe's in the node's results; the agent's part stays. Resolves
   * like acceptAndStore. Same boot and an older or equal sequence: a duplicate.
   */
  acceptProbe(node: string, layer: ProbeLayer): Promise<ReportVerdict> {
    const entry = this.entry(node);
    const prevProbe = entry.probe;
    if (prevProbe && prevProbe.bootId === layer.bootId && layer.sequence <= prevProbe.sequence) {
      return (entry.stored ?? Promise.resolve()).then(() => 'duplicate');
    }
    entry.probe = layer;
    // A probe's report makes a node fresh only when no agent report was restored stale for it.
    if (!entry.agent) entry.stale = false;
    if (prevProbe && sameResults(prevProbe, layer) && entry.report) {
      // Most rounds change nothing: no store write, no metrics work, for 5,000 probes each interval.
      entry.lastSeenMs = Date.now();
      return (entry.stored ?? Promise.resolve()).then(() => 'accepted');
    }
    return this.publish(entry, mergeProbeLayer(node, entry.agent, layer, entry.agentVersion)!, () => {
      if (entry.probe === layer) entry.probe = prevProbe;
    }).stored.then(() => 'accepted');
  }

  /** Hands the node's new merged report to every sink; `undo` forgets the input again if storing fails. */
  private publish(entry: NonNullable<ReturnType<NodeRegistry['nodes']['get']>>, report: NodeReport, undo: () => void): { verdict: ReportVerdict; stored: Promise<void> } {
    const prev = entry.report;
    const pending: Promise<void>[] = [];
    for (const s of this.sinks) {
      const p = s.reportAccepted?.(report, prev);
      if (p) pending.push(p);
    }
    const held = this.held(report);
    entry.report = held;
    entry.lastSeenMs = Date.parse(report.receivedAt) || Date.now();
    if (pending.length === 0) {
      entry.stored = undefined;
      return { verdict: 'accepted', stored: Promise.resolve() };
    }
    const stored = Promise.all(pending).then(() => {
      if (entry.stored === stored) entry.stored = undefined;
    }, (err: unknown) => {
      if (entry.report === held) entry.report = prev;
      undo();
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
