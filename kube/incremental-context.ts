// The agent's cluster context, kept current one watch event at a time. A 10,000-Service
// cluster changes an endpoint or two at a time; re-parsing every object per event (what
// the collector's watcher does for its PSA cache) would cost the agent a full parse per
// event. Here each delta touches only what it names: a Service or EndpointSlice event
// marks that one Service for re-parsing (through the shared parseServiceObject, with its
// own slices), a Node or ServiceCIDR event replaces that one entry. flush() re-parses the
// touched Services, keeps the old ServiceInfo when nothing the checks see changed, and
// stamps `changedAt` (the time of the event that touched it) on the ones that did.
//
// Pure and synchronous: the clock comes in as `now`, so tests fix it.
import { isDeepStrictEqual } from 'node:util';
import { parseNodeObject, parseServiceObject, sliceServiceKey, type ClusterContext, type NodeInfo, type ServiceInfo } from '../common/cluster.js';
import type { ReflectorDelta } from './reflector.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export interface IncrementalContextOptions {
  /** Service CIDRs from flags (--service-cidr), listed before those of ServiceCIDR objects. */
  readonly serviceCIDRs?: readonly string[];
  readonly clusterCIDR?: string;
  readonly now?: () => number;
  /** An object that cannot be used (it is left out, never fatal). */
  readonly onSkip?: (reason: string) => void;
}

/** What one flush changed. */
export interface ContextChanges {
  /** `namespace/name` of every Service added, changed (as the checks see it) or removed. */
  readonly services: readonly string[];
  readonly nodes: boolean;
  readonly serviceCIDRs: boolean;
}

export const NO_CHANGES: ContextChanges = { services: [], nodes: false, serviceCIDRs: false };

export function hasChanges(c: ContextChanges): boolean {
  return c.services.length > 0 || c.nodes || c.serviceCIDRs;
}

export class IncrementalClusterContext {
  private readonly nodes = new Map<string, NodeInfo>();
  private readonly cidrObjects = new Map<string, readonly string[]>();
  /** Raw (trimmed) Service objects by `namespace/name`. */
  private readonly services = new Map<string, Obj>();
  private readonly parsed = new Map<string, ServiceInfo>();
  /** Each Service's EndpointSlices, by the slice's own `namespace/name`. */
  private readonly slices = new Map<string, Map<string, Obj>>();
  /** Which Service each slice counts for now (its label may change, or go). */
  private readonly sliceOwner = new Map<string, string>();
  /** Services to re-parse, with the time of the latest event that touched each. */
  private touched = new Map<string, number>();
  private nodesChanged = false;
  private cidrsChanged = false;
  private sortedServiceKeys: string[] | undefined;
  private cached: ClusterContext | undefined;
  private tracking = false;
  private readonly now: () => number;
  /** Deltas applied and Service parses done (a measure of the incremental work). */
  readonly counts = { deltas: 0, serviceParses: 0 };

  constructor(private readonly opts: IncrementalContextOptions = {}) {
    this.now = opts.now ?? Date.now;
  }

  /**
   * From now on, changes are stamped with `changedAt`. Before (the first list of every
   * kind) the agent sees the cluster for the first time: nothing has "changed".
   */
  startTracking(): void {
    this.tracking = true;
  }

  /** Applies one reflector delta of `kind`; kinds this context does not keep are ignored. */
  apply(kind: string, delta: ReflectorDelta): void {
    this.counts.deltas++;
    const object = delta.type === 'upsert' ? delta.object : undefined;
    switch (kind) {
      case 'Service':
        if (object) this.services.set(delta.key, object);
        else this.services.delete(delta.key);
        if (!object || !delta.old) this.sortedServiceKeys = undefined;
        this.touch(delta.key);
        return;
      case 'EndpointSlice':
        this.applySlice(delta.key, object);
        return;
      case 'Node': {
        const name = delta.key.slice(delta.key.indexOf('/') + 1);
        if (object) this.nodes.set(name, parseNodeObject(object));
        else this.nodes.delete(name);
        this.nodesChanged = true;
        this.cached = undefined;
        return;
      }
      case 'ServiceCIDR': {
        const spec = object && isObj(object['spec']) ? object['spec'] : {};
        const cidrs = Array.isArray(spec['cidrs']) ? spec['cidrs'].filter((c): c is string => typeof c === 'string') : [];
        if (object) this.cidrObjects.set(delta.key, cidrs);
        else this.cidrObjects.delete(delta.key);
        this.cidrsChanged = true;
        this.cached = undefined;
        return;
      }
      // A new kind (say, this node's Pods) gets its case here and its field in ClusterContext.
      default:
        return;
    }
  }

  /** Re-parses the touched Services; says what changed since the last flush. */
  flush(): ContextChanges {
    const changedServices: string[] = [];
    for (const [key, at] of this.touched) {
      const before = this.parsed.get(key);
      const after = this.parseService(key);
      if (after === undefined) {
        if (before !== undefined) {
          this.parsed.delete(key);
          changedServices.push(key);
          this.sortedServiceKeys = undefined;
        }
        continue;
      }
      if (before !== undefined && sameService(before, after)) continue;
      if (before === undefined) this.sortedServiceKeys = undefined;
      this.parsed.set(key, this.tracking ? { ...after, changedAt: at } : after);
      changedServices.push(key);
    }
    this.touched = new Map();
    const changes: ContextChanges = { services: changedServices.sort(), nodes: this.nodesChanged, serviceCIDRs: this.cidrsChanged };
    this.nodesChanged = false;
    this.cidrsChanged = false;
    if (hasChanges(changes)) this.cached = undefined;
    return changes;
  }

  /** The context as of the last flush (flushing first if anything is pending). */
  context(): ClusterContext {
    if (this.touched.size > 0) this.flush();
    if (this.cached) return this.cached;
    // The same order parseClusterObjects gives, so a file and the watch agree exactly.
    if (!this.sortedServiceKeys) {
      const withNames = [...this.parsed.entries()].map(([key, s]) => ({ key, sortKey: `${s.namespace}/${s.name}` }));
      withNames.sort((a, b) => a.sortKey.localeCompare(b.sortKey));
      this.sortedServiceKeys = withNames.map((x) => x.key);
    }
    const services: ServiceInfo[] = [];
    for (const key of this.sortedServiceKeys) {
      const s = this.parsed.get(key);
      if (s) services.push(s);
    }
    const serviceCIDRs = new Set(this.opts.serviceCIDRs ?? []);
    for (const key of [...this.cidrObjects.keys()].sort()) for (const c of this.cidrObjects.get(key)!) serviceCIDRs.add(c);
    this.cached = {
      nodes: [...this.nodes.values()].sort((a, b) => a.name.localeCompare(b.name)),
      serviceCIDRs: [...serviceCIDRs],
      clusterCIDR: this.opts.clusterCIDR ?? '',
      services,
      namespaces: [],
      workloads: [],
    };
    return this.cached;
  }

  private touch(serviceKey: string): void {
    this.touched.set(serviceKey, this.now());
  }

  private applySlice(sliceKey: string, slice: Obj | undefined): void {
    const before = this.sliceOwner.get(sliceKey);
    const after = slice ? sliceServiceKey(slice) : undefined;
    if (slice && after === undefined) this.opts.onSkip?.(`EndpointSlice ${sliceKey} without kubernetes.io/service-name label`);
    if (before !== undefined && before !== after) {
      const own = this.slices.get(before);
      own?.delete(sliceKey);
      if (own && own.size === 0) this.slices.delete(before);
      this.sliceOwner.delete(sliceKey);
      this.touch(before);
    }
    if (slice && after !== undefined) {
      let own = this.slices.get(after);
      if (!own) this.slices.set(after, (own = new Map()));
      own.set(sliceKey, slice);
      this.sliceOwner.set(sliceKey, after);
      this.touch(after);
    }
  }

  /** The Service's current parse, or undefined when it is absent or unusable. */
  private parseService(key: string): ServiceInfo | undefined {
    const raw = this.services.get(key);
    if (!raw) return undefined;
    const own = this.slices.get(key);
    // Slices in key order: the order the API server lists them in.
    const slices = own ? [...own.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, s]) => s) : [];
    this.counts.serviceParses++;
    try {
      return parseServiceObject(raw, slices);
    } catch (err) {
      this.opts.onSkip?.(err instanceof Error ? err.message : String(err));
      return undefined;
    }
  }
}

/** Equal in everything the checks read (changedAt is when, not what). */
function sameService(a: ServiceInfo, b: ServiceInfo): boolean {
  const { changedAt: _a, ...restA } = a;
  const { changedAt: _b, ...restB } = b;
  return isDeepStrictEqual(restA, restB);
}
