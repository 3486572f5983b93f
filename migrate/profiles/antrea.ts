// Antrea: Open vSwitch data path with a Geneve overlay by default, full Kubernetes policy.
import type { TargetProfile } from '../profile.js';
import { allFeatures, check, yes } from './facts.js';

const POLICY = 'https://antrea.io/docs/main/docs/network-policy/';
const ARCH = 'https://antrea.io/docs/main/docs/design/architecture/';
const IPSEC = 'https://antrea.io/docs/main/docs/traffic-encryption/';
const DUAL = 'https://antrea.io/docs/main/docs/ipv6/';

export const antrea: TargetProfile = {
  id: 'antrea', title: 'Antrea (Open vSwitch, Geneve overlay)', family: 'antrea', dataPath: 'overlay',
  networkPolicy: yes(POLICY),
  policyFeatures: allFeatures(yes(POLICY)),
  ipv6: yes(DUAL),
  dualStack: yes(DUAL),
  encryption: yes(IPSEC),
  overlayOverheadBytes: check(ARCH, 'Geneve overhead depends on the options Antrea sets; Antrea computes the pod MTU itself'),
  kubeProxyReplacement: false,
  hostPort: yes(ARCH),
  vpcNativeIpam: false,
  kernelMin: check(ARCH, 'needs the openvswitch kernel module; no version is documented'),
  modules: ['openvswitch', 'geneve'],
  clouds: ['any'],
  incompatibleTools: [],
  needsBridgeNfCall: false,
};
