// The run loop's scans when little or nothing changed (issue #23 §1). Dumping and tracing
// 10,000 Services' rules every interval cost a quarter of a core for verdicts that had not
// changed. Three things make a scan pay only for change:
//   - The rules are dumped again only when the nf_tables generation moved since the last
//     dump (every nf_tables commit bumps it: nft, kube-proxy's nftables mode, iptables-nft).
//     Otherwise the previous dump — and the rule model parsed from it — is used again.
//   - A dump that printed exactly what the previous one printed (a commit that changed
//     nothing, a re-verification) is the previous dump: its model and verdicts hold.
//   - A check that needs the dataplane (the expensive ones: they trace every Service) keeps
//     its previous verdicts when nothing it reads changed: the same dump, the same cluster
//     context, the same links, routes, CNI config and eBPF maps, kube-proxy with no changes
//     pending, and none of its verdicts a "converging" one (that turns into a fail with time
//     alone). Every other check, and the report, runs every interval as before.
//   - When the rules did change, the Service traces that read none of what changed are
//     carried to the new dump (dataplane/trace-memo.ts): one endpoint change re-traces one
//     Service, not all of them. The verdicts are judged again from those traces.
// What the generation cannot see — iptables-legacy, ipset, IPVS, a kernel without nf_tables —
// is caught by a fresh dump at least every `reverifyMs`. The first scan and a scan the
// collector asks for run every check whatever changed.
// The kube-proxy migration facts (conntrack twice, /proc/net/tcp, kube-proxy's /configz) feed
// only the fingerprint, no check, and reading them cost more than the rest of an idle scan:
// they are read on the first scan, on a scan the collector asks for, and at least every
// `proxyFactsMs`; in between every report carries the facts read last.
import type { ClusterContext } from '../common/cluster.js';
import { parseDuration } from '../common/duration.js';
import type { Finding } from '../common/findings.js';
import type { CheckDefinition } from './checks/types.js';
import { CHECKS } from './checks/registry.js';
import { isConvergingResult } from './dataplane/convergence.js';
import { dataplaneOf, type Dataplane } from './dataplane/load.js';
import { carryTraceMemo, keepTraces, type CarryResult } from './dataplane/trace-memo.js';
import { InputError } from '../common/errors.js';
import { isAvailable, rememberKubeProxyAnswer } from './inspect/kube-proxy.js';
import { sameDataplaneText } from './inspect/dataplane.js';
import { scanSnapshot, type ScanResult } from './scan.js';
import { PROXY_FACT_FACETS, type NodeSnapshot } from './snapshot.js';

export const DEFAULT_REVERIFY = '10m';
/** Default for --proxy-facts-interval: how often the run loop reads the kube-proxy migration facts. */
export const DEFAULT_PROXY_FACTS_INTERVAL = '10m';

/** Why the rules were or were not dumped again. */
export type DumpReason = 'first scan' | 'full scan asked for' | 're-verification due' | 'no nf_tables generation' | 'previous dump incomplete' | 'nf_tables generation changed' | 'nf_tables generation unchanged';

/** What the previous scan leaves for the next one. */
export interface SteadyState {
  readonly snapshot: NodeSnapshot;
  readonly cluster: ClusterContext | undefined;
  /** Each check's results, as the scan produced or reused them. */
  readonly byCheck: ReadonlyMap<string, readonly Finding[]>;
  /** Key of the non-rule facts the dataplane checks read (see dataplaneInputs). */
  readonly inputs: string;
  /** When the last dump that was not skipped started (epoch ms). */
  readonly dumpedAtMs: number;
  /** When the scan that last read the kube-proxy migration facts started (epoch ms). */
  readonly proxyFactsReadAtMs: number;
}

/** Why the kube-proxy migration facts were or were not read again. */
export type ProxyFactsReason = 'first scan' | 'full scan asked for' | 'period due' | 'previous read missing' | 'not due';

/**
 * Pure: whether this scan reads the kube-proxy migration facts (PROXY_FACT_FACETS). Nothing
 * the checks judge depends on them; the fingerprint carries the last read in between.
 */
export function decideProxyFacts(last: SteadyState | undefined, nowMs: number, proxyFactsMs: number, forced: boolean): { readonly read: boolean; readonly reason: ProxyFactsReason } {
  if (!last) return { read: true, reason: 'first scan' };
  if (forced) return { read: true, reason: 'full scan asked for' };
  if (proxyFactsMs <= 0 || nowMs - last.proxyFactsReadAtMs >= proxyFactsMs) return { read: true, reason: 'period due' };
  if (last.snapshot.proxyFactsNotRead) return { read: true, reason: 'previous read missing' };
  return { read: false, reason: 'not due' };
}

export type DumpDecision =
  /** `rejudge`: every check runs, whatever changed (the first scan, and when asked). */
  | { readonly dump: true; readonly rejudge: boolean; readonly reason: DumpReason }
  | { readonly dump: false; readonly unlessGeneration: number; readonly reason: DumpReason };

/**
 * Pure: whether this scan must dump the rules, or may ask the inspection to skip the dump
 * when the nf_tables generation is still the previous dump's.
 */
export function decideDump(last: SteadyState | undefined, nowMs: number, reverifyMs: number, forced: boolean): DumpDecision {
  if (!last) return { dump: true, rejudge: true, reason: 'first scan' };
  if (forced) return { dump: true, rejudge: true, reason: 'full scan asked for' };
  if (reverifyMs <= 0 || nowMs - last.dumpedAtMs >= reverifyMs) return { dump: true, rejudge: false, reason: 're-verification due' };
  const generation = last.snapshot.nftGeneration;
  if (generation === undefined) return { dump: true, rejudge: false, reason: 'no nf_tables generation' };
  if ((last.snapshot.dataplane?.failed?.length ?? 0) > 0) return { dump: true, rejudge: false, reason: 'previous dump incomplete' };
  return { dump: false, unlessGeneration: generation, reason: 'nf_tables generation unchanged' };
}

/**
 * The same cluster context: the API watch hands out one object until something changes (the
 * agent adds this node's Pods, rebuilt on each call, so those are compared by value).
 */
export function sameContext(a: ClusterContext | undefined, b: ClusterContext | undefined): boolean {
  if (a === b) return true;
  if (!a || !b) return false;
  return a.services === b.services && a.nodes === b.nodes && a.serviceCIDRs === b.serviceCIDRs && a.clusterCIDR === b.clusterCIDR
    && a.namespaces === b.namespaces && a.workloads === b.workloads
    && (a.nodePods === b.nodePods || JSON.stringify(a.nodePods) === JSON.stringify(b.nodePods));
}

/**
 * What the dataplane checks read besides the rules and the context: the node's addresses and
 * bridges (links), routes (no-nat), the CNI config and pinned eBPF maps (eBPF dataplanes).
 */
export function dataplaneInputs(s: NodeSnapshot): string {
  return JSON.stringify([s.node, s.links ?? null, s.routes ?? null, s.cni ?? null, s.bpf ?? null]);
}

/** kube-proxy reports changes it has not programmed yet: a fail may become "converging". */
function kubeProxyPending(s: NodeSnapshot): boolean {
  const m = s.kubeProxy?.metrics;
  return m !== undefined && isAvailable(m) && ((m.endpointChangesPending ?? 0) + (m.serviceChangesPending ?? 0)) > 0;
}

/** Pure: the checks whose previous results still hold for this snapshot and context. */
export function reusableChecks(checks: readonly CheckDefinition[], last: SteadyState | undefined, snapshot: NodeSnapshot, cluster: ClusterContext | undefined, inputs: string): Map<string, readonly Finding[]> {
  const out = new Map<string, readonly Finding[]>();
  if (!last || snapshot.dataplane === undefined || snapshot.dataplane !== last.snapshot.dataplane) return out;
  if (!sameContext(cluster, last.cluster) || inputs !== last.inputs || kubeProxyPending(snapshot)) return out;
  for (const c of checks) {
    if (!c.needs.includes('dataplane')) continue;
    const prev = last.byCheck.get(c.id);
    if (prev && !prev.some(isConvergingResult)) out.set(c.id, prev);
  }
  return out;
}

export interface SteadyScan {
  readonly result: ScanResult;
  readonly dumped: boolean;
  /** The dump printed exactly what the previous one did (so it counts as unchanged). */
  readonly sameText: boolean;
  readonly dumpReason: DumpReason;
  /** Checks whose verdicts were carried over without running. */
  readonly reused: readonly string[];
  /** The kube-proxy migration facts were read by this scan (else: carried over). */
  readonly proxyFactsRead: boolean;
  readonly proxyFactsReason: ProxyFactsReason;
  /** New rules: how many Service traces of the previous rules still held (the rest are traced again). */
  readonly carried?: CarryResult;
}

export interface SteadyScannerOptions {
  /** A fresh dump at least this often (0: every scan dumps). */
  readonly reverifyMs: number;
  /**
   * Reads the node; with a generation, leaves the rules out while it is still that one; with
   * `proxyFacts` false, leaves out the kube-proxy migration facets (and says so: proxyFactsNotRead).
   */
  readonly inspect: (dataplaneUnlessGeneration: number | undefined, proxyFacts: boolean) => Promise<NodeSnapshot>;
  /** The kube-proxy migration facts are read at least this often (0: every scan; default 10 min). */
  readonly proxyFactsMs?: number;
  readonly checks?: readonly CheckDefinition[];
  readonly now?: () => number;
}

/** Scans that pay only for change; one per run loop (it remembers the previous scan). */
export class SteadyScanner {
  private last: SteadyState | undefined;
  /** When kube-proxy's metrics last answered (see rememberKubeProxyAnswer). */
  private kubeProxyAnsweredAt: string | undefined;

  constructor(private readonly opts: SteadyScannerOptions) {}

  /** `forced`: dump and run every check whatever changed (the collector asked for a scan). */
  async scan(cluster: ClusterContext | undefined, forced = false): Promise<SteadyScan> {
    const startedMs = (this.opts.now ?? Date.now)();
    const checks = this.opts.checks ?? CHECKS;
    const decision = decideDump(this.last, startedMs, this.opts.reverifyMs, forced);
    const proxy = decideProxyFacts(this.last, startedMs, this.opts.proxyFactsMs ?? parseDuration(DEFAULT_PROXY_FACTS_INTERVAL, '--proxy-facts-interval'), forced);
    let snapshot = await this.opts.inspect(decision.dump ? undefined : decision.unlessGeneration, proxy.read);
    const remembered = rememberKubeProxyAnswer(snapshot.kubeProxy, this.kubeProxyAnsweredAt);
    this.kubeProxyAnsweredAt = remembered.lastAnsweredAt;
    if (remembered.facts !== snapshot.kubeProxy) snapshot = { ...snapshot, kubeProxy: remembered.facts };
    const proxyFactsRead = !snapshot.proxyFactsNotRead;
    if (snapshot.proxyFactsNotRead && this.last && !this.last.snapshot.proxyFactsNotRead) snapshot = withProxyFactsOf(snapshot, this.last.snapshot);
    const dumped = !snapshot.dataplaneUnchanged;
    const previous = this.last?.snapshot.dataplane;
    let sameText = false;
    if (snapshot.dataplaneUnchanged) {
      const { dataplaneUnchanged: _, ...rest } = snapshot;
      snapshot = previous ? { ...rest, dataplane: previous } : rest;
    } else if (previous && snapshot.dataplane && sameDataplaneText(snapshot.dataplane, previous)) {
      // Nothing to parse or trace again: the same text gives the same model.
      snapshot = { ...snapshot, dataplane: previous };
      sameText = true;
    }
    const reason: DumpReason = decision.dump ? decision.reason : dumped ? 'nf_tables generation changed' : decision.reason;
    const rejudge = decision.dump && decision.rejudge;
    // New rules: the Service traces that read nothing that changed are carried to them (not
    // into a scan the collector asked for: that one traces everything from scratch).
    const carried = !rejudge && previous && snapshot.dataplane && snapshot.dataplane !== previous ? carryTraces(this.last!.snapshot, snapshot) : undefined;
    if (!carried) keepTracesOf(snapshot);
    const inputs = dataplaneInputs(snapshot);
    const reuse = rejudge ? new Map<string, readonly Finding[]>() : reusableChecks(checks, this.last, snapshot, cluster, inputs);
    const result = scanSnapshot(snapshot, cluster, { checks, reuse });
    const byCheck = new Map<string, Finding[]>();
    for (const f of result.findings) {
      let list = byCheck.get(f.check);
      if (!list) byCheck.set(f.check, (list = []));
      list.push(f);
    }
    for (const c of checks) if (!byCheck.has(c.id)) byCheck.set(c.id, []);
    this.last = {
      snapshot, cluster, byCheck, inputs,
      dumpedAtMs: dumped || !this.last ? startedMs : this.last.dumpedAtMs,
      proxyFactsReadAtMs: proxyFactsRead || !this.last ? startedMs : this.last.proxyFactsReadAtMs,
    };
    return { result, dumped, sameText, dumpReason: reason, reused: [...reuse.keys()], proxyFactsRead, proxyFactsReason: proxy.reason, ...(carried ? { carried } : {}) };
  }
}

/**
 * The previous rules' Service traces carried to the new rules (trace-memo.ts). Rules that do
 * not load (a tool timed out, a parse error) carry nothing: the checks report those.
 */
function carryTraces(from: NodeSnapshot, to: NodeSnapshot): CarryResult | undefined {
  const a = loadedDataplane(from);
  const b = loadedDataplane(to);
  return a && b ? carryTraceMemo(a, b) : undefined;
}

/** From now on the Service traces of this snapshot's rules are kept for the next dump. */
function keepTracesOf(snapshot: NodeSnapshot): void {
  const dp = loadedDataplane(snapshot);
  if (dp) keepTraces(dp);
}

/** The snapshot's rule model, or undefined when its rules did not load (the checks report why). */
function loadedDataplane(snapshot: NodeSnapshot): Dataplane | undefined {
  try {
    return dataplaneOf(snapshot);
  } catch (err) {
    if (err instanceof InputError) return undefined;
    throw err;
  }
}

/** `snapshot` without its own migration facets, given `from`'s (the last read). */
function withProxyFactsOf(snapshot: NodeSnapshot, from: NodeSnapshot): NodeSnapshot {
  const { proxyFactsNotRead: _, ...rest } = snapshot;
  return { ...rest, ...Object.fromEntries(PROXY_FACT_FACETS.filter((f) => from[f] !== undefined).map((f) => [f, from[f]])) };
}
