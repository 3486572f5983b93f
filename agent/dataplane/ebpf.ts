// Service dataplanes other than kube-proxy, recognised from what they leave on a node: links
// they create, their CNI config, maps they pin in bpffs. Cilium's kube-proxy replacement is
// read (its LB maps, cilium-maps.ts); the others are only named, so the service-routing
// checks can skip honestly instead of failing a node for lacking KUBE-* rules.
//   Cilium         links cilium_host / cilium_net / cilium_vxlan / cilium_geneve, CNI type
//                  cilium-cni, maps cilium_lb{4,6}_services_v2 under <bpffs>/tc/globals
//   Calico eBPF    links bpfin.cali / bpfout.cali (bpfnatin / bpfnatout before Calico 3.21),
//                  maps cali_v4_nat_fe* / cali_v6_nat_fe* under <bpffs>/tc/globals
//   kube-router    links kube-dummy-if (its IPVS service addresses) and kube-bridge
//   OVN-Kubernetes links ovn-k8s-mp0 (management port) and breth0 (gateway bridge)
//   Antrea proxy   link antrea-gw0 together with an antrea CNI config
import type { NodeSnapshot } from '../snapshot.js';
import { activeCniProfile } from '../checks/cni/conflist.js';
import { ciliumLbOf, type CiliumLb } from './cilium-maps.js';

export type OtherDataplaneKind = 'cilium-ebpf' | 'calico-ebpf' | 'kube-router' | 'ovn-kubernetes' | 'antrea-proxy';

export interface OtherDataplane {
  readonly kind: OtherDataplaneKind;
  /** Product name for messages. */
  readonly name: string;
  /** What on the node identified it, for messages and evidence. */
  readonly seen: readonly string[];
  /** Cilium only: the decoded LB maps, when they were read. */
  readonly lb?: CiliumLb;
  /** Cilium only: why the service maps cannot be judged, when they cannot. */
  readonly unreadable?: string;
}

const NAMES: Readonly<Record<OtherDataplaneKind, string>> = {
  'cilium-ebpf': 'Cilium (eBPF kube-proxy replacement)', 'calico-ebpf': 'Calico eBPF dataplane', 'kube-router': 'kube-router service proxy',
  'ovn-kubernetes': 'OVN-Kubernetes', 'antrea-proxy': 'Antrea proxy',
};

const cache = new WeakMap<NodeSnapshot, OtherDataplane | null>();

/** The non-kube-proxy Service dataplane the node shows signs of, if any (Cilium first). */
export function detectOtherDataplane(snapshot: NodeSnapshot): OtherDataplane | undefined {
  const hit = cache.get(snapshot);
  if (hit !== undefined) return hit ?? undefined;
  const d = detect(snapshot);
  cache.set(snapshot, d ?? null);
  return d;
}

function detect(snapshot: NodeSnapshot): OtherDataplane | undefined {
  const links = new Set((snapshot.links ?? []).map((l) => l.name));
  const pins = snapshot.bpf?.pins ?? [];
  let family: string | undefined;
  let cniFile: string | undefined;
  try {
    const p = activeCniProfile(snapshot.cni);
    family = p?.profile.family;
    cniFile = p?.file;
  } catch {
    family = undefined; // a broken CNI config is cni.config's finding, not a dataplane sign
  }
  const linkSigns = (names: readonly string[]): string[] => names.filter((n) => links.has(n)).map((n) => `link ${n}`);

  const cilium = [
    ...linkSigns(['cilium_host', 'cilium_net', 'cilium_vxlan', 'cilium_geneve']),
    ...(family === 'cilium' ? [`CNI config ${cniFile} (cilium-cni)`] : []),
    ...pins.filter((p) => /^cilium_lb[46]_services_v2$/.test(p)).map((p) => `pinned map tc/globals/${p}`),
  ];
  if (cilium.length > 0) {
    let lb: CiliumLb | undefined;
    let unreadable: string | undefined;
    if (!snapshot.bpf) unreadable = 'no bpffs was read (live: --bpf-root, default /sys/fs/bpf; bundle: bpf/)';
    else {
      try {
        lb = ciliumLbOf(snapshot.bpf);
      } catch (err) {
        return { kind: 'cilium-ebpf', name: NAMES['cilium-ebpf'], seen: cilium, unreadable: err instanceof Error ? err.message : String(err) };
      }
      const services = Object.keys(lb.layouts).filter((m) => m.includes('_services_'));
      const problems = Object.entries(lb.unreadable).filter(([m]) => m.includes('_services_') || m.includes('_backends_') || m.startsWith('/'));
      // Service slots name backend ids: without that family's backends map they mean nothing.
      for (const f of [4, 6]) {
        if (lb.layouts[`cilium_lb${f}_services_v2`] && !lb.layouts[`cilium_lb${f}_backends_v3`] && !lb.layouts[`cilium_lb${f}_backends_v2`]) problems.push([`cilium_lb${f}_backends_v3`, 'not pinned or not read (the service map\'s slots name backends in it)']);
      }
      if (problems.length > 0) unreadable = problems.map(([m, why]) => `${m}: ${why}`).join('; ');
      else if (services.length === 0) unreadable = `no cilium_lb4_services_v2 or cilium_lb6_services_v2 map under ${snapshot.bpf.root === 'bundle' ? 'bpf/' : `${snapshot.bpf.root}/tc/globals`}`;
    }
    return { kind: 'cilium-ebpf', name: NAMES['cilium-ebpf'], seen: cilium, ...(lb && !unreadable ? { lb } : {}), ...(unreadable ? { unreadable } : {}) };
  }
  const calico = [
    ...linkSigns(['bpfin.cali', 'bpfout.cali', 'bpfnatin', 'bpfnatout']),
    ...pins.filter((p) => /^cali_v[46]_nat_fe/.test(p)).slice(0, 3).map((p) => `pinned map tc/globals/${p}`),
  ];
  if (calico.length > 0) return { kind: 'calico-ebpf', name: NAMES['calico-ebpf'], seen: calico };
  const kubeRouter = linkSigns(['kube-dummy-if', 'kube-bridge']);
  if (kubeRouter.length > 0) return { kind: 'kube-router', name: NAMES['kube-router'], seen: kubeRouter };
  const ovn = linkSigns(['ovn-k8s-mp0', 'breth0']);
  if (ovn.length > 0) return { kind: 'ovn-kubernetes', name: NAMES['ovn-kubernetes'], seen: ovn };
  if (links.has('antrea-gw0') && family === 'antrea') {
    return { kind: 'antrea-proxy', name: NAMES['antrea-proxy'], seen: ['link antrea-gw0', `CNI config ${cniFile} (antrea)`] };
  }
  return undefined;
}
