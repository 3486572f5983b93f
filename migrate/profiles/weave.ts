// Weave Net: an overlay mesh with its own policy controller. The project is archived, so
// every fact is one to check before choosing it.
import type { TargetProfile } from '../profile.js';
import { allFeatures, check, yes } from './facts.js';

const REPO = 'https://github.com/weaveworks/weave';

const unmaintained = 'Weave Net is no longer maintained (repository archived); verify before relying on it';

export const weave: TargetProfile = {
  id: 'weave', title: 'Weave Net (archived project)', family: 'weave', dataPath: 'overlay',
  networkPolicy: yes(REPO),
  policyFeatures: allFeatures(check(REPO, unmaintained)),
  ipv6: check(REPO, unmaintained),
  dualStack: check(REPO, unmaintained),
  encryption: yes(REPO),
  overlayOverheadBytes: check(REPO, 'Weave chooses its own MTU (1376 by default) for fast datapath VXLAN'),
  kubeProxyReplacement: false,
  hostPort: check(REPO, unmaintained),
  vpcNativeIpam: false,
  kernelMin: check(REPO, unmaintained),
  modules: ['vxlan', 'openvswitch'],
  clouds: ['any'],
  incompatibleTools: [],
  needsBridgeNfCall: true,
};
