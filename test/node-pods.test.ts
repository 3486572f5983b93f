// The agent's view of its node's Pods from the real API server, as the agent's
// ServiceAccount (manifests/base/rbac.yaml): the field selector narrows the list and every
// watch on the server, the store keeps the status the pod-netns checks read, and status
// churn they do not read (conditions, restart counts) wakes nobody. Pods are created as a
// scheduler binds them (spec.nodeName) and their status written as a kubelet writes it.
import test from 'ava';
import { createLogger } from '../common/log.js';
import { loadKubeAccess } from '../kube/access.js';
import { NodePodWatch, listNodePods } from '../kube/node-pods.js';
import type { Obj } from './kube/fake-apiserver.js';
import { ControlPlane } from './lab/control-plane.js';
import { AGENT_SA, NETCONFORM_NS, createPod, ensureNode, installNetconformRbac, podToken } from './lab/netconform-identity.js';
import { eventually } from './support/processes.js';

const ID1 = 'a'.repeat(64), ID2 = 'b'.repeat(64);

let cp: ControlPlane;
test.before(async () => { cp = await ControlPlane.start(); });
test.after.always(async () => { await cp?.stop(); });

/** A Pod bound to `node` (created once), then its status as the kubelet reports it. */
async function putPod(name: string, node: string, containerID: string, extra: Obj = {}): Promise<void> {
  const metadata = { name, namespace: 'shop' };
  const existing = await cp.request('GET', `/api/v1/namespaces/shop/pods/${name}`);
  if (existing.status === 404) {
    await ensureNode(cp, { name: node });
    await cp.create({ apiVersion: 'v1', kind: 'Pod', metadata, spec: { nodeName: node, containers: [{ name: 'app', image: 'x', ports: [{ containerPort: 8080 }] }] } });
  }
  await cp.applyStatus({
    apiVersion: 'v1', kind: 'Pod', metadata,
    status: {
      phase: 'Running', startTime: '2026-01-01T00:00:00Z', conditions: [{ type: 'Ready', status: 'True' }],
      containerStatuses: [{ name: 'app', image: 'x', imageID: '', ready: true, containerID: `containerd://${containerID}`, started: true, restartCount: 0, state: { running: { startedAt: '2026-01-01T00:00:05Z' } } }],
      ...extra,
    },
  }, 'lab-kubelet');
}

test('NodePodWatch lists and watches only its node, keeps container ids and start times, ignores churn', async (t) => {
  await installNetconformRbac(cp);
  await cp.createNamespace('shop');
  // The agent runs on a node of its own here, so node-a's pods are exactly the test's.
  const agentPod = await createPod(cp, { namespace: NETCONFORM_NS, name: 'netconform-agent-x', node: 'node-agent', serviceAccount: AGENT_SA });
  const kc = await loadKubeAccess(cp.kubeconfig('agent', { token: await podToken(cp, agentPod, AGENT_SA) }));
  await putPod('web', 'node-a', ID1);
  await putPod('other', 'node-b', ID1);
  let changes = 0;
  const watch = new NodePodWatch({ kubeConfig: kc, node: 'node-a', logger: createLogger({ component: 'test' }, 'error'), onChange: () => changes++ });
  t.teardown(() => watch.stop());
  t.is(watch.pods(), undefined, 'not known before the first list');
  watch.start();
  await eventually(() => watch.isSynced || undefined, 10_000, 'first list');
  t.deepEqual(watch.pods()!.map((p) => [p.name, p.containers[0]!.containerID, p.containers[0]!.startedAt]), [['web', ID1, '2026-01-01T00:00:05Z']]);
  await eventually(() => (watch.stats().state === 'watching' ? true : undefined), 10_000, 'a watch');

  // Conditions and restart counts change: nothing the checks read, no wake-up.
  const before = changes;
  await putPod('web', 'node-a', ID1, { conditions: [{ type: 'Ready', status: 'False' }] });
  // The container restarted under a new id: that is read.
  await putPod('web', 'node-a', ID2);
  await eventually(() => (watch.pods()![0]!.containers[0]!.containerID === ID2 ? true : undefined), 10_000, 'the new container id');
  t.is(changes, before + 1);
  // A pod of another node never reaches this store.
  await putPod('other', 'node-b', ID2);
  await putPod('late', 'node-a', ID1);
  await eventually(() => (watch.pods()!.length === 2 ? true : undefined), 10_000, 'the late pod');
  t.deepEqual(watch.pods()!.map((p) => p.name), ['late', 'web']);
  t.is(watch.stats().lists, 1);
  t.is(watch.stats().objects, 2, 'the server sent node-a\'s pods only');

  // The one-off list of `scan --kubeconfig`.
  t.deepEqual((await listNodePods(kc, 'node-b')).map((p) => [p.name, p.nodeName, p.phase, p.containers[0]!.containerID]), [['other', 'node-b', 'Running', ID2]]);
});
