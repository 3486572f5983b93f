// Amazon VPC CNI: pods take VPC addresses from the node's ENIs, so pods per node are bounded
// by the instance type's ENIs and addresses per ENI (unless prefix delegation is on).
import type { TargetProfile } from '../profile.js';
import { allFeatures, check, no, num, yes } from './facts.js';

const CNI = 'https://docs.aws.amazon.com/eks/latest/userguide/managing-vpc-cni.html';
const POLICY = 'https://docs.aws.amazon.com/eks/latest/userguide/cni-network-policy.html';
const MAXPODS = 'https://docs.aws.amazon.com/eks/latest/userguide/choosing-instance-type.html#determine-max-pods';
const IPV6 = 'https://docs.aws.amazon.com/eks/latest/userguide/cni-ipv6.html';

export const awsVpcCni: TargetProfile = {
  id: 'aws-vpc-cni', title: 'Amazon VPC CNI (pods on the VPC)', family: 'aws-vpc', dataPath: 'routed',
  networkPolicy: yes(POLICY),
  policyFeatures: allFeatures(check(POLICY, 'network policy needs VPC CNI 1.14+ with enableNetworkPolicy; verify the features you use')),
  ipv6: yes(IPV6),
  dualStack: no(IPV6),
  encryption: no(CNI),
  overlayOverheadBytes: num(0, CNI),
  kubeProxyReplacement: false,
  hostPort: check('https://github.com/aws/amazon-vpc-cni-k8s#cni-configuration-variables', 'hostPort needs the portmap plugin chained in the VPC CNI configuration'),
  vpcNativeIpam: true,
  maxPodsPerNode: check(MAXPODS, 'bounded by the instance type\'s ENIs and addresses per ENI; compute it for your instance types'),
  kernelMin: check(POLICY, 'network policy enforcement needs a recent kernel; see the page'),
  modules: [],
  clouds: ['aws'],
  incompatibleTools: [],
  needsBridgeNfCall: false,
};
