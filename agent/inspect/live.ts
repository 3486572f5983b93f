// Reads the node the agent runs on (its own network namespace): sysctls from /proc/sys,
// links/addresses/routes over rtnetlink, CNI config and plugin binaries from their dirs.
import type { NodeSnapshot } from '../snapshot.js';
import { readSysctlsLive } from './sysctl.js';
import { readNetworkLive } from './netlink.js';
import { readCniLive } from './cni.js';
import { readDataplaneLive } from './dataplane.js';
import { readKernelModulesLive } from './kernel-modules.js';
import { readBpfLive } from './bpf.js';
import { readPodProcesses } from './pod-processes.js';
import { scrapeKubeProxy, type KubeProxyOptions } from './kube-proxy.js';
import { readProxyHostLive } from './proxy-host.js';
import { readNftGeneration } from './nft-generation.js';

export interface LiveOptions {
  readonly node: string;
  readonly cniConfDir: string;
  readonly cniBinDir: string;
  readonly procSys?: string;
  /** bpffs root holding eBPF dataplanes' pinned maps (default /sys/fs/bpf). */
  readonly bpfRoot?: string;
  /** The host's /proc (a read-only hostPath in the DaemonSet); default /proc. */
  readonly procRoot?: string;
  /** How long each node tool may take before it is killed (default 60 s). */
  readonly toolTimeoutMs?: number;
  /** Scrape kube-proxy's metrics (from this namespace); absent: no kubeProxy facet. */
  readonly kubeProxy?: KubeProxyOptions;
  /**
   * Skip the rule dump when the nf_tables generation still is this one (the run loop's
   * previous dump): the snapshot then has no dataplane and says `dataplaneUnchanged`.
   */
  readonly dataplaneUnlessGeneration?: number;
  /**
   * false: leave out the kube-proxy migration facets (conntrack, /proc/net/tcp, nft --version,
   * kube-proxy's /configz) and set `proxyFactsNotRead` — the run loop between their periodic
   * reads. Default: read them.
   */
  readonly proxyFacts?: boolean;
}

export const DEFAULT_BPF_ROOT = '/sys/fs/bpf';

export async function inspectLive(opts: LiveOptions, now = new Date()): Promise<NodeSnapshot> {
  // Read before the dump: a commit during the dump then shows as a newer generation next time.
  const nftGeneration = await readNftGeneration();
  const unchanged = nftGeneration !== undefined && nftGeneration === opts.dataplaneUnlessGeneration;
  const [{ links, routes }, dataplane, bpf, kubeProxy, proxyHost] = await Promise.all([
    readNetworkLive(),
    unchanged ? undefined : readDataplaneLive(opts.toolTimeoutMs !== undefined ? { toolTimeoutMs: opts.toolTimeoutMs } : {}),
    readBpfLive(opts.bpfRoot ?? DEFAULT_BPF_ROOT),
    opts.kubeProxy ? scrapeKubeProxy(opts.kubeProxy) : undefined,
    opts.proxyFacts === false ? undefined
      : readProxyHostLive({ ...(opts.kubeProxy ? { kubeProxyMetricsUrl: opts.kubeProxy.url } : {}), ...(opts.toolTimeoutMs !== undefined ? { toolTimeoutMs: opts.toolTimeoutMs } : {}) }),
  ]);
  return {
    node: opts.node,
    capturedAt: now.toISOString(),
    source: 'live',
    sysctls: readSysctlsLive(opts.procSys),
    links,
    routes,
    cni: readCniLive(opts.cniConfDir, opts.cniBinDir),
    kernelModules: readKernelModulesLive(),
    ...(dataplane ? { dataplane } : {}),
    ...(nftGeneration !== undefined ? { nftGeneration } : {}),
    ...(unchanged ? { dataplaneUnchanged: true as const } : {}),
    ...(bpf ? { bpf } : {}),
    pods: readPodProcesses(opts.procRoot ?? '/proc'),
    ...(kubeProxy ? { kubeProxy } : {}),
    ...(proxyHost ?? { proxyFactsNotRead: true as const }),
  };
}
