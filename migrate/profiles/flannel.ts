// flannel: an overlay (VXLAN) or host routes (host-gw) between nodes' pod CIDRs, with the
// bridge plugin on each node. Networking only: "for network policy, other projects such as
// Calico can be used".
import type { TargetProfile } from '../profile.js';
import { allFeatures, check, no, num, yes } from './facts.js';

const README = 'https://github.com/flannel-io/flannel#networking-details';
const BACKENDS = 'https://github.com/flannel-io/flannel/blob/master/Documentation/backends.md';
const CONFIG = 'https://github.com/flannel-io/flannel/blob/master/Documentation/configuration.md';

const common = {
  family: 'flannel',
  networkPolicy: no(README),
  policyFeatures: allFeatures(no(README)),
  ipv6: yes(CONFIG),
  dualStack: yes(CONFIG),
  encryption: no(BACKENDS),
  kubeProxyReplacement: false,
  hostPort: yes('https://www.cni.dev/plugins/current/meta/portmap/'),
  vpcNativeIpam: false,
  kernelMin: check<string>(BACKENDS, 'VXLAN needs a kernel with the vxlan module; no version is documented'),
  clouds: ['any'] as const,
  incompatibleTools: [],
  needsBridgeNfCall: true,
};

export const flannelVxlan: TargetProfile = {
  ...common, id: 'flannel-vxlan', title: 'flannel, VXLAN backend', dataPath: 'overlay',
  overlayOverheadBytes: num(50, BACKENDS), modules: ['vxlan', 'br_netfilter'],
};

export const flannelHostGw: TargetProfile = {
  ...common, id: 'flannel-host-gw', title: 'flannel, host-gw backend (nodes on one L2 network)', dataPath: 'routed',
  overlayOverheadBytes: num(0, BACKENDS), modules: ['br_netfilter'],
};
