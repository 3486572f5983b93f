// netconform's own identities on a lab control plane, as a cluster has them after
// `kubectl apply -k manifests/base`: the namespace, the ServiceAccounts and every ClusterRole,
// Role and binding applied from the manifests as shipped (never restated here), and what the
// kubelet would otherwise provide — a Pod bound to a node, and a token the TokenRequest API
// binds to that Pod (its ServiceAccount, node and Pod claims are the real server's).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ROOT } from '../support/processes.js';
import type { ControlPlane, KubeObject } from './control-plane.js';

export const NETCONFORM_NS = 'netconform';
export const AGENT_SA = 'netconform-agent';
export const PROBE_SA = 'netconform-probe';
export const COLLECTOR_SA = 'netconform-collector';
/** The audience agents and probes ask for (manifests/base/agent.yaml's projected token). */
export const COLLECTOR_AUDIENCE = 'netconform-collector';

/**
 * Applies the namespace, ServiceAccounts and RBAC of manifests/base (and the policy-reports
 * component's RBAC when asked) by server-side apply of every document of those files, in
 * the namespace kustomize gives them — what `kubectl apply -k` sends for these objects.
 */
export async function installNetconformRbac(cp: ControlPlane, opts: { readonly policyReports?: boolean } = {}): Promise<void> {
  const files = ['namespace.yaml', 'serviceaccounts.yaml', 'rbac.yaml', 'rbac-probe.yaml'].map((f) => join(ROOT, 'manifests', 'base', f));
  if (opts.policyReports) files.push(join(ROOT, 'manifests', 'components', 'policy-reports', 'rbac.yaml'));
  for (const file of files) {
    for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
      const o = doc.toJSON() as KubeObject | null;
      if (!o) continue;
      const metadata = o['metadata'] as KubeObject;
      const namespaced = ['ServiceAccount', 'Role', 'RoleBinding'].includes(String(o['kind']));
      await cp.apply({ ...o, metadata: { ...metadata, ...(namespaced ? { namespace: NETCONFORM_NS } : {}) } });
    }
  }
}

export interface LabNode {
  readonly name: string;
  readonly podCIDR?: string;
  readonly internalIP?: string;
}

/** A Node as a kubelet registers it (a podCIDR and an InternalIP when given). */
export async function ensureNode(cp: ControlPlane, node: LabNode): Promise<void> {
  const existing = await cp.request('GET', `/api/v1/nodes/${node.name}`);
  if (existing.status === 200) return;
  await cp.create({
    apiVersion: 'v1', kind: 'Node',
    metadata: { name: node.name, labels: { 'kubernetes.io/hostname': node.name } },
    spec: node.podCIDR ? { podCIDR: node.podCIDR, podCIDRs: [node.podCIDR] } : {},
    status: { addresses: [...(node.internalIP ? [{ type: 'InternalIP', address: node.internalIP }] : []), { type: 'Hostname', address: node.name }] },
  });
}

export interface BoundPod {
  readonly name: string;
  readonly namespace: string;
  readonly uid: string;
}

/**
 * A Pod of `serviceAccount` scheduled to `node` (created first when missing), with its
 * status.podIPs set through the status subresource as a kubelet would, when given.
 */
export async function createPod(cp: ControlPlane, p: {
  namespace: string; name: string; node: string; serviceAccount: string; podIPs?: readonly string[]; hostIP?: string;
  labels?: Record<string, string>; ports?: readonly KubeObject[];
}): Promise<BoundPod> {
  await ensureNode(cp, { name: p.node });
  const created = await cp.create<{ metadata: { uid: string } }>({
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name: p.name, namespace: p.namespace, labels: p.labels ?? {} },
    spec: { nodeName: p.node, serviceAccountName: p.serviceAccount, automountServiceAccountToken: false, containers: [{ name: 'main', image: 'registry.example/netconform:0.1.0', ...(p.ports ? { ports: p.ports } : {}) }] },
  });
  if (p.podIPs && p.podIPs.length > 0) {
    await cp.applyStatus({
      apiVersion: 'v1', kind: 'Pod', metadata: { name: p.name, namespace: p.namespace },
      status: { phase: 'Running', podIP: p.podIPs[0], podIPs: p.podIPs.map((ip) => ({ ip })), ...(p.hostIP ? { hostIP: p.hostIP, hostIPs: [{ ip: p.hostIP }] } : {}) },
    }, 'lab-kubelet');
  }
  return { name: p.name, namespace: p.namespace, uid: created.metadata.uid };
}

/** A TokenRequest token for `serviceAccount`, bound to `pod` (a projected token, as the kubelet mounts). */
export async function podToken(cp: ControlPlane, pod: BoundPod, serviceAccount: string, opts: { audiences?: readonly string[]; expirationSeconds?: number } = {}): Promise<string> {
  return cp.token(pod.namespace, serviceAccount, { ...opts, pod: { name: pod.name, uid: pod.uid } });
}

/** The claims of a JWT's payload (no verification: tests read what the real server issued). */
export function jwtClaims(token: string): KubeObject {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as KubeObject;
}

/**
 * Prometheus as it is usually deployed: a ServiceAccount `monitoring/prometheus` whose
 * ClusterRole may get the /metrics URL; returns a token of it.
 */
export async function prometheusScraperToken(cp: ControlPlane): Promise<string> {
  await cp.createNamespace('monitoring');
  await cp.create({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'prometheus', namespace: 'monitoring' } });
  await cp.create({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'prometheus' }, rules: [{ nonResourceURLs: ['/metrics'], verbs: ['get'] }] });
  await cp.create({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'prometheus' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'prometheus' }, subjects: [{ kind: 'ServiceAccount', name: 'prometheus', namespace: 'monitoring' }] });
  return cp.token('monitoring', 'prometheus');
}
