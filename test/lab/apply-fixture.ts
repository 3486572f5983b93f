// Writes a test fixture (test/kube/fixtures.ts builders) to the real API server as its owner
// would: server-side apply of the object with its apiVersion, then — for Nodes and Pods — its
// status through the status subresource, as a kubelet writes it (the main resource ignores
// status on update, and a Pod is created Pending whatever its body says). A Namespace gets
// its `default` ServiceAccount, which the ServiceAccount controller would make (no Pod is
// admitted without its ServiceAccount).
import type { ControlPlane, KubeObject } from './control-plane.js';
import { collectionPath } from './control-plane.js';

export const FIXTURE_API_VERSIONS: Readonly<Record<string, string>> = {
  Node: 'v1', Namespace: 'v1', Service: 'v1', Pod: 'v1', EndpointSlice: 'discovery.k8s.io/v1', Deployment: 'apps/v1',
  ServiceCIDR: 'networking.k8s.io/v1', NetworkPolicy: 'networking.k8s.io/v1', DaemonSet: 'apps/v1',
};

export async function applyFixture(cp: ControlPlane, o: KubeObject): Promise<void> {
  const kind = String(o['kind']);
  const apiVersion = typeof o['apiVersion'] === 'string' ? o['apiVersion'] : FIXTURE_API_VERSIONS[kind];
  if (!apiVersion) throw new Error(`applyFixture: no apiVersion known for ${kind}`);
  const { status, ...rest } = o;
  const { managedFields: _mf, ...metadata } = o['metadata'] as KubeObject;
  await cp.apply({ ...rest, apiVersion, metadata });
  if (kind === 'Namespace') await cp.apply({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace: metadata['name'] } });
  if (status && (kind === 'Node' || kind === 'Pod')) {
    await cp.applyStatus({ apiVersion, kind, metadata: { name: metadata['name'], ...(metadata['namespace'] ? { namespace: metadata['namespace'] } : {}) }, status }, 'lab-kubelet');
  }
}

export async function deleteFixture(cp: ControlPlane, kind: string, namespace: string | undefined, name: string): Promise<void> {
  await cp.must('DELETE', `${collectionPath({ apiVersion: FIXTURE_API_VERSIONS[kind], kind, metadata: { name, ...(namespace ? { namespace } : {}) } })}/${name}`);
}
