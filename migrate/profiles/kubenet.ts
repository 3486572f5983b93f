// kubenet: the kubelet's built-in bridge (cbr0) with host-local IPAM from the Node's podCIDR;
// routes between nodes come from the cloud (AKS route tables) or the operator. No policy.
import type { TargetProfile } from '../profile.js';
import { allFeatures, check, K8S_NETWORK_PLUGINS, no, num, yes } from './facts.js';

const AKS_KUBENET = 'https://learn.microsoft.com/en-us/azure/aks/configure-kubenet';

export const kubenet: TargetProfile = {
  id: 'kubenet', title: 'kubenet (kubelet bridge, host-local IPAM)', family: 'bridge', dataPath: 'bridge',
  networkPolicy: no(K8S_NETWORK_PLUGINS),
  policyFeatures: allFeatures(no(K8S_NETWORK_PLUGINS)),
  ipv6: check(AKS_KUBENET, 'AKS kubenet is IPv4 only; other kubenet setups vary'),
  dualStack: no(AKS_KUBENET),
  encryption: no(K8S_NETWORK_PLUGINS),
  overlayOverheadBytes: num(0, K8S_NETWORK_PLUGINS),
  kubeProxyReplacement: false,
  hostPort: yes(K8S_NETWORK_PLUGINS),
  vpcNativeIpam: false,
  kernelMin: check(K8S_NETWORK_PLUGINS, 'no documented minimum beyond the distribution\'s'),
  modules: ['br_netfilter'],
  clouds: ['any'],
  incompatibleTools: [],
  needsBridgeNfCall: true,
};
