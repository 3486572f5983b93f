// What a migration target is: one data file per target CNI under migrate/profiles/, each fact
// with its source. A fact the project could not confirm from the target's own documentation
// is `check` and shown to the user as something to verify, never as a yes or a no.
export type Fact<T> = { readonly value: T; readonly source: string } | { readonly value: 'check'; readonly source: string; readonly note: string };

/** NetworkPolicy features netconform looks for in a cluster's policies. */
export const POLICY_FEATURES = ['egress', 'ipBlockExcept', 'namedPorts', 'endPort', 'namespaceAndPodSelector'] as const;
export type PolicyFeature = (typeof POLICY_FEATURES)[number];

export type Cloud = 'azure' | 'aws' | 'gcp' | 'on-prem' | 'any';

export interface TargetProfile {
  /** `--to` name, e.g. `cilium-kpr`. */
  readonly id: string;
  readonly title: string;
  /** CNI family as netconform detects it on a node (agent/checks/cni/family.ts). */
  readonly family: string;
  readonly dataPath: 'bridge' | 'routed' | 'overlay' | 'ebpf';
  /** Kubernetes NetworkPolicy enforced at all, and per feature. */
  readonly networkPolicy: Fact<boolean>;
  readonly policyFeatures: Readonly<Record<PolicyFeature, Fact<boolean>>>;
  readonly ipv6: Fact<boolean>;
  readonly dualStack: Fact<boolean>;
  readonly encryption: Fact<boolean>;
  /** Bytes an encapsulation adds to each packet (0 for no overlay). */
  readonly overlayOverheadBytes: Fact<number>;
  readonly kubeProxyReplacement: boolean;
  readonly hostPort: Fact<boolean>;
  /** Pods take addresses from the cloud network (VPC/VNet): pods per node bounded by the cloud. */
  readonly vpcNativeIpam: boolean;
  /** Maximum pods per node under the target's IPAM, when the target bounds it below kubelet's 110. */
  readonly maxPodsPerNode?: Fact<number>;
  /** Minimum kernel version as `major.minor`. */
  readonly kernelMin: Fact<string>;
  readonly modules: readonly string[];
  readonly clouds: readonly Cloud[];
  /** DaemonSets (by name or image fragment) known not to work with the target. */
  readonly incompatibleTools: readonly { readonly match: string; readonly why: string; readonly source: string }[];
  /** Does this target need bridge-nf-call (pods on a Linux bridge with iptables rules)? */
  readonly needsBridgeNfCall: boolean;
}

export function isCheck<T>(f: Fact<T>): f is { value: 'check'; source: string; note: string } {
  return f.value === 'check';
}
