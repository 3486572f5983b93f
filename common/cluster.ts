// The cluster as the API server describes it, reduced to what node checks need.
// One parsing path (parseClusterObjects) serves every source: a `kubectl get -o yaml`
// file, a one-off API list, and the collector's watch. The agent's watch
// (kube/incremental-context.ts) applies events one object at a time through the same
// per-object parsers (parseServiceObject, parseNodeObject).
import { readFileSync } from 'node:fs';
import { InputError } from './errors.js';
import type { PodInfo } from './node-pods.js';
import { checkClusterObject, readClusterDocuments } from './cluster-file.js';

export interface NodeInfo {
  readonly name: string;
  readonly podCIDRs: readonly string[];
  readonly internalIPs: readonly string[];
  readonly externalIPs: readonly string[];
  /** status.capacity.pods / allocatable.pods; 0 when unknown. */
  readonly maxPods: number;
}

export interface EndpointInfo {
  readonly address: string;
  readonly port: number;
  readonly nodeName: string;
  readonly ready: boolean;
  readonly serving: boolean;
  readonly terminating: boolean;
  readonly zone: string;
  /** The slice carries topology hints for this endpoint (kube-proxy may then filter). */
  readonly hasHints: boolean;
}

export type Protocol = 'TCP' | 'UDP' | 'SCTP';

export interface ServicePortInfo {
  readonly name: string;
  readonly protocol: Protocol;
  readonly port: number;
  /** 0 when the port has no NodePort. */
  readonly nodePort: number;
  readonly endpoints: readonly EndpointInfo[];
}

export interface ServiceInfo {
  readonly namespace: string;
  readonly name: string;
  readonly type: 'ClusterIP' | 'NodePort' | 'LoadBalancer' | 'ExternalName';
  /** `['None']` for headless Services. */
  readonly clusterIPs: readonly string[];
  readonly ports: readonly ServicePortInfo[];
  readonly externalTrafficPolicy: 'Cluster' | 'Local';
  readonly internalTrafficPolicy: 'Cluster' | 'Local';
  readonly sessionAffinity: 'None' | 'ClientIP';
  readonly sessionAffinityTimeoutSeconds: number;
  readonly externalIPs: readonly string[];
  readonly loadBalancerIPs: readonly string[];
  readonly hasSelector: boolean;
  /** Epoch ms when the agent last saw this Service or its endpoints change (watch events); undefined when unknown (a file). */
  readonly changedAt?: number;
}

export interface NamespaceInfo {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}

export interface ClusterContext {
  readonly nodes: readonly NodeInfo[];
  readonly serviceCIDRs: readonly string[];
  /** The cluster-wide pod CIDR when known (ServiceCIDR-like objects do not carry it). */
  readonly clusterCIDR: string;
  readonly services: readonly ServiceInfo[];
  readonly namespaces: readonly NamespaceInfo[];
  /** Raw Pod and workload objects (for Pod Security what-if); not sent to agents. */
  readonly workloads: readonly KubeObject[];
  /**
   * The Pods of the node being scanned, with the status the pod-netns checks need. Set by
   * the agent (its `spec.nodeName` pod watch; for `scan --cluster FILE` the file's Pods of
   * this node; for `scan --kubeconfig` a node-scoped list). Undefined when the source did
   * not say which pods run here (the collector's context): those checks then skip.
   */
  readonly nodePods?: readonly PodInfo[];
}

export const EMPTY_CLUSTER: ClusterContext = {
  nodes: [], serviceCIDRs: [], clusterCIDR: '', services: [], namespaces: [], workloads: [],
};

export interface KubeObject {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata?: {
    readonly name?: string;
    readonly namespace?: string;
    readonly labels?: Readonly<Record<string, string>>;
    readonly annotations?: Readonly<Record<string, string>>;
    readonly [k: string]: unknown;
  };
  readonly [k: string]: unknown;
}

const WORKLOAD_KINDS = new Set([
  'Pod', 'Deployment', 'ReplicaSet', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob', 'ReplicationController', 'PodTemplate',
]);

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown, d = ''): string => (typeof v === 'string' ? v : d);
const num = (v: unknown, d = 0): number => (typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : d);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const strs = (v: unknown): string[] => arr(v).filter((x): x is string => typeof x === 'string');

/** Flattens `kind: List` / `*List` objects into their items. */
export function flattenObjects(objects: readonly unknown[]): KubeObject[] {
  const out: KubeObject[] = [];
  for (const o of objects) {
    if (!isObj(o)) continue;
    if (Array.isArray(o['items']) && (str(o['kind']) === 'List' || str(o['kind']).endsWith('List'))) {
      const itemKind = str(o['kind']).replace(/List$/, '');
      for (const item of o['items']) {
        if (!isObj(item)) continue;
        // `kubectl get pods -o json` items carry their kind; a raw API list may not.
        out.push(item['kind'] || itemKind === '' ? (item as KubeObject) : ({ ...item, kind: itemKind } as KubeObject));
      }
    } else {
      out.push(o as KubeObject);
    }
  }
  return out;
}

export interface ClusterOptions {
  readonly serviceCIDRs?: readonly string[];
  readonly clusterCIDR?: string;
  /** Called for an object that cannot be used; it is skipped, never fatal. */
  readonly onSkip?: (reason: string, obj: unknown) => void;
}

/** Builds a ClusterContext from API objects of any kinds (unknown kinds are ignored). */
export function parseClusterObjects(objects: readonly unknown[], opts: ClusterOptions = {}): ClusterContext {
  const items = flattenObjects(objects);
  const nodes: NodeInfo[] = [];
  const services: Obj[] = [];
  const slices: Obj[] = [];
  const namespaces: NamespaceInfo[] = [];
  const workloads: KubeObject[] = [];
  const serviceCIDRs = new Set(opts.serviceCIDRs ?? []);
  const skip = opts.onSkip ?? (() => undefined);

  for (const o of items) {
    const kind = str(o.kind);
    const meta = isObj(o.metadata) ? o.metadata : undefined;
    if (!meta || typeof meta.name !== 'string') {
      if (kind) skip(`${kind} without metadata.name`, o);
      continue;
    }
    switch (kind) {
      case 'Node': nodes.push(parseNodeObject(o as Obj)); break;
      case 'Service': services.push(o as Obj); break;
      case 'EndpointSlice': slices.push(o as Obj); break;
      case 'Namespace':
        namespaces.push({ name: meta.name, labels: stringMap(meta.labels) });
        break;
      case 'ServiceCIDR': {
        const spec = isObj(o['spec']) ? o['spec'] : {};
        for (const c of strs(spec['cidrs'])) serviceCIDRs.add(c);
        break;
      }
      default:
        if (WORKLOAD_KINDS.has(kind)) workloads.push(o);
    }
  }

  const slicesByService = new Map<string, Obj[]>();
  for (const s of slices) {
    const key = sliceServiceKey(s);
    if (!key) { skip('EndpointSlice without kubernetes.io/service-name label', s); continue; }
    let list = slicesByService.get(key);
    if (!list) slicesByService.set(key, (list = []));
    list.push(s);
  }

  const parsedServices: ServiceInfo[] = [];
  for (const s of services) {
    try {
      parsedServices.push(parseServiceObject(s, slicesByService.get(serviceKey(s)) ?? []));
    } catch (err) {
      skip(err instanceof Error ? err.message : String(err), s);
    }
  }
  parsedServices.sort((a, b) => (a.namespace + '/' + a.name).localeCompare(b.namespace + '/' + b.name));
  nodes.sort((a, b) => a.name.localeCompare(b.name));
  namespaces.sort((a, b) => a.name.localeCompare(b.name));
  return {
    nodes,
    serviceCIDRs: [...serviceCIDRs],
    clusterCIDR: opts.clusterCIDR ?? '',
    services: parsedServices,
    namespaces,
    workloads,
  };
}

function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (isObj(v)) for (const [k, val] of Object.entries(v)) if (typeof val === 'string') out[k] = val;
  return out;
}

/** `namespace/name` of a Service object (the namespace defaults to "default"). */
export function serviceKey(s: Obj): string {
  const meta = isObj(s['metadata']) ? s['metadata'] : {};
  return `${str(meta['namespace'], 'default')}/${str(meta['name'])}`;
}

/** `namespace/service` of the Service an EndpointSlice belongs to, by its kubernetes.io/service-name label. */
export function sliceServiceKey(slice: Obj): string | undefined {
  const meta = isObj(slice['metadata']) ? slice['metadata'] : {};
  const svc = stringMap(meta['labels'])['kubernetes.io/service-name'];
  return svc ? `${str(meta['namespace'], 'default')}/${svc}` : undefined;
}

/** One Node object (with metadata.name) as the checks see it. */
export function parseNodeObject(o: Obj): NodeInfo {
  const meta = o['metadata'] as Obj;
  const spec = isObj(o['spec']) ? o['spec'] : {};
  const status = isObj(o['status']) ? o['status'] : {};
  const podCIDRs = strs(spec['podCIDRs']);
  if (podCIDRs.length === 0 && typeof spec['podCIDR'] === 'string') podCIDRs.push(spec['podCIDR']);
  const addrs = arr(status['addresses']).filter(isObj);
  const byType = (t: string): string[] => addrs.filter((a) => a['type'] === t).map((a) => str(a['address'])).filter(Boolean);
  const capacity = isObj(status['allocatable']) ? status['allocatable'] : isObj(status['capacity']) ? status['capacity'] : {};
  return {
    name: str(meta['name']),
    podCIDRs,
    internalIPs: byType('InternalIP'),
    externalIPs: byType('ExternalIP'),
    maxPods: num(capacity['pods']),
  };
}

const PROTOCOLS: readonly Protocol[] = ['TCP', 'UDP', 'SCTP'];

/**
 * One Service object with the EndpointSlices that name it, as the checks see it; throws
 * (with the Service and field named) for a type or protocol kube-proxy would not accept.
 */
export function parseServiceObject(s: Obj, slices: readonly Obj[]): ServiceInfo {
  const meta = s['metadata'] as Obj;
  const namespace = str(meta['namespace'], 'default');
  const name = str(meta['name']);
  const spec = isObj(s['spec']) ? s['spec'] : {};
  const status = isObj(s['status']) ? s['status'] : {};
  const type = str(spec['type'], 'ClusterIP');
  if (type !== 'ClusterIP' && type !== 'NodePort' && type !== 'LoadBalancer' && type !== 'ExternalName') {
    throw new Error(`Service ${namespace}/${name}: unknown spec.type "${type}"`);
  }
  const clusterIPs = strs(spec['clusterIPs']);
  if (clusterIPs.length === 0 && typeof spec['clusterIP'] === 'string' && spec['clusterIP'] !== '') clusterIPs.push(spec['clusterIP']);

  const ports: ServicePortInfo[] = arr(spec['ports']).filter(isObj).map((p, i) => {
    const protocol = str(p['protocol'], 'TCP') as Protocol;
    if (!PROTOCOLS.includes(protocol)) throw new Error(`Service ${namespace}/${name}: spec.ports[${i}].protocol "${protocol}" is not TCP, UDP or SCTP`);
    const portName = str(p['name']);
    const endpoints: EndpointInfo[] = [];
    const seen = new Set<string>();
    for (const slice of slices) {
      const slicePort = arr(slice['ports']).filter(isObj).find((sp) => str(sp['name']) === portName && str(sp['protocol'], 'TCP') === protocol);
      if (!slicePort) continue;
      const epPort = num(slicePort['port']);
      for (const ep of arr(slice['endpoints']).filter(isObj)) {
        const cond = isObj(ep['conditions']) ? ep['conditions'] : {};
        // EndpointSlice semantics: a nil `ready` means ready; nil `serving` follows ready.
        const ready = cond['ready'] !== false;
        const serving = cond['serving'] === undefined || cond['serving'] === null ? ready : cond['serving'] === true;
        const terminating = cond['terminating'] === true;
        const hints = isObj(ep['hints']) && arr(ep['hints']['forZones']).length > 0;
        for (const address of strs(ep['addresses']).slice(0, 1)) {
          // kube-proxy uses the first address of an endpoint; duplicates across slices count once.
          const key = `${address}:${epPort}`;
          if (seen.has(key)) continue;
          seen.add(key);
          endpoints.push({
            address, port: epPort, nodeName: str(ep['nodeName']), ready, serving, terminating,
            zone: str(ep['zone']), hasHints: hints,
          });
        }
      }
    }
    return { name: portName, protocol, port: num(p['port']), nodePort: num(p['nodePort']), endpoints };
  });

  const affinity = str(spec['sessionAffinity'], 'None') === 'ClientIP' ? 'ClientIP' : 'None';
  const cfg = isObj(spec['sessionAffinityConfig']) && isObj(spec['sessionAffinityConfig']['clientIP']) ? spec['sessionAffinityConfig']['clientIP'] : {};
  const lb = isObj(status['loadBalancer']) ? arr(status['loadBalancer']['ingress']).filter(isObj) : [];
  return {
    namespace, name, type, clusterIPs, ports,
    externalTrafficPolicy: str(spec['externalTrafficPolicy']) === 'Local' ? 'Local' : 'Cluster',
    internalTrafficPolicy: str(spec['internalTrafficPolicy']) === 'Local' ? 'Local' : 'Cluster',
    sessionAffinity: affinity,
    sessionAffinityTimeoutSeconds: affinity === 'ClientIP' ? num(cfg['timeoutSeconds'], 10800) : 0,
    externalIPs: strs(spec['externalIPs']),
    loadBalancerIPs: lb.map((i) => str(i['ip'])).filter(Boolean),
    hasSelector: isObj(spec['selector']) && Object.keys(spec['selector']).length > 0,
  };
}

/**
 * Reads `kubectl get … -o yaml|json` output: one List, several documents, or plain objects,
 * each a Kubernetes object (see cluster-file.ts); Lists come back flattened into their items.
 */
export function parseClusterText(text: string, file: string): unknown[] {
  return readClusterDocuments(text, file).map((o) => o.object);
}

/**
 * Every object of a `kubectl get … -A -o yaml|json` file, Lists flattened, any kinds kept:
 * what `migrate check --cluster` and the collector's `--cluster` read the migration
 * inventory from (migrate/inventory.ts), the same way in both.
 */
export function readKubeObjectsFile(file: string): KubeObject[] {
  let text: string;
  try {
    text = file === '-' ? readFileSync(0, 'utf8') : readFileSync(file, 'utf8');
  } catch (err) {
    throw new InputError(file, `cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return flattenObjects(parseClusterText(text, file));
}

export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1, last = -1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) { line++; last = i; }
  return { line, column: offset - last };
}

export function readClusterFile(file: string, opts: ClusterOptions = {}): ClusterContext {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new InputError(file, `cannot read cluster file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const located = readClusterDocuments(text, file);
  for (const o of located) checkClusterObject(o, file);
  return parseClusterObjects(located.map((o) => o.object), opts);
}

/** The node's own entry, when the context knows it. */
export function findNode(ctx: ClusterContext | undefined, name: string): NodeInfo | undefined {
  return ctx?.nodes.find((n) => n.name === name);
}
