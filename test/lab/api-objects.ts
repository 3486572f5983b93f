// Puts a described cluster (agent/dataplane/testing/generate.ts) into a real API server the
// way the cluster's own components would have: Nodes with spec.podCIDR and status.addresses
// (written through the status subresource, as a kubelet does), namespaces, Services (status
// of LoadBalancers through /status, as a cloud controller does) and EndpointSlices labelled
// `kubernetes.io/service-name` (no EndpointSlice controller runs). Reads the cluster back
// with the real kubectl, in the shape netconform's --cluster file takes.
import { parseClusterObjects, parseClusterText, type ClusterContext } from '../../common/cluster.js';
import { renderClusterJson, type ClusterDesc } from '../../agent/dataplane/testing/generate.js';
import type { ControlPlane, KubeObject } from './control-plane.js';

interface Meta { readonly name: string; readonly namespace?: string }

const metaOf = (o: KubeObject): Meta => o['metadata'] as Meta;

/** Creates every object of the description; existing namespaces are reused. */
export async function createClusterObjects(cp: ControlPlane, desc: ClusterDesc): Promise<void> {
  const items = (JSON.parse(renderClusterJson(desc)) as { items: KubeObject[] }).items;
  const namespaces = new Set(items.map((o) => metaOf(o).namespace).filter((n): n is string => !!n));
  for (const ns of namespaces) {
    const r = await cp.request('GET', `/api/v1/namespaces/${ns}`);
    if (r.status === 404) await cp.createNamespace(ns);
  }
  for (const o of items) {
    const { status, ...rest } = o;
    await cp.create(rest);
    if (status !== undefined) await putStatus(cp, o);
  }
}

/** Replaces an object's status through its /status subresource (a kubelet's or cloud controller's write). */
async function putStatus(cp: ControlPlane, o: KubeObject): Promise<void> {
  const m = metaOf(o);
  const path = o['kind'] === 'Node' ? `/api/v1/nodes/${m.name}/status` : `/api/v1/namespaces/${m.namespace}/services/${m.name}/status`;
  await cp.must('PATCH', path, { status: o['status'] }, { contentType: 'application/merge-patch+json' });
}

/** Replaces the endpoints of one Service's EndpointSlice (what the EndpointSlice controller would write). */
export async function replaceEndpointSlice(cp: ControlPlane, desc: ClusterDesc, namespace: string, name: string): Promise<void> {
  const items = (JSON.parse(renderClusterJson(desc)) as { items: KubeObject[] }).items;
  const slice = items.find((o) => o['kind'] === 'EndpointSlice' && metaOf(o).namespace === namespace && metaOf(o).name.startsWith(`${name}-`));
  if (!slice) throw new Error(`no EndpointSlice for ${namespace}/${name} in the description`);
  await cp.must('PUT', `/apis/discovery.k8s.io/v1/namespaces/${namespace}/endpointslices/${metaOf(slice).name}`, slice);
}

/** `kubectl get nodes,services,endpointslices -A -o json`, as text (a --cluster file). */
export function clusterJson(cp: ControlPlane): string {
  return cp.kubectl(['get', 'nodes,services,endpointslices', '-A', '-o', 'json']);
}

/** The cluster as the real API server holds it, parsed as netconform parses a --cluster file. */
export function clusterContext(cp: ControlPlane): ClusterContext {
  return parseClusterObjects(parseClusterText(clusterJson(cp), 'kubectl get nodes,services,endpointslices -A -o json'));
}
