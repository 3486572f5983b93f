// The Pods scheduled to one node, reduced to what the pod-netns checks judge: containers
// (regular, init, and sidecars — init containers with restartPolicy: Always, which keep
// running beside the others), their declared ports, whether they have started and with
// which runtime container id, and the pod's phase, start time and hostNetwork. The same
// parser serves a cluster file, a one-off API list and the agent's node-scoped pod watch.
import type { KubeObject, Protocol } from './cluster.js';

export type ContainerKind = 'container' | 'init' | 'sidecar';

export interface DeclaredPort {
  readonly containerPort: number;
  readonly protocol: Protocol;
  readonly name: string;
}

export interface PodContainerInfo {
  readonly name: string;
  readonly kind: ContainerKind;
  readonly ports: readonly DeclaredPort[];
  /** The runtime's id without its `containerd://` / `cri-o://` / `docker://` scheme; '' before it starts. */
  readonly containerID: string;
  /** status `started` (or, where the field is absent, state.running). */
  readonly started: boolean;
  /** state.running.startedAt (RFC 3339) while the container runs. */
  readonly startedAt?: string;
}

export interface PodInfo {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  /**
   * For a static pod's mirror, the UID the kubelet uses on the node (annotation
   * kubernetes.io/config.mirror): the mirror object's own metadata.uid is not in any cgroup.
   */
  readonly nodeUID?: string;
  readonly nodeName: string;
  readonly hostNetwork: boolean;
  readonly phase: string;
  readonly startTime?: string;
  /** Spec order: init containers (and sidecars) first, then the regular ones. */
  readonly containers: readonly PodContainerInfo[];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const arr = (v: unknown): Obj[] => (Array.isArray(v) ? v.filter(isObj) : []);

/** `containerd://abc` → `abc` (the id as it appears in the cgroup path). */
export function bareContainerID(statusID: string): string {
  const i = statusID.indexOf('://');
  return (i >= 0 ? statusID.slice(i + 3) : statusID).toLowerCase();
}

/** Parses one Pod object; undefined when it is not a Pod or lacks a name or uid. */
export function parsePodInfo(o: KubeObject): PodInfo | undefined {
  if (o.kind !== undefined && o.kind !== 'Pod') return undefined;
  const meta = isObj(o.metadata) ? (o.metadata as Obj) : {};
  const name = str(meta['name']);
  const uid = str(meta['uid']).toLowerCase();
  if (!name || !uid) return undefined;
  const spec = isObj(o['spec']) ? o['spec'] : {};
  const status = isObj(o['status']) ? o['status'] : {};
  const annotations = isObj(meta['annotations']) ? meta['annotations'] : {};
  const mirror = str(annotations['kubernetes.io/config.mirror']).toLowerCase();
  const statuses = new Map<string, Obj>();
  for (const s of [...arr(status['initContainerStatuses']), ...arr(status['containerStatuses'])]) statuses.set(str(s['name']), s);

  const containers: PodContainerInfo[] = [];
  const add = (c: Obj, kind: ContainerKind): void => {
    const cname = str(c['name']);
    const s = statuses.get(cname) ?? {};
    const state = isObj(s['state']) ? s['state'] : {};
    const running = isObj(state['running']) ? state['running'] : undefined;
    const started = typeof s['started'] === 'boolean' ? s['started'] && running !== undefined : running !== undefined;
    const startedAt = running ? str(running['startedAt']) : '';
    containers.push({
      name: cname,
      kind,
      ports: arr(c['ports']).filter((p) => typeof p['containerPort'] === 'number').map((p) => ({
        containerPort: p['containerPort'] as number,
        protocol: (str(p['protocol']) || 'TCP') as Protocol,
        name: str(p['name']),
      })),
      containerID: bareContainerID(str(s['containerID'])),
      started,
      ...(startedAt ? { startedAt } : {}),
    });
  };
  for (const c of arr(spec['initContainers'])) add(c, str(c['restartPolicy']) === 'Always' ? 'sidecar' : 'init');
  for (const c of arr(spec['containers'])) add(c, 'container');
  const startTime = str(status['startTime']);
  return {
    namespace: str(meta['namespace']) || 'default',
    name,
    uid,
    ...(mirror ? { nodeUID: mirror } : {}),
    nodeName: str(spec['nodeName']),
    hostNetwork: spec['hostNetwork'] === true,
    phase: str(status['phase']),
    ...(startTime ? { startTime } : {}),
    containers,
  };
}

/** The Pods among `objects` scheduled to `node`, sorted by namespace/name. */
export function podsOnNode(objects: readonly KubeObject[], node: string): PodInfo[] {
  const out: PodInfo[] = [];
  for (const o of objects) {
    if (o.kind !== 'Pod') continue;
    const p = parsePodInfo(o);
    if (p && p.nodeName === node) out.push(p);
  }
  return out.sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
}
