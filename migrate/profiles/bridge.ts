// The reference bridge plugin (containernetworking/plugins) with host-local IPAM.
import type { TargetProfile } from '../profile.js';
import { allFeatures, check, no, num, yes } from './facts.js';

const BRIDGE = 'https://www.cni.dev/plugins/current/main/bridge/';
const PORTMAP = 'https://www.cni.dev/plugins/current/meta/portmap/';

export const bridge: TargetProfile = {
  id: 'bridge', title: 'CNI bridge plugin', family: 'bridge', dataPath: 'bridge',
  networkPolicy: no(BRIDGE),
  policyFeatures: allFeatures(no(BRIDGE)),
  ipv6: yes('https://www.cni.dev/plugins/current/ipam/host-local/'),
  dualStack: yes('https://www.cni.dev/plugins/current/ipam/host-local/'),
  encryption: no(BRIDGE),
  overlayOverheadBytes: num(0, BRIDGE),
  kubeProxyReplacement: false,
  hostPort: check(PORTMAP, 'only when the conflist chains the portmap plugin'),
  vpcNativeIpam: false,
  kernelMin: check(BRIDGE, 'no documented minimum'),
  modules: ['br_netfilter'],
  clouds: ['any'],
  incompatibleTools: [],
  needsBridgeNfCall: true,
};
