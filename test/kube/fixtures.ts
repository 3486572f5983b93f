// Builders for the API objects the fake API server serves: shaped like real objects, with
// only the fields that matter to the cluster context.
import type { Obj } from './fake-apiserver.js';

export function node(name: string, podCIDR: string, internalIP: string, pods = '110'): Obj {
  return {
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name } },
    spec: { podCIDR, podCIDRs: [podCIDR] },
    status: {
      addresses: [{ type: 'InternalIP', address: internalIP }, { type: 'Hostname', address: name }],
      capacity: { cpu: '2', memory: '4Gi', pods },
      allocatable: { cpu: '2', memory: '4Gi', pods },
      conditions: [{ type: 'Ready', status: 'True', lastHeartbeatTime: '2025-01-01T00:00:00Z' }],
    },
  };
}

export function namespace(name: string, labels: Record<string, string> = {}): Obj {
  return { kind: 'Namespace', metadata: { name, labels: { 'kubernetes.io/metadata.name': name, ...labels } } };
}

export interface PortSpec {
  readonly name: string;
  readonly port: number;
  readonly targetPort: number;
  readonly protocol?: 'TCP' | 'UDP' | 'SCTP';
  readonly nodePort?: number;
}

export function service(ns: string, name: string, clusterIP: string, ports: readonly PortSpec[], type = 'ClusterIP'): Obj {
  return {
    kind: 'Service',
    metadata: { name, namespace: ns },
    spec: {
      type,
      clusterIP,
      clusterIPs: [clusterIP],
      selector: { app: name },
      ports: ports.map((p) => ({
        name: p.name, port: p.port, targetPort: p.targetPort, protocol: p.protocol ?? 'TCP',
        ...(p.nodePort ? { nodePort: p.nodePort } : {}),
      })),
      sessionAffinity: 'None',
      internalTrafficPolicy: 'Cluster',
      ...(type === 'NodePort' || type === 'LoadBalancer' ? { externalTrafficPolicy: 'Cluster' } : {}),
    },
  };
}

export interface EndpointSpec {
  readonly ip: string;
  readonly node: string;
  readonly ready?: boolean;
}

export function endpointSlice(ns: string, svc: string, sliceName: string, endpoints: readonly EndpointSpec[], ports: readonly PortSpec[]): Obj {
  return {
    kind: 'EndpointSlice',
    metadata: { name: sliceName, namespace: ns, labels: { 'kubernetes.io/service-name': svc, 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io' } },
    addressType: 'IPv4',
    endpoints: endpoints.map((e) => ({
      addresses: [e.ip],
      conditions: { ready: e.ready ?? true, serving: e.ready ?? true, terminating: false },
      nodeName: e.node,
    })),
    ports: ports.map((p) => ({ name: p.name, port: p.targetPort, protocol: p.protocol ?? 'TCP' })),
  };
}

export function pod(ns: string, name: string, nodeName: string, podIP: string): Obj {
  return {
    kind: 'Pod',
    metadata: { name, namespace: ns, labels: { app: name }, managedFields: [{ manager: 'kubelet', operation: 'Update' }] },
    spec: { nodeName, containers: [{ name: 'app', image: 'registry.example/app:1', ports: [{ containerPort: 8080 }] }] },
    status: { phase: 'Running', podIP, podIPs: [{ ip: podIP }] },
  };
}

export function deployment(ns: string, name: string): Obj {
  return {
    kind: 'Deployment',
    metadata: { name, namespace: ns },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: name } },
      template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'app', image: 'registry.example/app:1' }] } },
    },
    status: { replicas: 2, readyReplicas: 2 },
  };
}

export const WEB_PORTS: readonly PortSpec[] = [{ name: 'http', port: 80, targetPort: 8080 }];

/** A small cluster: two nodes, a namespace, a Service with one ready endpoint, its pod. */
export function smallCluster(): Obj[] {
  return [
    node('node-a', '10.244.0.0/24', '192.0.2.10'),
    node('node-b', '10.244.1.0/24', '192.0.2.11'),
    namespace('default'),
    namespace('shop', { 'pod-security.kubernetes.io/enforce': 'baseline', 'pod-security.kubernetes.io/enforce-version': 'v1.33' }),
    service('shop', 'web', '10.96.0.20', WEB_PORTS),
    endpointSlice('shop', 'web', 'web-abc12', [{ ip: '10.244.0.5', node: 'node-a' }], WEB_PORTS),
    pod('shop', 'web-0', 'node-a', '10.244.0.5'),
    deployment('shop', 'web'),
  ];
}
