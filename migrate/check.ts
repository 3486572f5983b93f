// `netconform migrate check`: what a move to a target CNI would break, before it happens.
// Blockers are things the target will certainly do wrong with this cluster (enforcement
// that silently vanishes, addresses that collide or run out, packets that no longer fit);
// warnings are facts to verify (a profile fact marked `check`) or risks; changes say which
// netconform results will change meaning after the move. Pure.
import { cidrTextsOverlap, parseCidr, containsIp, parseIp } from '../common/cidr.js';
import type { NodeFingerprint } from '../agent/fingerprint.js';
import type { ClusterInventory } from './inventory.js';
import { POLICY_FEATURES, isCheck, type Fact, type TargetProfile } from './profile.js';

export const MIGRATION_ITEM_IDS = [
  'networkpolicy-unsupported', 'cidr-overlap', 'ip-exhaustion', 'mtu-headroom', 'hostport-unsupported',
  'kernel-too-old', 'module-missing', 'dual-stack-unsupported', 'tool-incompatible', 'cloud-unsupported',
  // kube-proxy mode migration (migrate/proxy/check.ts)
  'proxy-version', 'nft-too-old', 'localhost-nodeport', 'nodeport-address', 'kube-chain-dependency', 'conntrack-invalid',
  'ipvs-address-binding', 'ipvs-scheduler', 'ipvs-strict-arp', 'ipvs-deprecated', 'mixed-proxy-modes', 'facts-missing',
] as const;
export type MigrationItemId = (typeof MIGRATION_ITEM_IDS)[number];

export interface MigrationItem {
  readonly id: MigrationItemId;
  readonly subject: string;
  readonly message: string;
  readonly evidence: Readonly<Record<string, unknown>>;
  /** What to do about it, when there is one thing to do. */
  readonly fix?: string;
}

export interface MigrationChange {
  /** The netconform check whose meaning changes, or `dataplane`. */
  readonly check: string;
  readonly message: string;
}

export interface MigrationReport {
  readonly target: { readonly id: string; readonly title: string };
  readonly ready: boolean;
  readonly nodes: readonly NodeFingerprint[];
  readonly blockers: readonly MigrationItem[];
  readonly warnings: readonly MigrationItem[];
  readonly changes: readonly MigrationChange[];
  /** The fleet during a kube-proxy mode move: nodes per mode and nodes caught between two. */
  readonly fleet?: ProxyFleet;
}

export interface ProxyFleet {
  /** Nodes per proxy mode as netconform detects it (iptables, ipvs, nftables, none, unknown, …). */
  readonly proxyModes: Readonly<Record<string, number>>;
  /** Nodes with rules of two modes catching Service traffic, or iptables-mode chains left after the switch. */
  readonly mixed: readonly { readonly node: string; readonly modes: readonly string[]; readonly leftoverIptablesChains: number }[];
}

export interface MigrationOptions {
  readonly targetPodCidr?: string;
  readonly targetMtu?: number;
  /** Other ranges the pods must not collide with (VNet/VPC, on-prem, peered networks). */
  readonly declaredCidrs?: readonly string[];
}

const FEATURE_WORDS: Record<(typeof POLICY_FEATURES)[number], string> = {
  egress: 'egress rules', ipBlockExcept: 'ipBlock with except', namedPorts: 'named ports', endPort: 'port ranges (endPort)',
  namespaceAndPodSelector: 'namespaceSelector combined with podSelector',
};

export function kernelOlder(kernel: string, min: string): boolean {
  const v = /^(\d+)\.(\d+)/.exec(kernel);
  const m = /^(\d+)\.(\d+)/.exec(min);
  if (!v || !m) return false;
  return Number(v[1]) < Number(m[1]) || (Number(v[1]) === Number(m[1]) && Number(v[2]) < Number(m[2]));
}

export function migrationCheck(target: TargetProfile, nodes: readonly NodeFingerprint[], inv: ClusterInventory | undefined, opts: MigrationOptions = {}): MigrationReport {
  const blockers: MigrationItem[] = [];
  const warnings: MigrationItem[] = [];
  /** A profile fact decides: false → blocker, 'check' → warning to verify, true → nothing. */
  const judge = (fact: Fact<boolean>, item: Omit<MigrationItem, 'message'> & { message: string }): void => {
    if (isCheck(fact)) warnings.push({ ...item, message: `check: ${item.message} — ${fact.note} (${fact.source})` });
    else if (fact.value === false) blockers.push({ ...item, evidence: { ...item.evidence, source: fact.source } });
  };

  if (inv) {
    if (inv.networkPolicies.length > 0) {
      const names = inv.networkPolicies.map((p) => p.name);
      judge(target.networkPolicy, {
        id: 'networkpolicy-unsupported', subject: 'cluster',
        message: `${inv.networkPolicies.length} NetworkPolicies exist and ${target.title} enforces none: their isolation would silently vanish`,
        evidence: { policies: names.slice(0, 20), total: names.length },
      });
      if (target.networkPolicy.value !== false) {
        for (const f of POLICY_FEATURES) {
          const using = inv.networkPolicies.filter((p) => p.features.includes(f)).map((p) => p.name);
          if (using.length === 0) continue;
          judge(target.policyFeatures[f], {
            id: 'networkpolicy-unsupported', subject: f,
            message: `${using.length} NetworkPolicies use ${FEATURE_WORDS[f]}, which ${target.title} does not enforce`,
            evidence: { feature: f, policies: using.slice(0, 20), total: using.length },
          });
        }
      }
    }
    if (inv.hostPortPods.length > 0) {
      judge(target.hostPort, {
        id: 'hostport-unsupported', subject: 'cluster',
        message: `${inv.hostPortPods.length} pods use hostPort, which ${target.title} does not map`,
        evidence: { pods: inv.hostPortPods.slice(0, 20), total: inv.hostPortPods.length },
      });
    }
    if (inv.dualStack) {
      judge(target.dualStack, {
        id: 'dual-stack-unsupported', subject: 'cluster',
        message: `the cluster is dual-stack (nodes or Services with both IP families) and ${target.title} is not`,
        evidence: {},
      });
    }
    const clouds = [...new Set(inv.nodes.map((n) => n.cloud))];
    if (!target.clouds.includes('any')) {
      for (const c of clouds) {
        if (!(target.clouds as readonly string[]).includes(c)) {
          blockers.push({ id: 'cloud-unsupported', subject: c, message: `${target.title} runs only on ${target.clouds.join(', ')}; ${inv.nodes.filter((n) => n.cloud === c).length} nodes are on ${c}`, evidence: { clouds, supported: target.clouds } });
        }
      }
    }
    for (const tool of target.incompatibleTools) {
      for (const ds of inv.dataPathDaemonSets.filter((d) => `${d.name} ${d.images.join(' ')}`.includes(tool.match))) {
        blockers.push({ id: 'tool-incompatible', subject: ds.name, message: `${ds.what}: ${tool.why}`, evidence: { images: ds.images, source: tool.source } });
      }
    }
    if (target.vpcNativeIpam && target.maxPodsPerNode) {
      const f = target.maxPodsPerNode;
      const limit = isCheck(f) ? Infinity : (f.value as number);
      const over = Object.entries(inv.podsPerNode).filter(([, n]) => n > limit);
      if (isCheck(f)) {
        if (inv.maxPodsOnANode > 0) warnings.push({ id: 'ip-exhaustion', subject: 'cluster', message: `check: up to ${inv.maxPodsOnANode} pods run on one node today; ${f.note} (${f.source})`, evidence: { maxPodsOnANode: inv.maxPodsOnANode } });
      } else if (over.length > 0) {
        blockers.push({ id: 'ip-exhaustion', subject: 'cluster', message: `${over.length} nodes run more pods than ${target.title} can address per node (${limit})`, evidence: { nodes: Object.fromEntries(over.slice(0, 20)), limit, source: f.source } });
      }
    }
  }

  if (opts.targetPodCidr) {
    const taken: { what: string; cidr: string }[] = [];
    for (const n of inv?.nodes ?? []) {
      for (const c of n.podCIDRs) taken.push({ what: `node ${n.name} pod CIDR`, cidr: c });
    }
    for (const c of opts.declaredCidrs ?? []) taken.push({ what: 'declared range', cidr: c });
    const target4 = parseCidr(opts.targetPodCidr);
    const overlaps = taken.filter((t) => cidrTextsOverlap(t.cidr, opts.targetPodCidr!));
    const ipsInside = target4 ? [
      ...(inv?.nodes ?? []).flatMap((n) => n.internalIPs.map((ip) => ({ what: `node ${n.name} address`, ip }))),
      ...(inv?.serviceClusterIPs ?? []).map((ip) => ({ what: 'Service ClusterIP', ip })),
    ].filter((x) => { const ip = parseIp(x.ip); return ip !== undefined && containsIp(target4, ip); }) : [];
    if (overlaps.length > 0 || ipsInside.length > 0) {
      blockers.push({
        id: 'cidr-overlap', subject: opts.targetPodCidr,
        message: `the target pod CIDR ${opts.targetPodCidr} overlaps ${[...overlaps.map((o) => `${o.what} ${o.cidr}`), ...ipsInside.slice(0, 3).map((x) => `${x.what} ${x.ip}`)].slice(0, 4).join(', ')}${overlaps.length + ipsInside.length > 4 ? ' …' : ''}: during the move pods and nodes would be unreachable`,
        evidence: { overlaps: overlaps.slice(0, 20), addresses: ipsInside.slice(0, 20) },
      });
    }
  }

  for (const n of nodes) {
    if (target.kernelMin && n.kernel) {
      if (isCheck(target.kernelMin)) warnings.push({ id: 'kernel-too-old', subject: n.node, message: `check: kernel ${n.kernel} — ${target.kernelMin.note} (${target.kernelMin.source})`, evidence: { kernel: n.kernel } });
      else if (kernelOlder(n.kernel, target.kernelMin.value)) blockers.push({ id: 'kernel-too-old', subject: n.node, message: `kernel ${n.kernel} is older than ${target.title} needs (${target.kernelMin.value})`, evidence: { kernel: n.kernel, minimum: target.kernelMin.value, source: target.kernelMin.source } });
    }
    if (n.modules.length > 0 || n.kernel) {
      const missing = target.modules.filter((m) => !n.modules.includes(m));
      if (missing.length > 0) {
        // Modules load on demand; absent from /sys/module means "not loaded now", not "cannot".
        warnings.push({ id: 'module-missing', subject: n.node, message: `kernel modules ${missing.join(', ')} are not loaded on ${n.node}; ${target.title} needs them (modprobe, or check the kernel build)`, evidence: { missing, present: n.modules } });
      }
    }
    const overhead = target.overlayOverheadBytes;
    if (n.dataPath.underlayMtu > 0) {
      if (isCheck(overhead)) {
        warnings.push({ id: 'mtu-headroom', subject: n.node, message: `check: ${overhead.note} (underlay MTU ${n.dataPath.underlayMtu})`, evidence: { underlayMtu: n.dataPath.underlayMtu } });
      } else {
        const bytes = overhead.value as number;
        const fits = n.dataPath.underlayMtu - bytes;
        const wanted = opts.targetMtu ?? 0;
        if (wanted > fits) {
          blockers.push({ id: 'mtu-headroom', subject: n.node, message: `pod MTU ${wanted} does not fit: ${n.dataPath.underlayDevice} has MTU ${n.dataPath.underlayMtu} and ${target.title} adds ${bytes} bytes (at most ${fits})`, evidence: { underlayMtu: n.dataPath.underlayMtu, overhead: bytes, targetMtu: wanted, source: overhead.source } });
        } else if (!opts.targetMtu && n.dataPath.mtu > fits) {
          warnings.push({ id: 'mtu-headroom', subject: n.node, message: `pods use MTU ${n.dataPath.mtu} today; under ${target.title} at most ${fits} fits (${n.dataPath.underlayDevice} ${n.dataPath.underlayMtu} − ${bytes}): set the pod MTU to ${fits} or larger packets fragment or drop`, evidence: { podMtu: n.dataPath.mtu, underlayMtu: n.dataPath.underlayMtu, overhead: bytes } });
        }
      }
    }
  }
  return {
    target: { id: target.id, title: target.title },
    ready: blockers.length === 0,
    nodes, blockers, warnings,
    changes: migrationChanges(target, nodes),
  };
}

/** Which netconform results change meaning after the move, so people know which alerts to expect. */
export function migrationChanges(target: TargetProfile, nodes: readonly NodeFingerprint[]): MigrationChange[] {
  const out: MigrationChange[] = [];
  const bridged = nodes.some((n) => n.bridgeNfCallNeeded);
  if (bridged && !target.needsBridgeNfCall) out.push({ check: 'pod-network.sysctl', message: 'net.bridge.bridge-nf-call-iptables is no longer needed (pods leave the Linux bridge); the check stops requiring it' });
  if (!bridged && target.needsBridgeNfCall) out.push({ check: 'pod-network.sysctl', message: 'pods move onto a Linux bridge: net.bridge.bridge-nf-call-iptables=1 (br_netfilter) becomes required' });
  if (bridged && target.dataPath !== 'bridge') out.push({ check: 'pod-network.bridge', message: 'no pod bridge after the move: the bridge check reports nothing to check' });
  const proxied = nodes.some((n) => ['iptables', 'ipvs', 'nftables'].includes(n.proxyMode));
  if (target.kubeProxyReplacement) {
    out.push({ check: 'service-routing.mode', message: `Services will be programmed by ${target.title}, not kube-proxy: service-routing is judged from its BPF maps (Cilium) or skipped where netconform cannot read them` });
    if (proxied) out.push({ check: 'service-routing.stale-rules', message: 'kube-proxy\'s KUBE-* rules must be removed after the move; until then they are reported as a second mode' });
  }
  if (target.dataPath === 'ebpf') out.push({ check: 'no-nat.pod-to-pod', message: 'masquerading moves into eBPF, outside netfilter: the rule trace cannot see it (the check says so); rely on the wire probe (no-nat.observed)' });
  const masq = nodes.reduce((n, f) => n + f.masquerade.rules, 0);
  if (masq > 0) out.push({ check: 'no-nat.pod-to-pod', message: `the ${masq} masquerade rules of the current CNI disappear or are replaced by ${target.title}'s: expect the traced rule paths to change` });
  return out;
}
