// The Pods of one node, straight from the API: a list + watch scoped with the field
// selector `spec.nodeName=<node>` (the API server filters, so an agent never holds the
// cluster's pods), kept with the status the pod-netns checks read — phase, start time,
// container ids and start times — and nothing that churns (conditions, restart counts,
// IPs), so only a change that matters to those checks wakes the agent.
// Built on the shared Reflector; this file adds no watch machinery of its own.
import type { Logger } from '../common/log.js';
import { parsePodInfo, podsOnNode, type PodInfo } from '../common/node-pods.js';
import type { KubeObject } from '../common/cluster.js';
import { RESOURCE_KINDS, collectionPath, type ResourceKind } from './kinds.js';
import { Reflector, type ReflectorOptions, type ReflectorStats } from './reflector.js';
import { listAll, type KubeAccess } from './rest.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

const POD_KIND: ResourceKind = RESOURCE_KINDS.find((k) => k.kind === 'Pod')!;

export const nodePodsFieldSelector = (node: string): string => `spec.nodeName=${node}`;

const CONTAINER_SPEC_KEPT = ['name', 'ports', 'restartPolicy'];
const CONTAINER_STATUS_KEPT = ['name', 'containerID', 'started'];

const pick = (o: Obj, keys: readonly string[]): Obj => {
  const out: Obj = {};
  for (const k of keys) if (k in o) out[k] = o[k];
  return out;
};
const objs = (v: unknown): Obj[] => (Array.isArray(v) ? v.filter(isObj) : []);

/** What the node-pods store keeps of a Pod (exactly what parsePodInfo reads). */
export function trimPodForNode(o: Obj): Obj {
  const meta = isObj(o['metadata']) ? o['metadata'] : {};
  const annotations = isObj(meta['annotations']) ? meta['annotations'] : {};
  const spec = isObj(o['spec']) ? o['spec'] : {};
  const status = isObj(o['status']) ? o['status'] : {};
  const statusOf = (s: Obj): Obj => {
    const state = isObj(s['state']) ? s['state'] : {};
    const running = isObj(state['running']) ? { running: pick(state['running'], ['startedAt']) } : {};
    return { ...pick(s, CONTAINER_STATUS_KEPT), state: running };
  };
  const mirror = annotations['kubernetes.io/config.mirror'];
  return {
    kind: 'Pod',
    apiVersion: 'v1',
    metadata: {
      ...pick(meta, ['name', 'namespace', 'uid', 'resourceVersion']),
      ...(typeof mirror === 'string' ? { annotations: { 'kubernetes.io/config.mirror': mirror } } : {}),
    },
    spec: {
      ...pick(spec, ['nodeName', 'hostNetwork']),
      initContainers: objs(spec['initContainers']).map((c) => pick(c, CONTAINER_SPEC_KEPT)),
      containers: objs(spec['containers']).map((c) => pick(c, CONTAINER_SPEC_KEPT)),
    },
    status: {
      ...pick(status, ['phase', 'startTime']),
      initContainerStatuses: objs(status['initContainerStatuses']).map(statusOf),
      containerStatuses: objs(status['containerStatuses']).map(statusOf),
    },
  };
}

/** One node-scoped list (`scan --kubeconfig`): this node's Pods, with their status. */
export async function listNodePods(kc: KubeAccess, node: string): Promise<PodInfo[]> {
  const list = await listAll(kc, collectionPath(POD_KIND), 500, { fieldSelector: nodePodsFieldSelector(node) });
  const kept = list.items.filter(isObj).map((o) => trimPodForNode(o) as KubeObject);
  return podsOnNode(kept, node);
}

export interface NodePodWatchOptions extends Pick<ReflectorOptions, 'backoffInitialMs' | 'backoffMaxMs' | 'watchTimeoutSeconds' | 'idleTimeoutMs'> {
  readonly kubeConfig: KubeAccess;
  readonly node: string;
  readonly logger: Logger;
  /** The node's pods changed in something the checks read. */
  readonly onChange: () => void;
  readonly onSynced?: () => void;
}

/** The agent's live view of its node's Pods: one Reflector with a field selector. */
export class NodePodWatch {
  private readonly reflector: Reflector;

  constructor(private readonly opts: NodePodWatchOptions) {
    const { kubeConfig, node, logger, onChange, onSynced, ...tuning } = opts;
    this.reflector = new Reflector({
      ...tuning,
      kubeConfig,
      kind: POD_KIND,
      logger: logger.child({ component: 'node-pods' }),
      fieldSelector: nodePodsFieldSelector(node),
      trim: trimPodForNode,
      onChange,
      onSynced: onSynced ?? (() => undefined),
    });
  }

  start(): void {
    this.reflector.start();
  }

  stop(): Promise<void> {
    return this.reflector.stop();
  }

  get isSynced(): boolean {
    return this.reflector.isSynced;
  }

  stats(): ReflectorStats {
    return this.reflector.stats();
  }

  /** This node's Pods now (undefined until the first list completed: "not known yet"). */
  pods(): PodInfo[] | undefined {
    if (!this.reflector.isSynced) return undefined;
    const out: PodInfo[] = [];
    for (const o of this.reflector.objects()) {
      const p = parsePodInfo(o as KubeObject);
      if (p && p.nodeName === this.opts.node) out.push(p);
    }
    return out.sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));
  }
}
