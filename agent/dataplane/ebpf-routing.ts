// The service-routing and no-NAT verdicts on a node whose Services are routed by something
// other than kube-proxy (see ebpf.ts). Cilium's kube-proxy replacement is judged from its LB
// maps exactly as kube-proxy modes are judged from their rules — same expected endpoints
// (expected.ts), same judge() and evidence — by doing the lookups Cilium's datapath does
// (bpf/lib/lb.h lb4_lookup_service / lb6_lookup_service): the frontend at slot 0 with scope
// external; for east-west traffic to a frontend flagged TWO_SCOPES, the scope-internal one;
// then slots 1..count name the backends traffic is spread over (randomly or by Maglev, both
// even). Other recognised dataplanes cannot be read: their checks skip, saying what was seen.
import type { ClusterContext } from '../../common/cluster.js';
import type { CheckResult } from '../checks/types.js';
import type { NodeSnapshot } from '../snapshot.js';
import { canonicalIp, hostPort } from './addr.js';
import { SCOPE_EXT, SCOPE_INT, SVC_FLAG, SVC_FLAG2, IPPROTO, frontendKey, frontendText, type CiliumLb, type LbFrontend } from './cilium-maps.js';
import { detectOtherDataplane, type OtherDataplane } from './ebpf.js';
import { expectedServicePorts, type ExpectedServicePort } from './expected.js';
import { dataplaneOf } from './load.js';
import { modeFacts } from './mode.js';
import { familyOf, judge, nodeView, type Observation } from './routing.js';

type Check = 'mode' | 'clusterip' | 'nodeport';

/** The other dataplane that routes this node's Services, when kube-proxy's rules catch nothing. */
export function serviceDataplaneOf(snapshot: NodeSnapshot): OtherDataplane | undefined {
  const dp = dataplaneOf(snapshot);
  if (dp && modeFacts(dp).catching.length > 0) return undefined;
  return detectOtherDataplane(snapshot);
}

/**
 * The results of a service-routing check when another dataplane routes Services, or
 * undefined when kube-proxy does (the check then judges kube-proxy's rules as before).
 */
export function otherDataplaneResults(check: Check, snapshot: NodeSnapshot, cluster: ClusterContext | undefined): CheckResult[] | undefined {
  const d = serviceDataplaneOf(snapshot);
  if (!d) return undefined;
  const evidence = { dataplane: d.kind, seen: d.seen };
  if (!d.lb) {
    const why = d.kind === 'cilium-ebpf'
      ? `its service maps could not be read (${d.unreadable ?? 'unknown reason'})`
      : 'netconform cannot read its Service programming';
    return [{
      status: 'skip', severity: 'info', subject: snapshot.node,
      message: `skipped: Services on this node are routed by ${d.name} (seen: ${d.seen.join(', ')}), not kube-proxy; ${why}`,
      evidence,
    }];
  }
  if (check === 'mode') return [modeResult(snapshot, cluster, d, d.lb)];
  return check === 'clusterip' ? clusterIPResults(snapshot, cluster!, d.lb) : nodePortResults(snapshot, cluster!, d.lb);
}

function modeResult(snapshot: NodeSnapshot, cluster: ClusterContext | undefined, d: OtherDataplane, lb: CiliumLb): CheckResult {
  const dp = dataplaneOf(snapshot);
  const leftover = dp ? modeFacts(dp).present : [];
  const n = { 4: 0, 6: 0 };
  for (const f of lb.frontends.values()) n[f.family]++;
  const routed = cluster?.services.filter((s) => s.type !== 'ExternalName' && s.clusterIPs.some((ip) => ip && ip !== 'None')).length;
  return {
    status: 'pass', severity: 'info', subject: snapshot.node,
    message: `Services are routed by Cilium's eBPF kube-proxy replacement (${n[4]} IPv4 and ${n[6]} IPv6 frontends in its LB maps)${leftover.length > 0 ? `; leftover ${leftover.join(', ')} kube-proxy rules catch no Service traffic` : ''}`,
    evidence: { dataplane: d.kind, seen: d.seen, layouts: lb.layouts, ...(routed !== undefined ? { services: routed } : {}) },
  };
}

/** What Cilium's datapath does with a new connection to address:port/proto. */
function observe(lb: CiliumLb, address: string, port: number, protocol: string, eastWest: boolean): Observation & { frontend?: LbFrontend } {
  const family = familyOf(address);
  const a = canonicalIp(address);
  const find = (scope: number): LbFrontend | undefined =>
    lb.frontends.get(frontendKey(family, a, port, IPPROTO[protocol] ?? -1, scope)) ?? lb.frontends.get(frontendKey(family, a, port, 0, scope));
  let fe = find(SCOPE_EXT);
  if (fe && eastWest && (fe.flags2 & SVC_FLAG2.twoScopes) !== 0) fe = find(SCOPE_INT);
  const targets = new Map<string, number>();
  const lines: string[] = [];
  let dropped = 0;
  if (fe) {
    lines.push(frontendText(fe));
    if (fe.count === 0) dropped = 1; // no backend slot: DROP_NO_SERVICE
    for (let slot = 1; slot <= fe.count + fe.qcount; slot++) {
      const id = fe.slots.get(slot);
      const be = id !== undefined ? lb.backends[family].get(id) : undefined;
      const used = slot <= fe.count;
      lines.push(`  slot ${slot}${used ? '' : ' (quarantined)'}: ${id === undefined ? 'missing' : `backend ${id} ${be ? `${hostPort(be.address, be.port)} ${be.state}` : `not in cilium_lb${family}_backends`}`}`);
      if (!used) continue;
      if (!be) { dropped += 1 / fe.count; continue; } // the datapath finds no backend: drop
      const k = hostPort(be.address, be.port);
      targets.set(k, (targets.get(k) ?? 0) + 1 / fe.count);
    }
  }
  return {
    targets, rejected: 0, dropped, unrouted: fe ? 0 : 1, unknown: [],
    affinity: fe !== undefined && (fe.flags & SVC_FLAG.affinity) !== 0,
    rules: () => lines.slice(0, 12), filteredAfterDnat: [],
    ...(fe ? { frontend: fe } : {}),
  };
}

function verdict(exp: ExpectedServicePort, endpoints: readonly string[], obs: Observation, path: string, policy: 'externalTrafficPolicy' | 'internalTrafficPolicy'): CheckResult {
  const localPolicy = (policy === 'externalTrafficPolicy' ? exp.service.externalTrafficPolicy : exp.service.internalTrafficPolicy) === 'Local' ? { localPolicy: policy } : {};
  const r = judge({ expected: exp, endpoints, emptyVerdict: 'drop', observed: obs, path, ...localPolicy });
  // Cilium keeps a Service without endpoints as a frontend with no backend slots and drops its traffic.
  if (r.status === 'pass' && endpoints.length === 0) return { ...r, message: `${path}: no endpoints; the frontend has no backend slots, so Cilium drops the traffic` };
  return r;
}

const servicesMapRead = (lb: CiliumLb, family: 4 | 6): boolean => lb.layouts[`cilium_lb${family}_services_v2`] !== undefined;

function clusterIPResults(snapshot: NodeSnapshot, cluster: ClusterContext, lb: CiliumLb): CheckResult[] {
  const results: CheckResult[] = [];
  for (const exp of expectedServicePorts(cluster, snapshot.node)) {
    if (exp.topologySkip) {
      results.push({ status: 'skip', severity: 'info', subject: exp.subject, message: `skipped: ${exp.topologySkip}` });
      continue;
    }
    for (const ip of exp.clusterIPs) {
      const family = familyOf(ip);
      if (!servicesMapRead(lb, family)) continue; // that family's map was not read (IPv6 disabled in Cilium)
      const path = `ClusterIP ${family === 6 ? `[${ip}]` : ip}:${exp.port.port}/${exp.port.protocol}`;
      results.push(verdict(exp, exp.internal, observe(lb, ip, exp.port.port, exp.port.protocol, true), path, 'internalTrafficPolicy'));
    }
  }
  return results;
}

function nodePortResults(snapshot: NodeSnapshot, cluster: ClusterContext, lb: CiliumLb): CheckResult[] {
  const ports = expectedServicePorts(cluster, snapshot.node).filter((e) => e.port.nodePort > 0 && (e.service.type === 'NodePort' || e.service.type === 'LoadBalancer'));
  if (ports.length === 0) return [];
  const view = nodeView(snapshot, cluster);
  if (!view.nodeIP) {
    return [{ status: 'skip', severity: 'info', subject: snapshot.node, message: 'skipped: the node\'s own address is unknown (no Node object for this node in the cluster context and no ip-addr facts)' }];
  }
  const results: CheckResult[] = [];
  for (const exp of ports) {
    if (exp.topologySkip) {
      if (!results.some((r) => r.subject === exp.subject && r.status === 'skip')) results.push({ status: 'skip', severity: 'info', subject: exp.subject, message: `skipped: ${exp.topologySkip}` });
      continue;
    }
    // Each family's frontends: the node's address of that family and that family's zero address.
    const family = exp.family;
    const nodeIP = view.nodeIPs[family];
    if (!nodeIP || !servicesMapRead(lb, family)) continue;
    const zero = family === 4 ? '0.0.0.0' : '::';
    const etp = `externalTrafficPolicy=${exp.service.externalTrafficPolicy}`;
    const np = `${exp.port.nodePort}/${exp.port.protocol}`;
    results.push(verdict(exp, exp.external, observe(lb, nodeIP, exp.port.nodePort, exp.port.protocol, false), `NodePort ${family === 6 ? `[${nodeIP}]` : nodeIP}:${np} from outside the cluster (${etp})`, 'externalTrafficPolicy'));
    // The zero-address frontend serves node ports on every local address (socket-level LB, other devices).
    results.push(verdict(exp, exp.external, observe(lb, zero, exp.port.nodePort, exp.port.protocol, false), `NodePort ${family === 6 ? '[::]' : zero}:${np}, Cilium's frontend for every node address (${etp})`, 'externalTrafficPolicy'));
  }
  return results;
}

/**
 * no-nat.pod-to-pod on a node whose dataplane NATs outside netfilter: a skip with the reason,
 * or undefined when netfilter is where masquerading happens (the trace then decides). Cilium
 * with iptables masquerading (enable-bpf-masquerade=false) installs its MASQUERADE rules in
 * nat CILIUM_POST_nat, which the trace reads; without that chain it masquerades in BPF.
 */
export function bpfMasqueradeSkip(snapshot: NodeSnapshot): CheckResult | undefined {
  const d = detectOtherDataplane(snapshot);
  if (!d || (d.kind !== 'cilium-ebpf' && d.kind !== 'calico-ebpf')) return undefined;
  if (d.kind === 'cilium-ebpf') {
    const nat = dataplaneOf(snapshot)?.iptables?.tables.find((t) => t.name === 'nat');
    const post = nat?.chains.get('CILIUM_POST_nat');
    if (post && post.rules.some((r) => r.verdict.kind === 'masquerade' || r.verdict.kind === 'snat')) return undefined;
  }
  return {
    status: 'skip', severity: 'info', subject: snapshot.node,
    message: `skipped: ${d.name} runs on this node (seen: ${d.seen.join(', ')}) with no masquerade rules in netfilter: it masquerades (when enabled) in BPF, where netconform cannot read the decision — empty netfilter NAT tables prove nothing`,
    evidence: { dataplane: d.kind, seen: d.seen },
  };
}

/**
 * service-routing.stale-rules on a Cilium node: frontends in its service maps that serve an
 * address:port or node port no Service has (the maps Cilium rewrites from the Services it
 * sees). HostPort and local-redirect frontends are not Services and are left alone.
 */
export function staleCiliumFrontends(snapshot: NodeSnapshot, known: { readonly addrs: ReadonlySet<string>; readonly nodePorts: ReadonlySet<string> }): CheckResult[] {
  const lb = serviceDataplaneOf(snapshot)?.lb;
  if (!lb) return [];
  const out: CheckResult[] = [];
  const seen = new Set<string>();
  for (const f of lb.frontends.values()) {
    if ((f.flags & SVC_FLAG.hostPort) !== 0 || (f.flags2 & SVC_FLAG2.localRedirect) !== 0) continue;
    const protos = f.proto === 0 ? ['TCP', 'UDP', 'SCTP'] : [Object.keys(IPPROTO).find((p) => IPPROTO[p] === f.proto) ?? String(f.proto)];
    const nodePort = (f.flags & SVC_FLAG.nodePort) !== 0;
    const subject = nodePort ? `nodePort ${f.port}/${protos[0]}` : `${hostPort(f.address, f.port)}/${protos[0]}`;
    if (seen.has(subject)) continue; // the scope-internal twin of a frontend
    seen.add(subject);
    const used = protos.some((p) => (nodePort ? known.nodePorts.has(`${f.port}/${p}`) : known.addrs.has(`${hostPort(f.address, f.port)}/${p}`)));
    if (used) continue;
    out.push({
      status: 'warn', severity: 'medium', subject,
      message: `Cilium's ${f.family === 4 ? 'cilium_lb4_services_v2' : 'cilium_lb6_services_v2'} still holds a frontend for ${subject}, which no Service uses: stale`,
      evidence: { stale: [subject], frontend: frontendText(f) },
    });
  }
  // The maps dump in hash order; findings come in a stable one.
  return out.sort((a, b) => (a.subject < b.subject ? -1 : a.subject > b.subject ? 1 : 0));
}
