// The cluster as a migration sees it: how many nodes and pods per node, which address ranges
// are taken, what NetworkPolicies ask of a CNI, which workloads depend on data-path features
// (hostPort, hostNetwork, externalTrafficPolicy Local), and which DaemonSets hook into the
// data path. Pure, from raw API objects (a `kubectl get … -o yaml` file or the API).
import type { KubeObject } from '../common/cluster.js';
import type { PolicyFeature } from './profile.js';
import { parseKubeProxyConfigYaml, type KubeProxyConfigFacts } from '../agent/inspect/kube-proxy-config.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const objs = (v: unknown): Obj[] => arr(v).filter(isObj);

export interface PolicyUse {
  readonly name: string;
  readonly features: readonly PolicyFeature[];
}

export interface ClusterInventory {
  readonly nodes: readonly { readonly name: string; readonly podCIDRs: readonly string[]; readonly internalIPs: readonly string[]; readonly cloud: string }[];
  readonly podsPerNode: Readonly<Record<string, number>>;
  readonly maxPodsOnANode: number;
  readonly serviceClusterIPs: readonly string[];
  readonly dualStack: boolean;
  readonly networkPolicies: readonly PolicyUse[];
  readonly hostPortPods: readonly string[];
  readonly hostNetworkPods: readonly string[];
  readonly localTrafficServices: readonly string[];
  /** DaemonSets whose name or images suggest they hook into the data path. */
  readonly dataPathDaemonSets: readonly { readonly name: string; readonly what: string; readonly images: readonly string[] }[];
  /** ClusterIP, external and load-balancer addresses → `namespace/name` (absent from older collectors). */
  readonly serviceByAddress?: Readonly<Record<string, string>>;
  /** The kube-proxy ConfigMap's KubeProxyConfiguration (kube-system/kube-proxy, config.conf). */
  readonly kubeProxyConfig?: KubeProxyConfigFacts;
}

/** DaemonSets known to hook into the pod data path, recognised by name or image fragment. */
const DATA_PATH_AGENTS: readonly { readonly match: RegExp; readonly what: string }[] = [
  { match: /istio-cni|install-cni/, what: 'Istio CNI (chained CNI plugin)' },
  { match: /linkerd-cni/, what: 'Linkerd CNI (chained CNI plugin)' },
  { match: /multus/, what: 'Multus (meta CNI plugin)' },
  { match: /falco/, what: 'Falco (kernel event probes)' },
  { match: /weave-scope|scope-agent/, what: 'Weave Scope (conntrack and /proc probes)' },
  { match: /oneagent|dynatrace/, what: 'Dynatrace OneAgent (host and network monitoring)' },
  { match: /kube-proxy/, what: 'kube-proxy (Service rules)' },
  { match: /metallb/, what: 'MetalLB (load-balancer IPs announced by ARP/NDP or BGP)' },
  { match: /ip-masq-agent/, what: 'ip-masq-agent (masquerade rules)' },
  { match: /node-local-dns|nodelocaldns/, what: 'NodeLocal DNSCache (link-local listener and iptables NOTRACK rules)' },
  { match: /calico-node/, what: 'Calico (CNI)' },
  { match: /cilium/, what: 'Cilium (CNI)' },
  { match: /kube-flannel|flannel/, what: 'flannel (CNI)' },
  { match: /aws-node/, what: 'Amazon VPC CNI' },
  { match: /azure-cns|azure-npm/, what: 'Azure CNI components' },
];

function cloudOf(providerID: string): string {
  const scheme = /^([a-z]+):\/\//.exec(providerID)?.[1] ?? '';
  return { azure: 'azure', aws: 'aws', gce: 'gcp' }[scheme] ?? (scheme ? scheme : 'on-prem');
}

function policyFeatures(spec: Obj): PolicyFeature[] {
  const used = new Set<PolicyFeature>();
  if (arr(spec['policyTypes']).includes('Egress') || Array.isArray(spec['egress'])) used.add('egress');
  for (const rule of [...objs(spec['ingress']), ...objs(spec['egress'])]) {
    for (const peer of [...objs(rule['from']), ...objs(rule['to'])]) {
      if (isObj(peer['ipBlock']) && arr(peer['ipBlock']['except']).length > 0) used.add('ipBlockExcept');
      if (isObj(peer['namespaceSelector']) && isObj(peer['podSelector'])) used.add('namespaceAndPodSelector');
    }
    for (const port of objs(rule['ports'])) {
      if (typeof port['port'] === 'string') used.add('namedPorts');
      if (port['endPort'] !== undefined) used.add('endPort');
    }
  }
  return [...used].sort();
}

const id = (o: KubeObject): string => `${o.metadata?.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata?.name ?? ''}`;

export function clusterInventory(objects: readonly KubeObject[]): ClusterInventory {
  const nodes: ClusterInventory['nodes'][number][] = [];
  const podsPerNode: Record<string, number> = {};
  const clusterIPs: string[] = [];
  let dualStack = false;
  const policies: PolicyUse[] = [];
  const hostPortPods: string[] = [];
  const hostNetworkPods: string[] = [];
  const local: string[] = [];
  const daemonSets: ClusterInventory['dataPathDaemonSets'][number][] = [];
  const serviceByAddress: Record<string, string> = {};
  let kubeProxyConfig: KubeProxyConfigFacts | undefined;
  for (const o of objects) {
    const spec = isObj(o['spec']) ? o['spec'] : {};
    const status = isObj(o['status']) ? o['status'] : {};
    switch (o.kind) {
      case 'Node': {
        const podCIDRs = arr(spec['podCIDRs']).map(str).filter(Boolean);
        if (podCIDRs.length === 0 && str(spec['podCIDR'])) podCIDRs.push(str(spec['podCIDR']));
        if (new Set(podCIDRs.map((c) => (c.includes(':') ? 6 : 4))).size > 1) dualStack = true;
        const internalIPs = objs(status['addresses']).filter((a) => a['type'] === 'InternalIP').map((a) => str(a['address']));
        nodes.push({ name: o.metadata?.name ?? '', podCIDRs, internalIPs, cloud: cloudOf(str(spec['providerID'])) });
        break;
      }
      case 'Pod': {
        const phase = str(status['phase']);
        if (phase === 'Succeeded' || phase === 'Failed') break;
        const node = str(spec['nodeName']);
        if (node) podsPerNode[node] = (podsPerNode[node] ?? 0) + 1;
        if (spec['hostNetwork'] === true) hostNetworkPods.push(id(o));
        else if ([...objs(spec['containers']), ...objs(spec['initContainers'])].some((c) => objs(c['ports']).some((p) => typeof p['hostPort'] === 'number' && p['hostPort'] > 0))) hostPortPods.push(id(o));
        break;
      }
      case 'Service': {
        const ips = arr(spec['clusterIPs']).map(str).filter((ip) => ip && ip !== 'None');
        clusterIPs.push(...ips);
        const lbIPs = isObj(status['loadBalancer']) ? objs(status['loadBalancer']['ingress']).map((i) => str(i['ip'])) : [];
        for (const ip of [...ips, ...arr(spec['externalIPs']).map(str), ...lbIPs]) if (ip) serviceByAddress[ip] = id(o);
        if (arr(spec['ipFamilies']).length > 1) dualStack = true;
        if (spec['externalTrafficPolicy'] === 'Local') local.push(id(o));
        break;
      }
      case 'ConfigMap': {
        // kubeadm's kube-proxy ConfigMap: the configuration every kube-proxy of the cluster reads.
        const data = isObj(o['data']) ? o['data'] : {};
        if (o.metadata?.namespace === 'kube-system' && o.metadata.name === 'kube-proxy' && typeof data['config.conf'] === 'string') {
          kubeProxyConfig = parseKubeProxyConfigYaml(data['config.conf'], 'ConfigMap kube-system/kube-proxy config.conf');
        }
        break;
      }
      case 'NetworkPolicy':
        policies.push({ name: id(o), features: policyFeatures(spec) });
        break;
      case 'DaemonSet': {
        const tmpl = isObj(spec['template']) && isObj(spec['template']['spec']) ? spec['template']['spec'] : {};
        const images = [...objs(tmpl['containers']), ...objs(tmpl['initContainers'])].map((c) => str(c['image']));
        const hay = `${o.metadata?.name ?? ''} ${images.join(' ')}`;
        const known = DATA_PATH_AGENTS.find((a) => a.match.test(hay));
        if (known) daemonSets.push({ name: id(o), what: known.what, images });
        break;
      }
    }
  }
  return {
    nodes, podsPerNode, maxPodsOnANode: Math.max(0, ...Object.values(podsPerNode)),
    serviceClusterIPs: clusterIPs, dualStack, networkPolicies: policies,
    hostPortPods, hostNetworkPods, localTrafficServices: local, dataPathDaemonSets: daemonSets,
    serviceByAddress, ...(kubeProxyConfig ? { kubeProxyConfig } : {}),
  };
}
