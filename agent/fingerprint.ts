// A node's network fingerprint: what a CNI migration must carry over or will change, derived
// from the snapshot the agent already reads (no new privileges). Pure. It lives in agent/
// because every scan derives it for the report (agent/run.ts) and `scan --format json`;
// migrate/ reads it from here (data flows agent → migrate, never back).
//
// Cost per scan: the rule model is the one the checks already parsed (dataplaneOf caches it
// per snapshot), rule counts are chain lengths, and the masquerade walk skips kube-proxy's
// per-Service chains (see masqueradeFacts), so at 10k Services it visits a few hundred rules.
import type { NodeSnapshot } from './snapshot.js';
import { activeCniProfile } from './checks/cni/conflist.js';
import { detectProxyMode } from './dataplane/mode.js';
import { dataplaneOf, tablesFor, type Dataplane } from './dataplane/load.js';
import { formatPrefix } from './dataplane/addr.js';
import { canonicalCidr } from '../common/cidr.js';
import type { Chain } from './dataplane/model.js';
import { proxyFacts, type ProxyFacts } from './proxy-facts.js';

export type DataPathKind = 'bridge' | 'routed' | 'overlay' | 'ebpf' | 'unknown';

export interface NodeFingerprint {
  readonly node: string;
  readonly cni: { readonly family: string; readonly mainType: string; readonly file: string; readonly specVersion: string; readonly binaries: readonly string[] };
  /** host-local (node pod CIDR), calico-ipam, azure-vnet, aws-eni, cilium, … ('' unknown). */
  readonly ipam: string;
  readonly dataPath: {
    readonly kind: DataPathKind;
    /** The bridge, tunnel or eBPF host device pods' traffic goes through. */
    readonly device: string;
    /** MTU of that device, 0 unknown. */
    readonly mtu: number;
    /** MTU of the link the default route leaves by (the underlay), 0 unknown. */
    readonly underlayMtu: number;
    readonly underlayDevice: string;
    /** The node's address on the underlay (first global IPv4, else IPv6), '' unknown. */
    readonly underlayAddress: string;
  };
  readonly podCidrSource: 'node spec.podCIDRs' | 'cni ipam ranges' | 'cni ipam (cluster pool)' | 'unknown';
  readonly podCidrs: readonly string[];
  /** MASQUERADE/SNAT rules in nat postrouting paths and the destinations they exclude. */
  readonly masquerade: { readonly rules: number; readonly excludedDestinations: readonly string[] };
  readonly proxyMode: string;
  readonly ruleCounts: Readonly<Record<string, number>>;
  /** Pods sit on a Linux bridge, so iptables must see bridged traffic (br_netfilter). */
  readonly bridgeNfCallNeeded: boolean;
  readonly bridgeNfCallIptables: string;
  readonly hostPortMapping: boolean;
  readonly ipFamilies: readonly (4 | 6)[];
  readonly kernel: string;
  readonly modules: readonly string[];
  /** What a kube-proxy mode switch depends on (agent/proxy-facts.ts); absent from agents older than it. */
  readonly proxy?: ProxyFacts;
}

const TUNNEL_KINDS = new Set(['vxlan', 'geneve', 'ipip', 'gre', 'wireguard', 'ip6tnl', 'sit']);

function ipamKind(type: string, usesPodCidr: boolean): string {
  if (type === 'host-local') return usesPodCidr ? 'host-local (node pod CIDR)' : 'host-local (ranges)';
  if (type === 'aws-cni' || type === 'aws-ipam') return 'aws-eni';
  return type;
}

/** Facts the scan already derived from the same snapshot, so they are not derived twice. */
export interface KnownScanFacts {
  readonly proxyMode?: string;
}

/**
 * The rule model, or undefined when the snapshot has none or it does not parse: the
 * checks report the parse error (an `error` finding); the fingerprint then counts no rules
 * rather than fail the scan.
 */
function parsedDataplane(s: NodeSnapshot): Dataplane | undefined {
  try {
    return dataplaneOf(s);
  } catch {
    return undefined;
  }
}

export function fingerprintNode(s: NodeSnapshot, known: KnownScanFacts = {}): NodeFingerprint {
  const dp = parsedDataplane(s);
  const active = activeCniProfile(s.cni);
  const profile = active?.profile;
  const links = s.links ?? [];
  const defaultRoute = (s.routes ?? []).find((r) => r.table === 254 && r.family === 4 && r.dst === '0.0.0.0/0');
  const underlay = links.find((l) => l.name === (defaultRoute?.dev ?? defaultRoute?.nexthops?.[0]?.dev));
  const tunnel = links.find((l) => TUNNEL_KINDS.has(l.kind));
  const ciliumHost = links.find((l) => l.name === 'cilium_host');
  const bridge = profile?.bridge ? links.find((l) => l.name === profile.bridge) : undefined;
  // kubenet: the kubelet builds cbr0 itself and keeps its bridge config out of the CNI conf
  // dir, so a node with cbr0 and no valid CNI config is kubenet, not an unknown CNI.
  const kubenetBridge = profile ? undefined : links.find((l) => l.name === 'cbr0' && l.kind === 'bridge');
  let kind: DataPathKind = 'unknown';
  let device = '';
  let mtu = 0;
  if (profile?.family === 'cilium' || ciliumHost) {
    kind = tunnel ? 'overlay' : 'ebpf';
    const d = tunnel ?? ciliumHost;
    device = d?.name ?? 'cilium_host';
    mtu = d?.mtu ?? 0;
  } else if (tunnel) {
    kind = 'overlay'; device = tunnel.name; mtu = tunnel.mtu;
  } else if (profile?.bridge) {
    kind = 'bridge'; device = profile.bridge; mtu = bridge?.mtu ?? 0;
  } else if (profile) {
    kind = 'routed';
  } else if (kubenetBridge) {
    kind = 'bridge'; device = kubenetBridge.name; mtu = kubenetBridge.mtu;
  }
  const ipam = profile?.ipam;
  const podCidrSource: NodeFingerprint['podCidrSource'] = profile?.usesNodePodCIDR || kubenetBridge
    ? 'node spec.podCIDRs'
    : ipam && ipam.subnets.length > 0 ? 'cni ipam ranges' : profile && ['calico', 'cilium', 'aws-vpc', 'azure'].includes(profile.family) ? 'cni ipam (cluster pool)' : 'unknown';
  const addrs = links.flatMap((l) => l.addresses).filter((a) => a.scope === 'global');
  const ipFamilies = ([4, 6] as const).filter((f) => addrs.some((a) => a.family === f));
  return {
    node: s.node,
    cni: {
      family: profile?.family ?? (kubenetBridge ? 'kubenet' : s.cni ? 'none' : ''),
      mainType: profile?.mainType ?? (kubenetBridge ? 'kubenet' : ''),
      file: active?.file ?? '',
      specVersion: active?.config.cniVersion ?? '',
      binaries: s.cni?.binaries ?? [],
    },
    ipam: ipam ? ipamKind(ipam.type, ipam.usesPodCidr) : profile?.family === 'aws-vpc' ? 'aws-eni' : profile?.family === 'cilium' ? 'cilium' : kubenetBridge ? ipamKind('host-local', true) : '',
    dataPath: {
      kind, device, mtu, underlayMtu: underlay?.mtu ?? 0, underlayDevice: underlay?.name ?? '',
      underlayAddress: (underlay?.addresses.find((a) => a.scope === 'global' && a.family === 4) ?? underlay?.addresses.find((a) => a.scope === 'global'))?.address ?? '',
    },
    podCidrSource,
    // kubenet gives cbr0 the first address of the node's pod CIDR.
    podCidrs: ipam?.subnets ?? (kubenetBridge ? kubenetBridge.addresses.filter((a) => a.scope === 'global').map((a) => canonicalCidr(`${a.address}/${a.prefixLength}`)) : []),
    masquerade: masqueradeFacts(dp),
    proxyMode: known.proxyMode ?? proxyModeOf(s),
    ruleCounts: ruleCounts(dp),
    bridgeNfCallNeeded: kind === 'bridge',
    bridgeNfCallIptables: s.sysctls?.['net.bridge.bridge-nf-call-iptables'] ?? '',
    hostPortMapping: profile?.capabilities.includes('port-mapping') ?? kubenetBridge !== undefined,
    ipFamilies,
    kernel: s.sysctls?.['kernel.osrelease'] ?? '',
    modules: s.kernelModules ?? [],
    proxy: proxyFacts(s),
  };
}

function proxyModeOf(s: NodeSnapshot): string {
  try {
    return detectProxyMode(s);
  } catch {
    return 'unknown';
  }
}

/**
 * kube-proxy's per-Service and per-endpoint chains (iptables KUBE-SVC/SVL/SEP/EXT/FW-*, nftables
 * service-/endpoint-/external-/firewall-*) hold DNATs, marks and jumps, never a masquerade:
 * they are nearly all of the rules at 10k Services, so the walk skips them by name.
 */
const PER_SERVICE_CHAIN = /^(KUBE-(SVC|SVL|SEP|EXT|FW)-|service-|endpoint-|external-|firewall-)/;

function masqueradeFacts(dp: Dataplane | undefined): NodeFingerprint['masquerade'] {
  if (!dp) return { rules: 0, excludedDestinations: [] };
  let rules = 0;
  const excluded = new Set<string>();
  for (const family of [4, 6] as const) {
    for (const t of tablesFor(dp, family)) {
      for (const chain of t.chains.values()) {
        if (PER_SERVICE_CHAIN.test(chain.name)) continue;
        let masqueradeHere = false;
        // After `-m mark ! --mark M -j RETURN` (nft: `meta mark & M == 0 return`) only marked
        // packets go on: kube-proxy's KUBE-POSTROUTING masquerades marked Service traffic that way.
        let onlyMarkedFromHere = false;
        const returned: string[] = [];
        for (const r of chain.rules) {
          if (r.verdict.kind === 'return') {
            if (r.matches.some((m) => m.kind === 'mark' && (m.neg ? m.value !== 0 : m.value === 0))) onlyMarkedFromHere = true;
            // `-j RETURN` before a masquerade for destinations inside the pod network (flannel, ip-masq-agent).
            for (const m of r.matches) if (m.kind === 'addr' && m.field === 'dst' && !m.neg) for (const p of m.prefixes) returned.push(formatPrefix(p));
            continue;
          }
          if (r.verdict.kind !== 'masquerade' && r.verdict.kind !== 'snat') continue;
          if (r.verdict.kind === 'masquerade') masqueradeHere = true;
          // kube-proxy's own masquerade acts on marked Service traffic only, not pod traffic.
          if (onlyMarkedFromHere || r.matches.some((m) => m.kind === 'mark')) continue;
          rules++;
          for (const m of r.matches) if (m.kind === 'addr' && m.field === 'dst' && m.neg) for (const p of m.prefixes) excluded.add(formatPrefix(p));
        }
        if (masqueradeHere) for (const p of returned) excluded.add(p);
      }
    }
  }
  return { rules, excludedDestinations: [...excluded].sort() };
}

function ruleCounts(dp: Dataplane | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  if (!dp) return out;
  const count = (rs: { tables: readonly { chains: Map<string, Chain> }[] } | undefined, key: string): void => {
    if (!rs) return;
    let n = 0;
    // `size`, not `rules.length`: kube-proxy's packed chains would be read back from the dump.
    for (const t of rs.tables) for (const c of t.chains.values()) n += c.size ?? c.rules.length;
    out[key] = n;
  };
  count(dp.iptables, dp.iptables?.backend ?? 'iptables');
  count(dp.ip6tables, `${dp.ip6tables?.backend ?? 'ip6tables'} (IPv6)`);
  count(dp.nftables, 'nftables');
  if (dp.ipvs) out['ipvs virtual servers'] = dp.ipvs.length;
  return out;
}
