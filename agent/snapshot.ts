// NodeSnapshot: everything the agent read from one node, as plain JSON-serialisable data.
// Live inspection and bundle reading both produce it, so every check runs identically on
// both. A facet that could not be read is absent (undefined): the checks that need it skip.
import type { LinkFacts, RouteFacts } from './inspect/network.js';
import type { CniFacts } from './inspect/cni.js';
import type { DataplaneFacts } from './dataplane/facts.js';
import type { BpfFacts } from './inspect/bpf.js';
import type { PodProcessFacts } from './inspect/pod-processes.js';
import type { KubeProxyFacts } from './inspect/kube-proxy.js';
import type { ConntrackFacts } from './inspect/conntrack.js';
import type { ConnectedSocket } from './inspect/proc-net-sockets.js';
import type { KubeProxyConfigFacts } from './inspect/kube-proxy-config.js';

export interface NodeSnapshot {
  readonly node: string;
  /** RFC 3339 time the facts were read. */
  readonly capturedAt: string;
  readonly source: 'live' | 'bundle';
  /** `sysctl -a` as key → value (keys with dots, e.g. `net.ipv4.ip_forward`). */
  readonly sysctls?: Readonly<Record<string, string>>;
  readonly links?: readonly LinkFacts[];
  readonly routes?: readonly RouteFacts[];
  readonly cni?: CniFacts;
  readonly dataplane?: DataplaneFacts;
  /**
   * Live: the nf_tables generation read just before the rule dump (agent/inspect/nft-generation.ts);
   * absent when the kernel has no nf_tables, and in bundles.
   */
  readonly nftGeneration?: number;
  /**
   * Live, asked for by the run loop only: the generation was the one of its previous dump, so
   * the rules were not dumped again and `dataplane` is absent — the run loop supplies its own.
   */
  readonly dataplaneUnchanged?: true;
  /**
   * Live, asked for by the run loop only: the kube-proxy migration facets (conntrack,
   * hostConnections, nftVersion, kubeProxyConfig: PROXY_FACT_FACETS) were not read this time;
   * the run loop supplies the ones it read last (agent/steady-scan.ts).
   */
  readonly proxyFactsNotRead?: true;
  /** Data-path kernel modules present (/sys/module): agent/inspect/kernel-modules.ts. */
  readonly kernelModules?: readonly string[];
  /** eBPF dataplanes' pinned maps (Cilium's LB maps) as bpftool -j dumps them. */
  readonly bpf?: BpfFacts;
  /** Processes by pod and container, their network namespaces and listening sockets. */
  readonly pods?: PodProcessFacts;
  /** kube-proxy's own /metrics (sync progress) and the judgement windows; live: always set. */
  readonly kubeProxy?: KubeProxyFacts;
  /** Tracked connections to loopback addresses or DNATed (conntrack -L): who uses which NodePort how. */
  readonly conntrack?: ConntrackFacts;
  /** The node's own TCP client sockets to loopback addresses (/proc/net/tcp[6]). */
  readonly hostConnections?: readonly ConnectedSocket[];
  /** The host's `nft` version (nft --version), e.g. `1.0.9`. */
  readonly nftVersion?: string;
  /** kube-proxy's configuration as it reports it (/configz). */
  readonly kubeProxyConfig?: KubeProxyConfigFacts;
}

/**
 * The facets read only for the kube-proxy mode migration (agent/proxy-facts.ts, carried in
 * the fingerprint): no check needs them, and reading them (conntrack twice, /proc/net/tcp,
 * kube-proxy's /configz) cost more than an idle scan, so the run loop reads them on their own
 * period (--proxy-facts-interval).
 */
export const PROXY_FACT_FACETS = ['conntrack', 'hostConnections', 'nftVersion', 'kubeProxyConfig'] as const;

export type Facet = 'sysctls' | 'links' | 'routes' | 'cni' | 'dataplane' | 'kernelModules' | 'bpf' | 'pods' | 'kubeProxy' | 'conntrack' | 'hostConnections' | 'nftVersion' | 'kubeProxyConfig';

/** Where each facet comes from in a bundle, for skip reasons people can act on. */
export const FACET_SOURCES: Record<Facet, string> = {
  sysctls: 'sysctl.txt (sysctl -a)',
  links: 'ip-link.json and ip-addr.json (ip -j -d link show; ip -j addr show)',
  routes: 'ip-route.json (ip -j route show table all)',
  cni: 'cni/ (copy of /etc/cni/net.d) and cni-bin.txt',
  dataplane: 'iptables-save.txt, nft.json or ipvsadm.txt',
  kernelModules: 'modules.txt (the data-path modules in /sys/module)',
  bpf: 'bpf/ (bpftool -j map dump pinned of <bpffs>/tc/globals/cilium_lb*)',
  pods: 'pods.json (processes by pod from --proc-root: cgroups, ns/net, net/tcp|udp)',
  kubeProxy: 'kube-proxy-metrics.txt (a scrape of kube-proxy\'s /metrics)',
  conntrack: 'conntrack.txt / conntrack6.txt (conntrack -L -f ipv4 / -f ipv6)',
  hostConnections: 'proc-net-tcp.txt / proc-net-tcp6.txt (the node\'s /proc/net/tcp, /proc/net/tcp6)',
  nftVersion: 'nft-version.txt (nft --version)',
  kubeProxyConfig: 'kube-proxy-configz.json (kube-proxy\'s /configz on its metrics port)',
};
