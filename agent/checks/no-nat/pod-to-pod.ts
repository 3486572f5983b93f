// Principle (seed, pod-to-pod communication): all pods talk to each other without NAT; the
// source address a receiving pod sees is the sender's real pod IP, on the same node and
// across nodes. Only traffic leaving the cluster's pod network may be masqueraded.
// This traces a first packet from a pod on this node to a pod on this node and to a pod on
// every other node through the node's netfilter rules (prerouting → forward → postrouting,
// every table and backend, ipsets included) and fails on any SNAT/MASQUERADE outcome — on a
// dual-stack node for each family, IPv6 pods through the IPv6 rules.
import type { CheckDefinition, CheckResult } from '../types.js';
import type { ClusterContext } from '../../../common/cluster.js';
import type { NodeSnapshot } from '../../snapshot.js';
import { dataplaneOf } from '../../dataplane/load.js';
import { bpfMasqueradeSkip } from '../../dataplane/ebpf-routing.js';
import { nodeView, stepText, traceEnv } from '../../dataplane/routing.js';
import { trace, type TraceEnv, type TraceOutcome } from '../../dataplane/tracer.js';
import { formatPrefix, parseIp, parsePrefix, prefixContains, prefixHost } from '../../dataplane/addr.js';

const MAX_EVIDENCE_RULES = 12;

/** The `host`-th address of a prefix, or undefined when the prefix is too small. */
function hostIn(cidr: string, host: number): string | undefined {
  const p = parsePrefix(cidr);
  // host + 1: never the prefix's last address (IPv4 broadcast).
  return p && prefixHost(p, host + 1) !== undefined ? prefixHost(p, host) : undefined;
}

/**
 * The node's own pod CIDR of a family: the Node object's, else the pod bridge's address. An
 * IPv6 one is taken from the bridge only when the Node object names no pod CIDR at all (a
 * bridge always has a link-local IPv6 address, and may carry others the cluster does not use).
 */
function ownPodCIDR(snapshot: NodeSnapshot, cluster: ClusterContext | undefined, family: 4 | 6): string | undefined {
  const node = cluster?.nodes.find((n) => n.name === snapshot.node);
  const fromNode = node?.podCIDRs.find((c) => parsePrefix(c)?.family === family);
  if (fromNode) return fromNode;
  if (family === 6 && (node?.podCIDRs.length ?? 0) > 0) return undefined;
  for (const l of snapshot.links ?? []) {
    if (l.kind !== 'bridge') continue;
    const a = l.addresses.find((x) => x.family === family && (family === 4 || (x.scope === 'global' && !/^fe[89ab]/i.test(x.address))));
    if (a) {
      const p = parsePrefix(`${a.address}/${a.prefixLength}`);
      if (p?.family === family) return formatPrefix(p);
    }
  }
  return undefined;
}

/** The device the kernel would send `dst` out of (longest prefix in the main table). */
function routeDevice(snapshot: NodeSnapshot, dst: string, fallback: string): string {
  const ip = parseIp(dst);
  let best: { len: number; dev: string } | undefined;
  for (const r of snapshot.routes ?? []) {
    if (!ip || r.family !== ip.family || r.table !== 254 || !r.dev || r.type !== 'unicast') continue;
    const p = parsePrefix(r.dst === 'default' ? (ip.family === 4 ? '0.0.0.0/0' : '::/0') : r.dst);
    if (!p || !prefixContains(p, ip)) continue;
    if (!best || p.len > best.len) best = { len: p.len, dev: r.dev };
  }
  return best?.dev ?? fallback;
}

function judgePath(outcomes: readonly TraceOutcome[], subject: string, what: string, src: string, dst: string): CheckResult {
  let natted = 0;
  let unknown = 0;
  const natRules = new Set<string>();
  const unknownRules: { rule: string; reason: string; probability: number }[] = [];
  const translations = new Set<string>();
  for (const o of outcomes) {
    if (o.snat) {
      natted += o.probability;
      translations.add(o.snat === 'masquerade' ? 'MASQUERADE' : `SNAT to ${o.snat}`);
      for (const s of o.path) if (s.hook === 'postrouting' && natRules.size < MAX_EVIDENCE_RULES) natRules.add(stepText(s));
    } else if (o.verdict === 'unknown') {
      unknown += o.probability;
      if (o.unknown) unknownRules.push({ rule: stepText(o.unknown.step), reason: o.unknown.reason, probability: o.probability });
    }
  }
  const evidence = { src, dst, proto: 'tcp', dport: 8080 };
  if (natted > 0) {
    return {
      status: 'fail', severity: 'high', subject,
      message: `${what} (${src} → ${dst}) is source-NATed (${[...translations].join(', ')}${natted < 0.9999 ? `, ${(natted * 100).toFixed(1)}% of packets` : ''}): the receiving pod sees the node, not the pod — exclude the pod CIDR from the masquerade rule (e.g. kube-proxy --cluster-cidr, CNI ipMasq settings)`,
      evidence: { ...evidence, probability: Number(natted.toFixed(4)), rules: [...natRules] },
    };
  }
  if (unknown > 0) {
    return {
      status: 'warn', severity: 'medium', subject,
      message: `${what} (${src} → ${dst}) could not be decided: a rule uses a match netconform does not model (${unknownRules[0]?.reason ?? '?'})`,
      evidence: { ...evidence, unknown: unknownRules.slice(0, MAX_EVIDENCE_RULES) },
    };
  }
  return { status: 'pass', severity: 'info', subject, message: `${what} (${src} → ${dst}) keeps the pod's source address`, evidence };
}

export const podToPodNoNatCheck: CheckDefinition = {
  id: 'no-nat.pod-to-pod',
  title: 'Pods reach pods on this and every other node without source NAT',
  needs: ['dataplane'],
  run(snapshot, cluster) {
    const bpfNat = bpfMasqueradeSkip(snapshot); // Cilium / Calico eBPF masquerade outside netfilter
    if (bpfNat) return [bpfNat];
    const dp = dataplaneOf(snapshot)!;
    const own = { 4: ownPodCIDR(snapshot, cluster, 4), 6: ownPodCIDR(snapshot, cluster, 6) };
    if (!own[4] && !own[6]) {
      return [{
        status: 'skip', severity: 'info', subject: snapshot.node,
        message: 'skipped: this node\'s IPv4 pod CIDR is unknown (no Node spec.podCIDRs in the cluster context and no pod bridge address)',
      }];
    }
    const view = nodeView(snapshot, cluster);
    const results: CheckResult[] = [];
    // A dual-stack node: each family's pods, each family's rules (iptables and ip6tables, ip and ip6 tables).
    for (const family of [4, 6] as const) {
      const cidr = own[family];
      if (!cidr) continue;
      if (family === 6 && !dp.ip6tables && !dp.nftables?.tables.some((t) => t.family === 6 || t.name.startsWith('inet '))) continue; // no IPv6 rules read
      const env: TraceEnv = traceEnv(dp, view, family);
      const src = hostIn(cidr, 250) ?? hostIn(cidr, 2)!;
      const probe = (dst: string, oif: string, subject: string, what: string): void => {
        const outcomes = trace({ src, dst, proto: 'tcp', sport: 40000, dport: 8080, iif: view.podIif, oif }, env, { origin: 'network' });
        results.push(judgePath(outcomes, subject, what, src, dst));
      };
      const sameNodeDst = hostIn(cidr, 251) ?? hostIn(cidr, 3);
      if (sameNodeDst) probe(sameNodeDst, view.podIif, snapshot.node, 'pod-to-pod traffic on this node');
      for (const other of cluster?.nodes ?? []) {
        if (other.name === snapshot.node) continue;
        const otherCidr = other.podCIDRs.find((c) => parsePrefix(c)?.family === family);
        const dst = otherCidr ? hostIn(otherCidr, 10) ?? hostIn(otherCidr, 2) : undefined;
        if (!dst) continue;
        probe(dst, routeDevice(snapshot, dst, view.uplinkIifs[family] ?? view.uplinkIif), other.name, `pod-to-pod traffic to node ${other.name}`);
      }
    }
    return results;
  },
};
