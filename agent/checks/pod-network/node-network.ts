// Facts the pod-network checks share, derived (purely) from the snapshot and the cluster:
// which pod CIDRs this node has and who says so, which Linux bridge its pods sit on, which
// links are pods' veths and which are the host's own interfaces.
import { findNode, type ClusterContext } from '../../../common/cluster.js';
import { formatCidr, parseCidr, sameCidr, type Cidr } from '../../../common/cidr.js';
import type { LinkFacts } from '../../inspect/network.js';
import type { NodeSnapshot } from '../../snapshot.js';
import { activeCniProfile, ipamCidrs, type CniProfile } from '../cni/conflist.js';

/** Link kinds that carry pod traffic between nodes (overlays, tunnels). */
export const TUNNEL_KINDS: ReadonlySet<string> = new Set(['vxlan', 'geneve', 'ipip', 'gre', 'gretap', 'ip6tnl', 'ip6gre', 'sit', 'wireguard', 'ipvlan', 'vti', 'openvswitch']);

/** Names CNIs give their own devices (which legitimately carry pod-CIDR addresses). */
const CNI_DEVICE_NAME = /^(cilium_|flannel|cali|tunl|vxlan|weave|datapath|antrea-|ovn|genev_sys|kube-ipvs|kube-bridge|nodelocaldns)/;

/** A veth whose peer lives in another network namespace: a pod's host-side interface. */
export function isPodVeth(l: LinkFacts): boolean {
  return l.kind === 'veth' && l.peerNetnsId !== undefined;
}

/** The host's own interfaces (uplinks, bonds, VLANs) — not pods', not bridges, not CNI devices. */
export function isHostInterface(l: LinkFacts): boolean {
  if (l.name === 'lo' || l.kind === 'bridge' || TUNNEL_KINDS.has(l.kind) || isPodVeth(l) || CNI_DEVICE_NAME.test(l.name)) return false;
  return l.kind === '' || l.kind === 'veth' || l.kind === 'bond' || l.kind === 'vlan' || l.kind === 'team' || l.kind === 'macvlan';
}

export type PodCidrSource = 'Node spec.podCIDRs' | 'CNI IPAM range' | 'bridge address';

export interface PodCidrs {
  readonly cidrs: readonly Cidr[];
  readonly source: PodCidrSource;
}

export function specPodCidrs(snapshot: NodeSnapshot, cluster: ClusterContext | undefined): Cidr[] {
  return (findNode(cluster, snapshot.node)?.podCIDRs ?? []).map((c) => parseCidr(c)).filter((c): c is Cidr => c !== undefined);
}

/** Networks of the global addresses on a link (`10.244.1.1/24` → 10.244.1.0/24). */
export function linkNetworks(l: LinkFacts | undefined): Cidr[] {
  return (l?.addresses ?? []).filter((a) => a.scope === 'global').map((a) => parseCidr(`${a.address}/${a.prefixLength}`)).filter((c): c is Cidr => c !== undefined);
}

/** The node's pod CIDRs: the Node spec when known, else the CNI IPAM range, else the bridge's networks. */
export function nodePodCidrs(snapshot: NodeSnapshot, cluster: ClusterContext | undefined): PodCidrs | undefined {
  const spec = specPodCidrs(snapshot, cluster);
  if (spec.length > 0) return { cidrs: spec, source: 'Node spec.podCIDRs' };
  const active = activeCniProfile(snapshot.cni);
  const ipam = ipamCidrs(active?.profile.ipam);
  if (ipam.length > 0) return { cidrs: ipam, source: 'CNI IPAM range' };
  const bridge = resolvePodBridge(snapshot);
  if (bridge.kind === 'bridge' && bridge.usesNodePodCIDR) {
    const nets = linkNetworks(bridge.link);
    if (nets.length > 0) return { cidrs: dedupe(nets), source: 'bridge address' };
  }
  return undefined;
}

export function dedupe(cidrs: readonly Cidr[]): Cidr[] {
  const out: Cidr[] = [];
  for (const c of cidrs) if (!out.some((o) => sameCidr(o, c))) out.push(c);
  return out;
}

export type PodBridge =
  | {
    readonly kind: 'bridge';
    readonly name: string;
    readonly link: LinkFacts | undefined;
    /** kubenet (no CNI config: the kubelet's built-in bridge) or the CNI file naming the bridge. */
    readonly flavour: 'kubenet' | 'cni';
    /** Where the name comes from, for messages. */
    readonly origin: string;
    readonly hairpinExpected: boolean;
    readonly usesNodePodCIDR: boolean;
    readonly profile?: CniProfile;
  }
  | { readonly kind: 'none'; readonly reason: string; readonly profile?: CniProfile };

/**
 * The Linux bridge pods sit on. From the active CNI config when it names one; with no CNI
 * config (kubenet), cbr0 — or cni0 when only that exists.
 */
export function resolvePodBridge(snapshot: NodeSnapshot): PodBridge {
  const links = snapshot.links ?? [];
  const byName = (n: string): LinkFacts | undefined => links.find((l) => l.name === n);
  const active = activeCniProfile(snapshot.cni);
  if (active && active.profile.bridge === null) {
    return { kind: 'none', reason: `${active.profile.family} (${active.file}) attaches pods without a Linux bridge`, profile: active.profile };
  }
  if (active && typeof active.profile.bridge === 'string') {
    return {
      kind: 'bridge', name: active.profile.bridge, link: byName(active.profile.bridge), flavour: 'cni',
      origin: active.file, hairpinExpected: active.profile.hairpin, usesNodePodCIDR: active.profile.usesNodePodCIDR, profile: active.profile,
    };
  }
  // kubenet: the kubelet's own bridge config. Hairpin is per port (hairpin-veth) unless the
  // bridge itself is promiscuous (promiscuous-bridge mode).
  const name = byName('cbr0') ? 'cbr0' : byName('cni0') ? 'cni0' : 'cbr0';
  const link = byName(name);
  return {
    kind: 'bridge', name, link, flavour: 'kubenet', origin: active ? `${active.profile.family} (${active.file})` : 'kubenet',
    hairpinExpected: !(link?.promiscuous ?? false), usesNodePodCIDR: true, ...(active ? { profile: active.profile } : {}),
  };
}

/** Whether pods sit on a Linux bridge: true/false, or undefined when nothing says. */
export function podsOnBridge(snapshot: NodeSnapshot): { readonly onBridge: boolean | undefined; readonly why: string } {
  const active = activeCniProfile(snapshot.cni);
  if (active?.profile.bridge === null) return { onBridge: false, why: `${active.profile.family} (${active.file}) attaches pods without a Linux bridge` };
  if (active && typeof active.profile.bridge === 'string') return { onBridge: true, why: `${active.file} puts pods on bridge ${active.profile.bridge}` };
  if (!snapshot.links) return { onBridge: undefined, why: 'no link facts to tell' };
  const port = snapshot.links.find((l) => isPodVeth(l) && l.slaveKind === 'bridge');
  if (port) return { onBridge: true, why: `pod veths are ports of bridge ${port.master ?? '?'}` };
  const br = snapshot.links.find((l) => l.kind === 'bridge' && (l.name === 'cbr0' || l.name === 'cni0'));
  if (br) return { onBridge: true, why: `pod bridge ${br.name} exists` };
  return { onBridge: false, why: 'no pod veth is a bridge port and there is no cbr0/cni0' };
}

export const cidrText = formatCidr;
