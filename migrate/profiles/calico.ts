// Calico: routed pods (no bridge), BGP or an IPIP/VXLAN overlay, iptables or eBPF data plane,
// calico-ipam block allocation; full Kubernetes NetworkPolicy plus its own policy API.
import type { TargetProfile } from '../profile.js';
import { allFeatures, check, num, yes } from './facts.js';

const POLICY = 'https://docs.tigera.io/calico/latest/network-policy/get-started/kubernetes-policy/kubernetes-network-policy';
const REQS = 'https://docs.tigera.io/calico/latest/getting-started/kubernetes/requirements';
const OVERLAY = 'https://docs.tigera.io/calico/latest/networking/configuring/vxlan-ipip';
const IPV6 = 'https://docs.tigera.io/calico/latest/networking/ipam/ipv6';
const WIREGUARD = 'https://docs.tigera.io/calico/latest/network-policy/encrypt-cluster-pod-traffic';
const EBPF = 'https://docs.tigera.io/calico/latest/operations/ebpf/enabling-ebpf';
const CNI = 'https://docs.tigera.io/calico/latest/reference/configure-cni-plugins';

const common = {
  family: 'calico',
  networkPolicy: yes(POLICY),
  policyFeatures: allFeatures(yes(POLICY)),
  ipv6: yes(IPV6),
  dualStack: yes(IPV6),
  encryption: yes(WIREGUARD),
  hostPort: yes(CNI),
  vpcNativeIpam: false,
  clouds: ['any'] as const,
  incompatibleTools: [],
  needsBridgeNfCall: false,
};

export const calico: TargetProfile = {
  ...common, id: 'calico', title: 'Calico, iptables data plane (VXLAN overlay; IPIP adds 20 bytes, BGP none)', dataPath: 'overlay',
  overlayOverheadBytes: num(50, OVERLAY),
  kubeProxyReplacement: false,
  kernelMin: check(REQS, 'the requirements page lists distributions, not a kernel version'),
  modules: ['vxlan'],
};

export const calicoEbpf: TargetProfile = {
  ...common, id: 'calico-ebpf', title: 'Calico, eBPF data plane (replaces kube-proxy)', dataPath: 'ebpf',
  overlayOverheadBytes: num(50, OVERLAY),
  kubeProxyReplacement: true,
  kernelMin: check(EBPF, 'the eBPF data plane lists supported distributions and kernels; verify your kernel there'),
  modules: ['vxlan'],
};
