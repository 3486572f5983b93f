// The API resources the collector reads, in one table: where each is listed and watched,
// and what of each object is kept. Nothing else knows how many kinds there are; the
// manifests' ClusterRole grants exactly these (a test holds the two together).

export interface ResourceKind {
  /** The object kind, set on every cached object (API lists omit it on their items). */
  readonly kind: string;
  readonly apiVersion: string;
  /** API group ('' for the core group), as RBAC names it. */
  readonly group: string;
  /** Plural resource name, as in the URL and in RBAC rules. */
  readonly resource: string;
  /**
   * Optional kinds may not be served by every API server (ServiceCIDR is GA only from
   * 1.33): a 404 marks them absent instead of failing, and they are looked for again later.
   */
  readonly optional: boolean;
}

const kind = (k: string, apiVersion: string, resource: string, optional = false): ResourceKind => ({
  kind: k,
  apiVersion,
  group: apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '',
  resource,
  optional,
});

/** Everything the ClusterContext is built from: network facts first, then what PSA what-if reads. */
export const RESOURCE_KINDS: readonly ResourceKind[] = [
  kind('Node', 'v1', 'nodes'),
  kind('Service', 'v1', 'services'),
  kind('EndpointSlice', 'discovery.k8s.io/v1', 'endpointslices'),
  kind('Namespace', 'v1', 'namespaces'),
  kind('ServiceCIDR', 'networking.k8s.io/v1', 'servicecidrs', true),
  kind('Pod', 'v1', 'pods'),
  kind('ReplicationController', 'v1', 'replicationcontrollers'),
  kind('Deployment', 'apps/v1', 'deployments'),
  kind('ReplicaSet', 'apps/v1', 'replicasets'),
  kind('StatefulSet', 'apps/v1', 'statefulsets'),
  kind('DaemonSet', 'apps/v1', 'daemonsets'),
  kind('Job', 'batch/v1', 'jobs'),
  kind('CronJob', 'batch/v1', 'cronjobs'),
  // What a CNI migration must keep enforcing (migrate/inventory.ts; Nodes, Pods, Services and
  // DaemonSets above serve it too).
  kind('NetworkPolicy', 'networking.k8s.io/v1', 'networkpolicies'),
];

/** The cluster-wide collection path: `/api/v1/nodes`, `/apis/apps/v1/deployments`. */
export function collectionPath(k: ResourceKind): string {
  return `${k.apiVersion.includes('/') ? '/apis' : '/api'}/${k.apiVersion}/${k.resource}`;
}

export function resourceKindsNamed(names: readonly string[] | undefined): readonly ResourceKind[] {
  if (!names) return RESOURCE_KINDS;
  const unknown = names.filter((n) => !RESOURCE_KINDS.some((k) => k.kind === n));
  if (unknown.length > 0) throw new Error(`unknown resource kinds: ${unknown.join(', ')}`);
  return RESOURCE_KINDS.filter((k) => names.includes(k.kind));
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The workload kinds whose `status` no consumer reads (PSA looks at metadata and spec only)
 * — except a Pod's terminal phase: a Succeeded or Failed pod holds no address, and the
 * migration inventory does not count it. Pending → Running leaves the kept object unchanged.
 */
const TERMINAL_POD_PHASES = new Set(['Succeeded', 'Failed']);
const SPEC_ONLY = new Set(['Pod', 'ReplicationController', 'Deployment', 'ReplicaSet', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob']);
/** The parts of a Node's status that describe it rather than report its heartbeat. */
const NODE_STATUS_KEPT = ['addresses', 'capacity', 'allocatable', 'nodeInfo'];

/**
 * What the cache keeps of an object: its kind and apiVersion set, `managedFields` dropped
 * everywhere (often the largest part of an object), workload status dropped (a Pod's terminal phase kept), Node status
 * reduced to addresses, capacity and nodeInfo. Status churn (pod conditions, node heartbeats)
 * then leaves the kept object unchanged, so it causes no new context.
 */
export function trimObject(k: ResourceKind, o: Obj): Obj {
  const out: Obj = { ...o, kind: k.kind, apiVersion: k.apiVersion };
  if (isObj(o['metadata'])) {
    const { managedFields: _mf, ...meta } = o['metadata'];
    out['metadata'] = meta;
  }
  if (SPEC_ONLY.has(k.kind)) {
    const phase = k.kind === 'Pod' && isObj(o['status']) ? o['status']['phase'] : undefined;
    if (typeof phase === 'string' && TERMINAL_POD_PHASES.has(phase)) out['status'] = { phase };
    else delete out['status'];
  }
  if (k.kind === 'Node' && isObj(o['status'])) {
    const status = o['status'];
    const kept: Obj = {};
    for (const key of NODE_STATUS_KEPT) if (key in status) kept[key] = status[key];
    out['status'] = kept;
  }
  return out;
}
