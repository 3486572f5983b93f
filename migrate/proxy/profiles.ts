// kube-proxy mode targets for `netconform migrate check --to`, next to the CNI profiles.
// Every version and requirement names where it comes from; where behaviour depends on the
// kube-proxy release, the finding says which release.

export interface ProxyModeTarget {
  /** `--to` name. */
  readonly id: string;
  readonly title: string;
  readonly mode: 'nftables';
  readonly kernelMin: { readonly value: string; readonly source: string };
  readonly nftMin: { readonly value: string; readonly source: string };
  /** Release where the mode became GA, and the earliest where it exists at all. */
  readonly gaVersion: string;
  readonly firstVersion: string;
  /** KEP-6032's opt-in userspace proxy for localhost NodePorts: first release (alpha), TCP only. */
  readonly localhostProxy: { readonly value: string; readonly source: string };
  /** The release that deprecated IPVS mode. */
  readonly ipvsDeprecatedIn: string;
}

const text = (value: string, source: string): { value: string; source: string } => ({ value, source });

const SUPPORTED_GO = 'kubernetes/kubernetes pkg/proxy/nftables/supported.go (kernel ≥ 5.13 unless KUBE_PROXY_NFTABLES_SKIP_KERNEL_VERSION_CHECK; nft ≥ 1.0.1 via knftables, issue 122743)';

export const kubeProxyNftables: ProxyModeTarget = {
  id: 'kube-proxy-nftables',
  title: 'kube-proxy in nftables mode',
  mode: 'nftables',
  kernelMin: text('5.13', SUPPORTED_GO),
  nftMin: text('1.0.1', SUPPORTED_GO),
  gaVersion: '1.33',
  firstVersion: '1.29',
  localhostProxy: text('1.37', 'KEP-6032 (kubernetes/enhancements#6032: alpha in v1.37; kubernetes/kubernetes#138427: opt-in userspace TCP proxy)'),
  ipvsDeprecatedIn: '1.35',
};

export const PROXY_TARGETS: readonly ProxyModeTarget[] = [kubeProxyNftables];

export function proxyTargetById(id: string): ProxyModeTarget | undefined {
  return PROXY_TARGETS.find((t) => t.id === id);
}

