// Shared by the service-routing checks: where packets come from on this node, what the
// dataplane does with a packet to a Service address (traced through iptables/nftables, or
// read from IPVS), and the verdict comparing that with what kube-proxy should have programmed.
import type { ClusterContext } from '../../common/cluster.js';
import type { Evidence } from '../../common/findings.js';
import type { CheckResult } from '../checks/types.js';
import type { NodeSnapshot } from '../snapshot.js';
import { canonicalIp, hostPort, parseIp, parsePrefix, prefixHost, splitHostPort } from './addr.js';
import type { ExpectedServicePort } from './expected.js';
import type { Dataplane } from './load.js';
import { tablesFor } from './load.js';
import type { IpvsVirtualServer } from './model.js';
import { trace, type PathStep, type TraceDeps, type TraceEnv, type TraceOutcome } from './tracer.js';
import { memoFor, type TraceMemo } from './trace-memo.js';
import { CONVERGING_WORD, type Convergence } from './convergence.js';

export interface NodeView {
  readonly node: string;
  /** Addresses the node owns (links facet, else the Node object's addresses). */
  readonly localAddresses: readonly string[];
  /** The address NodePorts are traced to: the IPv4 one when the node has one (nodeIPs[4] ?? nodeIPs[6]). */
  readonly nodeIP?: string;
  /** The node's address per IP family: a dual-stack kube-proxy serves each family's NodePorts on its own. */
  readonly nodeIPs: { readonly 4?: string; readonly 6?: string };
  /** Interface pod traffic arrives on (the bridge), and external traffic. */
  readonly podIif: string;
  readonly uplinkIif: string;
  /** The interface each family's node address is on (external traffic of that family arrives there). */
  readonly uplinkIifs: { readonly 4?: string; readonly 6?: string };
  /** The node's IPv4 pod CIDR (else the cluster CIDR). */
  readonly podCIDR?: string;
  /** The node's IPv6 pod CIDR (a dual-stack or IPv6 node's second spec.podCIDRs entry). */
  readonly podCIDR6?: string;
  readonly kubeIpvs0?: readonly string[];
}

/** A global unicast address a node would use as its own on an uplink (not loopback or link-local). */
function usableNodeAddress(family: 4 | 6, address: string): boolean {
  if (family === 4) return !address.startsWith('127.') && !address.startsWith('169.254.');
  const a = address.toLowerCase();
  return a !== '::1' && !/^fe[89ab]/.test(a);
}

export function nodeView(snapshot: NodeSnapshot, cluster: ClusterContext | undefined): NodeView {
  const node = cluster?.nodes.find((n) => n.name === snapshot.node);
  const local: string[] = [];
  let podIif: string | undefined;
  let kubeIpvs0: string[] | undefined;
  for (const l of snapshot.links ?? []) {
    for (const a of l.addresses) local.push(a.address);
    if (l.name === 'kube-ipvs0') kubeIpvs0 = l.addresses.map((a) => canonicalIp(a.address));
    if (l.kind === 'bridge' && !podIif && l.addresses.length > 0) podIif = l.name;
  }
  for (const ip of [...(node?.internalIPs ?? []), ...(node?.externalIPs ?? [])]) if (!local.includes(ip)) local.push(ip);
  const nodeIPs: { 4?: string; 6?: string } = {};
  const uplinkIifs: { 4?: string; 6?: string } = {};
  for (const family of [4, 6] as const) {
    let ip = node?.internalIPs.find((x) => parseIp(x)?.family === family);
    // With a Node object that names none of this family, the node has none (kube-proxy reads the same object).
    if (!ip && !node?.internalIPs.length) {
      for (const l of snapshot.links ?? []) {
        if (l.name === 'lo' || l.name === 'kube-ipvs0' || l.kind === 'bridge') continue;
        const a = l.addresses.find((x) => x.family === family && usableNodeAddress(family, x.address));
        if (a) { ip = a.address; break; }
      }
    }
    if (!ip) continue;
    nodeIPs[family] = ip;
    const owner = snapshot.links?.find((l) => l.addresses.some((a) => canonicalIp(a.address) === canonicalIp(ip!)));
    if (owner) uplinkIifs[family] = owner.name;
  }
  const nodeIP = nodeIPs[4] ?? nodeIPs[6];
  const uplinkIif = (nodeIPs[4] ? uplinkIifs[4] : uplinkIifs[6]) ?? 'eth0';
  const podCIDR = node?.podCIDRs.find((c) => parsePrefix(c)?.family === 4) ?? (cluster?.clusterCIDR || undefined);
  const podCIDR6 = node?.podCIDRs.find((c) => parsePrefix(c)?.family === 6);
  return {
    node: snapshot.node, localAddresses: local, ...(nodeIP ? { nodeIP } : {}), nodeIPs,
    podIif: podIif ?? 'cni0', uplinkIif, uplinkIifs,
    ...(podCIDR ? { podCIDR } : {}), ...(podCIDR6 ? { podCIDR6 } : {}), ...(kubeIpvs0 ? { kubeIpvs0 } : {}),
  };
}

/**
 * A pod address on this node that is none of the given endpoints (so no hairpin path), in the
 * node's pod CIDR of that family (the 250th address down; a fixed stand-in when it is unknown).
 */
export function podSource(view: NodeView, avoid: readonly string[], family: 4 | 6): string {
  const base = family === 4 ? (view.podCIDR ? parsePrefix(view.podCIDR) : undefined) : (view.podCIDR6 ? parsePrefix(view.podCIDR6) : undefined);
  if (!base || base.family !== family) return family === 6 ? 'fd00:10:244::fa' : '10.244.0.250';
  const used = new Set(avoid.map((a) => canonicalIp(splitHostPort(a).host)));
  const bits = (family === 4 ? 32 : 128) - base.len;
  const top = bits >= 8 ? 250 : Math.min(250, 2 ** bits - 2);
  for (let h = top; h > 1; h--) {
    const ip = prefixHost(base, h)!;
    if (!used.has(ip)) return ip;
  }
  return prefixHost(base, 1)!;
}

/**
 * Whether kube-proxy's rules for a family were read at all: IPv6 Services are judged only when
 * ip6tables or an ip6 nftables table was dumped (IPVS holds both families). inet tables are not
 * kube-proxy's and do not count.
 */
export function serviceRulesRead(dp: Dataplane, family: 4 | 6, useIpvs: boolean): boolean {
  return family === 4 || useIpvs || !!dp.ip6tables || !!dp.nftables?.tables.some((t) => t.family === 6);
}

export const EXTERNAL_CLIENT = { 4: '198.51.100.77', 6: '2001:db8:77::77' } as const;

/** What the dataplane does with one packet to a Service address. */
export interface Observation {
  /** DNAT targets (`ip:port`) and their probabilities. */
  readonly targets: ReadonlyMap<string, number>;
  readonly rejected: number;
  readonly dropped: number;
  /** Accepted without any DNAT: no rule caught the packet. */
  readonly unrouted: number;
  readonly unknown: readonly { readonly probability: number; readonly rule: string; readonly where: string; readonly reason: string }[];
  /** Every DNAT branch records ClientIP affinity. */
  readonly affinity: boolean;
  /** Rules that decided (deduplicated, for evidence); built on demand — only failures show them. */
  readonly rules: () => readonly string[];
  /** Branches a filter rule dropped/rejected after DNAT (not kube-proxy's routing, reported in evidence). */
  readonly filteredAfterDnat: readonly string[];
}

const MAX_EVIDENCE_RULES = 12;

/** A rule on a trace path as evidence shows it: where it is, then its original text. */
export function stepText(s: PathStep): string {
  return `[${s.backend} ${s.table} ${s.chain} #${s.rule}] ${s.text}`;
}

export function observeTrace(outcomes: readonly TraceOutcome[]): Observation {
  const targets = new Map<string, number>();
  let rejected = 0, dropped = 0, unrouted = 0;
  const unknown: { probability: number; rule: string; where: string; reason: string }[] = [];
  const filtered = new Set<string>();
  let dnatBranches = 0, affinityBranches = 0;
  for (const o of outcomes) {
    if (o.dnat) {
      const key = hostPort(canonicalIp(o.dnat.addr), o.dnat.port ?? 0);
      targets.set(key, (targets.get(key) ?? 0) + o.probability);
      dnatBranches++;
      if (o.affinity.length > 0) affinityBranches++;
      if (o.verdict === 'drop' || o.verdict === 'reject') {
        const last = o.path[o.path.length - 1];
        if (last) filtered.add(`${o.verdict} after DNAT to ${key}: ${stepText(last)}`);
      }
      // An unknown after DNAT concerns host filtering on the way to the endpoint, not the dispatch.
      continue;
    }
    switch (o.verdict) {
      case 'reject': rejected += o.probability; break;
      case 'drop': dropped += o.probability; break;
      case 'accept': unrouted += o.probability; break;
      case 'unknown':
        unknown.push({
          probability: o.probability,
          rule: o.unknown?.step.text ?? '?',
          where: o.unknown ? `${o.unknown.step.backend} ${o.unknown.step.table} ${o.unknown.step.chain} #${o.unknown.step.rule} (${o.unknown.step.origin})` : '?',
          reason: o.unknown?.reason ?? '?',
        });
        break;
    }
  }
  return {
    targets, rejected, dropped, unrouted, unknown,
    affinity: dnatBranches > 0 && affinityBranches === dnatBranches,
    rules: () => {
      const rules = new Set<string>();
      for (const o of outcomes) for (const s of o.path) if (rules.size < MAX_EVIDENCE_RULES && s.hook !== 'postrouting') rules.add(stepText(s));
      return [...rules];
    },
    filteredAfterDnat: [...filtered],
  };
}

/** The tables of one family, with the memo of this dump's Service traces (trace-memo.ts). */
export interface ServiceTraceEnv extends TraceEnv {
  readonly memo?: TraceMemo;
}

export function traceEnv(dp: Dataplane, view: NodeView, family: 4 | 6): ServiceTraceEnv {
  const memo = memoFor(dp, view.localAddresses);
  return { tables: tablesFor(dp, family), ipsets: dp.ipsets, localAddresses: view.localAddresses, ...(memo ? { memo } : {}) };
}

/**
 * What the dataplane does with a packet to a Service address: from the memo when no rule the
 * last trace of this packet read has changed since, else traced (and remembered).
 */
export function traceService(env: ServiceTraceEnv, src: string, dst: string, proto: string, dport: number, iif: string): Observation {
  const packet = { src, dst, proto: proto.toLowerCase(), dport, iif };
  const run = (deps?: TraceDeps): Observation => observeTrace(trace(packet, env, { origin: 'network', stopBefore: 'postrouting', stopAfterDnat: true, ...(deps ? { deps } : {}) }));
  const memo = env.memo;
  if (!memo) return run();
  const key = `${src}|${dst}|${packet.proto}|${dport}|${iif}`;
  const hit = memo.get(key);
  if (hit) {
    return {
      targets: hit.targets, rejected: hit.rejected, dropped: hit.dropped, unrouted: hit.unrouted, unknown: [], affinity: hit.affinity,
      rules: () => run().rules(), filteredAfterDnat: [],
    };
  }
  const deps: TraceDeps = { chains: new Map(), sets: new Map() };
  const obs = run(deps);
  // What the memo cannot reproduce (the rules of an unknown or a filter after DNAT) is traced every time.
  if (obs.unknown.length === 0 && obs.filteredAfterDnat.length === 0) {
    memo.put(key, obs, deps);
  }
  return obs;
}

/** The IPVS virtual server for an address:port, read as an Observation. */
export function observeIpvs(ipvs: readonly IpvsVirtualServer[], addr: string, proto: string, port: number): Observation & { readonly vs?: IpvsVirtualServer } {
  const a = canonicalIp(addr);
  const vs = ipvs.find((v) => v.protocol === proto && v.addr === a && v.port === port);
  const targets = new Map<string, number>();
  if (vs) {
    const live = vs.realServers.filter((r) => r.weight > 0);
    const total = live.reduce((n, r) => n + r.weight, 0);
    // rr ignores weights (kube-proxy writes 1 everywhere); weighted schedulers share by weight.
    for (const r of live) targets.set(hostPort(r.addr, r.port), vs.scheduler === 'rr' ? 1 / live.length : r.weight / total);
  }
  return {
    targets, rejected: 0, dropped: 0, unrouted: vs ? 0 : 1, unknown: [],
    affinity: (vs?.persistent ?? 0) > 0,
    rules: () => (vs ? [vs.text, ...vs.realServers.map((r) => `-> ${hostPort(r.addr, r.port)} ${r.forward} weight ${r.weight}`)].slice(0, MAX_EVIDENCE_RULES) : []),
    filteredAfterDnat: [],
    ...(vs ? { vs } : {}),
  };
}

export interface JudgeInput {
  readonly expected: ExpectedServicePort;
  readonly endpoints: readonly string[];
  readonly emptyVerdict: 'reject' | 'drop';
  readonly observed: Observation;
  /** `ClusterIP 10.96.0.10:53` / `NodePort 192.168.0.2:30080` — what was traced. */
  readonly path: string;
  /** IPVS: a Service without endpoints keeps its virtual server with no real servers. */
  readonly ipvs?: boolean;
  /**
   * The traffic policy that restricts this path to this node's endpoints, when it is Local
   * (externalTrafficPolicy for NodePorts, internalTrafficPolicy for ClusterIPs): with none
   * here the Service still has endpoints, and the message must not say it has none.
   */
  readonly localPolicy?: 'externalTrafficPolicy' | 'internalTrafficPolicy';
  readonly extra?: Evidence;
  /** Whether kube-proxy may still be programming this Service (see convergence.ts): a mismatch then warns. */
  readonly convergence?: Convergence;
}

/** Endpoint shares within this relative tolerance of 1/n are even (iptables-save rounds to 2^-31; old kube-proxy printed 5 decimals). */
const SHARE_TOLERANCE = 1e-3;

export function judge(inp: JudgeInput): CheckResult {
  const { expected: exp, endpoints, observed: obs } = inp;
  const observed = [...obs.targets.keys()].sort();
  const expSet = new Set(endpoints);
  const obsSet = new Set(observed);
  const ipOf = (k: string): string => k.slice(0, k.lastIndexOf(':'));
  const missingAll = endpoints.filter((e) => !obsSet.has(e));
  const staleAll = observed.filter((o) => !expSet.has(o));
  const wrongPort: string[] = [];
  const missing: string[] = [];
  for (const m of missingAll) {
    const other = staleAll.find((s) => ipOf(s) === ipOf(m));
    if (other) wrongPort.push(`${other} (expected ${m})`);
    else missing.push(m);
  }
  const stale = staleAll.filter((s) => !wrongPort.some((w) => w.startsWith(`${s} `)));
  const probabilities: Record<string, number> = {};
  for (const k of observed) probabilities[k] = Math.round(obs.targets.get(k)! * 1e6) / 1e6;
  const evidence: Evidence = {
    path: inp.path,
    expected: endpoints, observed, missing, stale, wrongPort, probabilities,
    ...(obs.rejected > 0 ? { rejected: round(obs.rejected) } : {}),
    ...(obs.dropped > 0 ? { dropped: round(obs.dropped) } : {}),
    ...(obs.unrouted > 0 ? { unrouted: round(obs.unrouted) } : {}),
    ...(exp.affinity || obs.affinity ? { affinity: { expected: exp.affinity ? 'ClientIP' : 'None', observed: obs.affinity ? 'ClientIP' : 'None' } } : {}),
    ...(obs.filteredAfterDnat.length > 0 ? { filteredAfterDnat: obs.filteredAfterDnat } : {}),
    ...(inp.extra ?? {}),
  };
  // The rules that decided are evidence for people fixing something: kept on failures only,
  // so a 10k-Service report stays small.
  const withRules = (): Evidence => ({ ...evidence, rules: obs.rules() });
  const subject = exp.subject;
  const mismatch = (problem: string): CheckResult => {
    const c = inp.convergence;
    if (c?.converging) {
      return { status: 'warn', severity: 'low', subject, message: `${inp.path}${CONVERGING_WORD}${c.reason}; not programmed yet: ${problem}`, evidence: { ...withRules(), ...c.evidence } };
    }
    return { status: 'fail', severity: 'high', subject, message: `${inp.path}: ${problem}`, evidence: { ...withRules(), ...(c?.evidence ?? {}) } };
  };
  if (obs.unknown.length > 0) {
    const u = obs.unknown[0]!;
    return {
      status: 'error', severity: 'medium', subject,
      message: `${inp.path}: cannot decide — ${u.where} has a match netconform does not model (${u.reason}); not assuming it passes`,
      evidence: { ...withRules(), unknown: obs.unknown },
    };
  }
  if (endpoints.length === 0) {
    const want = inp.ipvs ? 'none' : inp.emptyVerdict;
    const ok = inp.ipvs
      ? obs.targets.size === 0 && obs.unrouted === 0
      : obs.targets.size === 0 && (inp.emptyVerdict === 'reject' ? obs.rejected : obs.dropped) > 1 - 1e-9;
    const elsewhere = inp.localPolicy ? exp.onAnyNode.length : 0;
    const none = elsewhere > 0
      ? `no endpoint on this node (${inp.localPolicy}=Local; the Service's ${elsewhere === 1 ? 'endpoint is' : `${elsewhere} endpoints are`} on other nodes)`
      : 'no endpoints';
    if (ok) return { status: 'pass', severity: 'info', subject, message: `${inp.path}: ${none}, traffic is ${inp.ipvs ? 'not forwarded (virtual server without real servers)' : inp.emptyVerdict === 'reject' ? 'rejected' : 'dropped'} as kube-proxy intends`, evidence };
    const seen = obs.targets.size > 0 ? `forwarded to ${observed.join(', ')}` : obs.unrouted > 0 ? 'not caught by any rule' : obs.rejected > 0 ? 'rejected' : 'dropped';
    const must = want === 'reject' ? 'rejected' : want === 'drop' ? 'dropped' : 'left without real servers';
    return mismatch(elsewhere > 0
      ? `${none}, so traffic must be ${must}, but it is ${seen}`
      : `the Service has no usable endpoints, so traffic must be ${must}, but it is ${seen}`);
  }
  const problems: string[] = [];
  if (obs.unrouted > 1e-9) problems.push(obs.targets.size === 0 ? 'no rule sends it anywhere (Service missing from the dataplane)' : `${pct(obs.unrouted)} of it is not sent to any endpoint`);
  if (obs.rejected > 1e-9) problems.push(`${pct(obs.rejected)} of it is rejected`);
  if (obs.dropped > 1e-9) problems.push(`${pct(obs.dropped)} of it is dropped`);
  if (missing.length > 0) problems.push(`missing endpoint${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`);
  if (stale.length > 0) problems.push(`stale endpoint${stale.length > 1 ? 's' : ''} ${stale.join(', ')}`);
  if (wrongPort.length > 0) problems.push(`wrong target port: ${wrongPort.join(', ')}`);
  if (problems.length === 0) {
    const n = observed.length;
    const uneven = [...obs.targets.entries()].filter(([, p]) => Math.abs(p * n - 1) > SHARE_TOLERANCE);
    if (uneven.length > 0) problems.push(`uneven load balancing: ${[...obs.targets.entries()].map(([k, p]) => `${k} gets ${share(p)}`).join(', ')} instead of ${share(1 / n)} each`);
  }
  if (problems.length === 0 && exp.affinity !== obs.affinity) {
    problems.push(exp.affinity ? 'sessionAffinity ClientIP is not programmed' : 'ClientIP affinity is programmed but the Service does not ask for it');
  }
  if (problems.length === 0) {
    return { status: 'pass', severity: 'info', subject, message: `${inp.path} → ${n(endpoints.length)}, evenly${exp.affinity ? ', with ClientIP affinity' : ''}`, evidence };
  }
  return mismatch(problems.join('; '));
}

const round = (p: number): number => Math.round(p * 1e6) / 1e6;
/** A share with the two decimals an uneven split needs to be seen (33.50% vs 33.33%). */
const share = (p: number): string => `${(p * 100).toFixed(2)}%`;
const pct = (p: number): string => `${(p * 100).toFixed(p * 100 >= 10 ? 1 : 2)}%`;
const n = (k: number): string => `${k} endpoint${k === 1 ? '' : 's'}`;

export function familyOf(ip: string): 4 | 6 {
  return parseIp(ip)?.family ?? 4;
}


