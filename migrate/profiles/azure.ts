// Azure CNI variants on AKS: VNet (pods take VNet addresses), Overlay (pods from a private
// CIDR, NAT to the VNet), and Azure CNI powered by Cilium (eBPF, replaces kube-proxy).
import type { TargetProfile } from '../profile.js';
import { allFeatures, check, no, num, yes } from './facts.js';

const VNET = 'https://learn.microsoft.com/en-us/azure/aks/configure-azure-cni';
const OVERLAY = 'https://learn.microsoft.com/en-us/azure/aks/azure-cni-overlay';
const CILIUM = 'https://learn.microsoft.com/en-us/azure/aks/azure-cni-powered-by-cilium';
const POLICIES = 'https://learn.microsoft.com/en-us/azure/aks/use-network-policies';
const DUAL = 'https://learn.microsoft.com/en-us/azure/aks/azure-cni-overlay-dual-stack';

const policyByEngine = check<boolean>(POLICIES, 'enforced only with a policy engine (--network-policy azure, calico or cilium); verify which your cluster will run');

const common = {
  family: 'azure',
  networkPolicy: policyByEngine,
  policyFeatures: allFeatures(policyByEngine),
  encryption: no(VNET),
  kubeProxyReplacement: false,
  hostPort: yes(VNET),
  kernelMin: check<string>(VNET, 'AKS node images carry their own kernel'),
  modules: [],
  clouds: ['azure'] as const,
  incompatibleTools: [],
  needsBridgeNfCall: false,
};

export const azureCni: TargetProfile = {
  ...common, id: 'azure-cni', title: 'Azure CNI (pods on the VNet)', dataPath: 'routed',
  ipv6: no(VNET), dualStack: no(VNET),
  overlayOverheadBytes: num(0, VNET),
  vpcNativeIpam: true,
  maxPodsPerNode: num(250, VNET),
};

export const azureCniOverlay: TargetProfile = {
  ...common, id: 'azure-cni-overlay', title: 'Azure CNI Overlay (pods from a private CIDR)', dataPath: 'routed',
  ipv6: yes(DUAL), dualStack: yes(DUAL),
  overlayOverheadBytes: num(0, OVERLAY),
  vpcNativeIpam: false,
  maxPodsPerNode: num(250, OVERLAY),
};

export const azureCniCilium: TargetProfile = {
  ...common, id: 'azure-cni-cilium', title: 'Azure CNI powered by Cilium', family: 'cilium', dataPath: 'ebpf',
  networkPolicy: yes(CILIUM),
  policyFeatures: { ...allFeatures(yes(CILIUM)), ipBlockExcept: check(CILIUM, 'the limitations section lists ipBlock restrictions for node and pod addresses') },
  ipv6: check(CILIUM, 'dual-stack support depends on the AKS release'), dualStack: check(CILIUM, 'dual-stack support depends on the AKS release'),
  overlayOverheadBytes: num(0, CILIUM),
  kubeProxyReplacement: true,
  vpcNativeIpam: false,
  maxPodsPerNode: num(250, CILIUM),
  incompatibleTools: [{ match: 'kube-proxy', why: 'Azure CNI powered by Cilium replaces kube-proxy', source: CILIUM }],
};
