// Principle 1 on the demo's lab node: two pods whose containers are real processes in
// kubelet-shaped cgroups, as the agent finds them in /proc. `shop/web-1` has all its
// containers in its own network namespace (pass); in `shop/split` one container runs in
// another pod's namespace, so it cannot reach its siblings on localhost (fail).
import { randomBytes, randomUUID } from 'node:crypto';
import type { LabNode } from '../test/lab/lab.js';
import { availableHierarchy, createKubeCgroupLab, type KubeCgroupLab } from '../test/lab/kube-cgroups.js';

interface DemoContainer {
  readonly name: string;
  readonly id: string;
  readonly ports: readonly number[];
}

const containerId = (): string => randomBytes(32).toString('hex');

function podObject(name: string, uid: string, node: string, ip: string, containers: readonly DemoContainer[]): Record<string, unknown> {
  const started = new Date(Date.now() - 600_000).toISOString().replace(/\.\d+Z$/, 'Z');
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name, namespace: 'shop', uid },
    spec: { nodeName: node, containers: containers.map((c) => ({ name: c.name, image: `shop/${c.name}:1.0`, ports: c.ports.map((p) => ({ containerPort: p })) })) },
    status: {
      phase: 'Running', podIP: ip, podIPs: [{ ip }], startTime: started,
      containerStatuses: containers.map((c) => ({
        name: c.name, containerID: `containerd://${c.id}`, started: true, ready: true, restartCount: 0, state: { running: { startedAt: started } },
      })),
    },
  };
}

export interface DemoPods {
  /** The Pod objects, as the API server lists them, for the demo's cluster context. */
  readonly objects: readonly Record<string, unknown>[];
  destroy(): Promise<void>;
}

/**
 * Starts the pods' processes on `lab` (it needs three pod namespaces). Undefined when this
 * machine mounts no cgroup hierarchy the lab can use: the demo then says principle 1 is skipped.
 */
export async function startDemoPods(lab: LabNode): Promise<DemoPods | undefined> {
  const hierarchy = availableHierarchy();
  if (!hierarchy) return undefined;
  const cg: KubeCgroupLab = createKubeCgroupLab();
  try {
    const [ns0, ns1, ns2] = lab.pods.map((p) => p.netns) as [string, string, string];
    const web = { uid: randomUUID(), sandbox: containerId(), app: { name: 'app', id: containerId(), ports: [8080] }, metrics: { name: 'metrics', id: containerId(), ports: [9090] } };
    const webDir = `kubepods/burstable/pod${web.uid}`;
    await cg.start(hierarchy, `${webDir}/${web.sandbox}`, ns0);
    await cg.start(hierarchy, `${webDir}/${web.app.id}`, ns0, { tcp: [8080] });
    await cg.start(hierarchy, `${webDir}/${web.metrics.id}`, ns0, { tcp: [9090] });

    const split = { uid: randomUUID(), sandbox: containerId(), main: { name: 'main', id: containerId(), ports: [8080] }, stray: { name: 'stray', id: containerId(), ports: [] } };
    const splitDir = `kubepods/burstable/pod${split.uid}`;
    await cg.start(hierarchy, `${splitDir}/${split.sandbox}`, ns1);
    await cg.start(hierarchy, `${splitDir}/${split.main.id}`, ns1, { tcp: [8080] });
    // The fault: this container was started in another pod's network namespace.
    await cg.start(hierarchy, `${splitDir}/${split.stray.id}`, ns2);
    return {
      objects: [
        podObject('web-1', web.uid, lab.nodeName, lab.pods[0]!.ip, [web.app, web.metrics]),
        podObject('split', split.uid, lab.nodeName, lab.pods[1]!.ip, [split.main, split.stray]),
      ],
      destroy: () => cg.destroy(),
    };
  } catch (err) {
    await cg.destroy();
    throw err;
  }
}
