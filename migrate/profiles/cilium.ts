// Cilium: eBPF data path, overlay (VXLAN/Geneve) or native routing, optionally replacing
// kube-proxy (then Services are programmed in BPF maps, not iptables).
import type { TargetProfile } from '../profile.js';
import { allFeatures, check, num, yes } from './facts.js';

const POLICY = 'https://docs.cilium.io/en/stable/network/kubernetes/policy/';
const REQS = 'https://docs.cilium.io/en/stable/operations/system_requirements/';
const KPR = 'https://docs.cilium.io/en/stable/network/kubernetes/kubeproxy-free/';
const ENCRYPTION = 'https://docs.cilium.io/en/stable/security/network/encryption/';
const IPV6 = 'https://docs.cilium.io/en/stable/network/concepts/ipam/';
const ROUTING = 'https://docs.cilium.io/en/stable/network/concepts/routing/';
const ISTIO = 'https://docs.cilium.io/en/stable/network/servicemesh/istio/';
const MULTUS = 'https://docs.cilium.io/en/stable/network/kubernetes/configuration/#adjusting-cni-configuration';

const common = {
  family: 'cilium',
  dataPath: 'ebpf' as const,
  networkPolicy: yes(POLICY),
  policyFeatures: allFeatures(yes(POLICY)),
  ipv6: yes(IPV6),
  dualStack: yes(IPV6),
  encryption: yes(ENCRYPTION),
  overlayOverheadBytes: num(50, ROUTING),
  vpcNativeIpam: false,
  kernelMin: check<string>(REQS, 'the minimum kernel differs by Cilium release; check the requirements page of the release you install'),
  modules: ['vxlan'],
  clouds: ['any'] as const,
  needsBridgeNfCall: false,
};

export const cilium: TargetProfile = {
  ...common, id: 'cilium', title: 'Cilium with kube-proxy (overlay)',
  kubeProxyReplacement: false,
  hostPort: yes('https://www.cni.dev/plugins/current/meta/portmap/'),
  incompatibleTools: [
    { match: 'istio-cni', why: 'Istio CNI chains after Cilium only with cni.exclusive=false', source: ISTIO },
    { match: 'multus', why: 'Multus needs Cilium installed with cni.exclusive=false', source: MULTUS },
  ],
};

export const ciliumKpr: TargetProfile = {
  ...common, id: 'cilium-kpr', title: 'Cilium replacing kube-proxy (eBPF Services)',
  kubeProxyReplacement: true,
  hostPort: yes(`${KPR}#container-hostport-support`),
  incompatibleTools: [
    { match: 'kube-proxy', why: 'kube-proxy must be removed (and its rules cleaned) when Cilium replaces it', source: KPR },
    { match: 'istio-cni', why: 'Istio with Cilium\'s socket load balancing needs bpf-lb-sock-hostns-only=true and cni.exclusive=false', source: ISTIO },
    { match: 'multus', why: 'Multus needs Cilium installed with cni.exclusive=false', source: MULTUS },
  ],
};
