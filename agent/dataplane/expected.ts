// What kube-proxy should program for each Service port on this node, computed from the API
// objects the way kube-proxy's CategorizeEndpoints does: ready endpoints, else serving-and-
// terminating ones (separately for the cluster and the local set); internalTrafficPolicy=Local
// restricts ClusterIP traffic and externalTrafficPolicy=Local restricts NodePort/external
// traffic to this node's endpoints. Headless and ExternalName Services get no rules.
// A dual-stack kube-proxy runs one proxier per IP family, each seeing only the Service's
// ClusterIPs and the EndpointSlice endpoints of its family: a dual-stack Service port is two
// expected ports here (same subject), each with its own family's endpoints and fallbacks.
import type { ClusterContext, EndpointInfo, ServiceInfo, ServicePortInfo } from '../../common/cluster.js';
import { hostPort, parseIp } from './addr.js';

export interface ExpectedServicePort {
  readonly service: ServiceInfo;
  readonly port: ServicePortInfo;
  /** `namespace/name:port/PROTOCOL`. */
  readonly subject: string;
  /** kube-proxy's service port name `ns/name:portName` (chain hashes, comments). */
  readonly spn: string;
  /** The IP family kube-proxy programs this entry for (its ClusterIPs' and endpoints' family). */
  readonly family: 4 | 6;
  /** This family's ClusterIPs. */
  readonly clusterIPs: readonly string[];
  /** Endpoints (`ip:port`) for ClusterIP traffic. */
  readonly internal: readonly string[];
  /** Endpoints for NodePort/external traffic from outside the cluster. */
  readonly external: readonly string[];
  /** Usable endpoints on every node: what a Local traffic policy leaves out when none is on this node. */
  readonly onAnyNode: readonly string[];
  /** What happens to ClusterIP traffic when `internal` is empty: REJECT, or DROP when endpoints exist elsewhere. */
  readonly internalEmpty: 'reject' | 'drop';
  readonly externalEmpty: 'reject' | 'drop';
  readonly affinity: boolean;
  /** Set when kube-proxy may filter by topology hints, which netconform does not model. */
  readonly topologySkip?: string;
}

const ep = (e: EndpointInfo): string => hostPort(e.address, e.port);

function usable(eps: readonly EndpointInfo[]): EndpointInfo[] {
  const ready = eps.filter((e) => e.ready);
  return ready.length > 0 ? ready : eps.filter((e) => e.serving && e.terminating);
}

export function serviceSubject(svc: ServiceInfo, port: ServicePortInfo): string {
  return `${svc.namespace}/${svc.name}:${port.port}/${port.protocol}`;
}

/**
 * By the context's Services (the API watch hands out one list until a Service or an
 * EndpointSlice changes): the service-routing checks each ask, every scan.
 */
const EXPECTED = new WeakMap<readonly ServiceInfo[], { readonly node: string; readonly ports: readonly ExpectedServicePort[] }>();

/** Service ports kube-proxy programs, with their expected endpoints on `nodeName`. */
export function expectedServicePorts(cluster: ClusterContext, nodeName: string): readonly ExpectedServicePort[] {
  const known = EXPECTED.get(cluster.services);
  if (known?.node === nodeName) return known.ports;
  const ports = computeExpected(cluster, nodeName);
  EXPECTED.set(cluster.services, { node: nodeName, ports });
  return ports;
}

function computeExpected(cluster: ClusterContext, nodeName: string): ExpectedServicePort[] {
  const out: ExpectedServicePort[] = [];
  for (const svc of cluster.services) {
    if (svc.type === 'ExternalName') continue;
    const allIPs = svc.clusterIPs.filter((ip) => ip !== 'None' && ip !== '' && parseIp(ip) !== undefined);
    if (allIPs.length === 0) continue; // headless
    const families = [...new Set(allIPs.map((ip) => parseIp(ip)!.family))];
    for (const port of svc.ports) {
      for (const family of families) {
        const clusterIPs = allIPs.filter((ip) => parseIp(ip)!.family === family);
        // An endpoint whose address is not an IP of this family (FQDN slices, the other family) is another proxier's.
        const all = port.endpoints.filter((e) => parseIp(e.address)?.family === family);
        out.push(expectedFor(svc, port, family, clusterIPs, all, nodeName));
      }
    }
  }
  return out;
}

function expectedFor(svc: ServiceInfo, port: ServicePortInfo, family: 4 | 6, clusterIPs: readonly string[], all: readonly EndpointInfo[], nodeName: string): ExpectedServicePort {
  const cluster = usable(all);
  const local = usable(all.filter((e) => e.nodeName === nodeName));
  const anyEndpoints = cluster.length > 0;
  const readyHinted = all.filter((e) => e.ready);
  const topologySkip = readyHinted.length > 0 && readyHinted.every((e) => e.hasHints)
    ? 'every ready endpoint carries topology hints; kube-proxy may then use only the endpoints hinted for this node\'s zone, which netconform does not model'
    : undefined;
  const internal = svc.internalTrafficPolicy === 'Local' ? local : cluster;
  const external = svc.externalTrafficPolicy === 'Local' ? local : cluster;
  return {
    service: svc, port,
    subject: serviceSubject(svc, port),
    spn: `${svc.namespace}/${svc.name}${port.name ? `:${port.name}` : ''}`,
    family,
    clusterIPs,
    internal: internal.map(ep).sort(),
    external: external.map(ep).sort(),
    onAnyNode: cluster.map(ep).sort(),
    internalEmpty: anyEndpoints ? 'drop' : 'reject',
    externalEmpty: anyEndpoints ? 'drop' : 'reject',
    affinity: svc.sessionAffinity === 'ClientIP',
    ...(topologySkip ? { topologySkip } : {}),
  };
}
