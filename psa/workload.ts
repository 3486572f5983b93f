// Where the pod is in each kind of object Pod Security evaluates: the Pod itself, or the
// pod template of a workload resource (the API server audits and warns on templates).
import { PodReadError, readPod, type Pod } from './pod.js';

export const WORKLOAD_KINDS = [
  'Pod', 'PodTemplate', 'ReplicationController', 'ReplicaSet', 'Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob',
] as const;
export type WorkloadKind = (typeof WORKLOAD_KINDS)[number];

export function isWorkloadKind(kind: unknown): kind is WorkloadKind {
  return typeof kind === 'string' && (WORKLOAD_KINDS as readonly string[]).includes(kind);
}

export interface OwnerRef {
  readonly kind: string;
  readonly name: string;
  readonly uid: string;
}

export interface PodSubject {
  readonly kind: WorkloadKind;
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  /** The controller owner (ownerReferences with controller: true), if any. */
  readonly owner: OwnerRef | undefined;
  readonly pod: Pod;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

function field(o: Obj, path: readonly string[]): unknown {
  let cur: unknown = o;
  for (const p of path) {
    if (!isObj(cur)) return undefined;
    cur = cur[p];
  }
  return cur;
}

/** The path from the object to its pod template (empty for a Pod). */
const TEMPLATE_PATH: Readonly<Record<WorkloadKind, readonly string[]>> = {
  Pod: [],
  PodTemplate: ['template'],
  ReplicationController: ['spec', 'template'],
  ReplicaSet: ['spec', 'template'],
  Deployment: ['spec', 'template'],
  StatefulSet: ['spec', 'template'],
  DaemonSet: ['spec', 'template'],
  Job: ['spec', 'template'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template'],
};

function controllerOf(meta: Obj | undefined): OwnerRef | undefined {
  const refs = meta?.['ownerReferences'];
  if (!Array.isArray(refs)) return undefined;
  for (const r of refs) {
    if (isObj(r) && r['controller'] === true) return { kind: str(r['kind']), name: str(r['name']), uid: str(r['uid']) };
  }
  return undefined;
}

/**
 * The pod of a Pod or the pod template of a workload, with the object's identity.
 * Returns undefined for kinds Pod Security does not evaluate; throws PodReadError (field
 * path relative to the object) for an object it cannot read.
 */
export function podSubject(object: unknown): PodSubject | undefined {
  if (!isObj(object)) return undefined;
  const kind = object['kind'];
  if (!isWorkloadKind(kind)) return undefined;
  const meta = isObj(object['metadata']) ? object['metadata'] : undefined;
  const namespace = str(meta?.['namespace']);
  const name = str(meta?.['name']) || str(meta?.['generateName']);
  const path = TEMPLATE_PATH[kind];
  let pod: Pod;
  if (kind === 'Pod') {
    pod = readPod(object['metadata'], object['spec']);
  } else {
    const template = field(object, path);
    const at = path.join('.');
    if (template === undefined || template === null) throw new PodReadError(at, 'missing pod template');
    if (!isObj(template)) throw new PodReadError(at, 'must be an object');
    pod = readPod(template['metadata'], template['spec'], {
      specPath: `${at}.spec`,
      annotationsPath: `${at}.metadata.annotations`,
      isTemplate: true,
    });
  }
  return { kind, namespace, name, uid: str(meta?.['uid']), owner: controllerOf(meta), pod };
}
