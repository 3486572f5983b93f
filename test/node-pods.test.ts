// The agent's view of its node's Pods from a real list/watch server: the field selector goes
// to the server on the list and on every watch, the store keeps the status the pod-netns
// checks read, and status churn they do not read (conditions, restart counts) wakes nobody.
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../common/log.js';
import { loadKubeAccess } from '../kube/access.js';
import { NodePodWatch, listNodePods } from '../kube/node-pods.js';
import { FakeApiServer, type Obj } from './kube/fake-apiserver.js';
import { eventually } from './support/processes.js';

const ID1 = 'a'.repeat(64), ID2 = 'b'.repeat(64);
const pod = (name: string, node: string, containerID: string, extra: Obj = {}): Obj => ({
  kind: 'Pod', apiVersion: 'v1',
  metadata: { name, namespace: 'shop' },
  spec: { nodeName: node, containers: [{ name: 'app', image: 'x', ports: [{ containerPort: 8080 }] }] },
  status: {
    phase: 'Running', startTime: '2026-01-01T00:00:00Z', conditions: [{ type: 'Ready', status: 'True' }],
    containerStatuses: [{ name: 'app', containerID: `containerd://${containerID}`, started: true, restartCount: 0, state: { running: { startedAt: '2026-01-01T00:00:05Z' } } }],
    ...extra,
  },
});

test('NodePodWatch lists and watches only its node, keeps container ids and start times, ignores churn', async (t) => {
  const server = await FakeApiServer.start({ tls: true });
  const dir = mkdtempSync(join(tmpdir(), 'node-pods-'));
  t.teardown(async () => { await server.close(); rmSync(dir, { recursive: true, force: true }); });
  server.upsert(pod('web', 'node-a', ID1));
  server.upsert(pod('other', 'node-b', ID1));
  const kc = await loadKubeAccess(server.writeKubeconfig(join(dir, 'kubeconfig')));
  let changes = 0;
  const watch = new NodePodWatch({ kubeConfig: kc, node: 'node-a', logger: createLogger({ component: 'test' }, 'error'), onChange: () => changes++ });
  t.teardown(() => watch.stop());
  t.is(watch.pods(), undefined, 'not known before the first list');
  watch.start();
  await eventually(() => watch.isSynced || undefined, 10_000, 'first list');
  t.deepEqual(watch.pods()!.map((p) => [p.name, p.containers[0]!.containerID, p.containers[0]!.startedAt]), [['web', ID1, '2026-01-01T00:00:05Z']]);
  await eventually(() => server.requests.find((r) => r.watch) , 10_000, 'a watch');
  const selectors = server.requests.filter((r) => r.path === '/api/v1/pods').map((r) => [r.watch, r.fieldSelector]);
  t.deepEqual(selectors.slice(0, 2), [[false, 'spec.nodeName=node-a'], [true, 'spec.nodeName=node-a']]);

  // Conditions and restart counts change: nothing the checks read, no wake-up.
  const before = changes;
  server.upsert(pod('web', 'node-a', ID1, { conditions: [{ type: 'Ready', status: 'False' }] }));
  // The container restarted under a new id: that is read.
  server.upsert(pod('web', 'node-a', ID2));
  await eventually(() => (watch.pods()![0]!.containers[0]!.containerID === ID2 ? true : undefined), 10_000, 'the new container id');
  t.is(changes, before + 1);
  // A pod of another node never reaches this store.
  server.upsert(pod('other', 'node-b', ID2));
  server.upsert(pod('late', 'node-a', ID1));
  await eventually(() => (watch.pods()!.length === 2 ? true : undefined), 10_000, 'the late pod');
  t.deepEqual(watch.pods()!.map((p) => p.name), ['late', 'web']);

  // The one-off list of `scan --kubeconfig`.
  t.deepEqual((await listNodePods(kc, 'node-b')).map((p) => [p.name, p.nodeName, p.phase, p.containers[0]!.containerID]), [['other', 'node-b', 'Running', ID2]]);
  t.is(server.requests.at(-1)!.fieldSelector, 'spec.nodeName=node-b');
});
