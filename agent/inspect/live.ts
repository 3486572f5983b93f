// Reads the node the agent runs on (its own network namespace): sysctls from /proc/sys,
// links/addresses/routes over rtnetlink, CNI config and plugin binaries from their dirs.
import type { NodeSnapshot } from '../snapshot.js';
import { readSysctlsLive } from './sysctl.js';
import { readNetworkLive } from './netlink.js';
import { readCniLive } from './cni.js';
import { readDataplaneLive } from './dataplane.js';
import { scrapeKubeProxy, type KubeProxyOptions } from './kube-proxy.js';

export interface LiveOptions {
  readonly node: string;
  readonly cniConfDir: string;
  readonly cniBinDir: string;
  readonly procSys?: string;
  /** Scrape kube-proxy's metrics (from this namespace); absent: no kubeProxy facet. */
  readonly kubeProxy?: KubeProxyOptions;
}

export async function inspectLive(opts: LiveOptions, now = new Date()): Promise<NodeSnapshot> {
  const [{ links, routes }, dataplane, kubeProxy] = await Promise.all([
    readNetworkLive(), readDataplaneLive(), opts.kubeProxy ? scrapeKubeProxy(opts.kubeProxy) : undefined,
  ]);
  return {
    node: opts.node,
    capturedAt: now.toISOString(),
    source: 'live',
    sysctls: readSysctlsLive(opts.procSys),
    links,
    routes,
    cni: readCniLive(opts.cniConfDir, opts.cniBinDir),
    ...(dataplane ? { dataplane } : {}),
    ...(kubeProxy ? { kubeProxy } : {}),
  };
}
