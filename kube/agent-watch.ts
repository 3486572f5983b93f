// The agent's own list + watch of the API server, the way kube-proxy gets its view: one
// reflector per kind in AGENT_WATCHES, every delta applied to an IncrementalClusterContext
// as it arrives, and after a burst of them one coalesced `onChange` (debounceMs of quiet,
// at most maxDelayMs after the first) carrying the context and what changed. Nothing is
// emitted before every kind has been listed once, so the agent never checks a
// half-loaded cluster (Services without their endpoints).
//
// To watch one more kind, add it to AGENT_WATCHES (with a field selector when only this
// node's objects are wanted: `{ kind: 'Pod', fieldSelector: (node) => \`spec.nodeName=${node}\` }`),
// give IncrementalClusterContext.apply a case for it, and grant it in the agent's
// ClusterRole (manifests/base/rbac.yaml; test/manifests.test.ts holds the two together).
import type { ClusterContext } from '../common/cluster.js';
import { createLogger, type Logger } from '../common/log.js';
import { resourceKindsNamed } from './kinds.js';
import { Reflector, type ReflectorStats } from './reflector.js';
import { IncrementalClusterContext, hasChanges, type ContextChanges } from './incremental-context.js';
import type { KubeAccess } from './rest.js';

export interface AgentWatch {
  readonly kind: string;
  /** Server-side narrowing to what this node needs, from the node's name. */
  readonly fieldSelector?: (node: string) => string;
}

/** What an agent watches: kube-proxy's kinds (system:node-proxier's read access, endpoints aside). */
export const AGENT_WATCHES: readonly AgentWatch[] = [
  { kind: 'Node' },
  { kind: 'Service' },
  { kind: 'EndpointSlice' },
  { kind: 'ServiceCIDR' },
];

export interface ContextUpdate {
  /** True for the first context (every kind listed once). */
  readonly initial: boolean;
  readonly changes: ContextChanges;
}

export interface AgentClusterWatchOptions {
  readonly kubeConfig: KubeAccess;
  /** This node's name (for field selectors). */
  readonly node: string;
  readonly onChange: (ctx: ClusterContext, update: ContextUpdate) => void;
  /** Facts the API does not show everywhere (flags --service-cidr, --cluster-cidr). */
  readonly serviceCIDRs?: readonly string[];
  readonly clusterCIDR?: string;
  readonly watches?: readonly AgentWatch[];
  readonly debounceMs?: number;
  readonly maxDelayMs?: number;
  readonly backoffInitialMs?: number;
  readonly backoffMaxMs?: number;
  readonly watchTimeoutSeconds?: number;
  readonly pageLimit?: number;
  readonly now?: () => number;
  readonly logger?: Logger;
}

export class AgentClusterWatch {
  private readonly reflectors: Reflector[];
  private readonly context: IncrementalClusterContext;
  private readonly log: Logger;
  private emitted = false;
  private debounce: NodeJS.Timeout | undefined;
  private firstDirtyAt = 0;
  private dirty = false;
  private running = false;
  private reportedSkips = new Set<string>();

  constructor(private readonly opts: AgentClusterWatchOptions) {
    this.log = opts.logger ?? createLogger({ component: 'agent-watch' });
    this.context = new IncrementalClusterContext({
      ...(opts.serviceCIDRs ? { serviceCIDRs: opts.serviceCIDRs } : {}),
      ...(opts.clusterCIDR ? { clusterCIDR: opts.clusterCIDR } : {}),
      ...(opts.now ? { now: opts.now } : {}),
      onSkip: (reason) => {
        if (this.reportedSkips.has(reason)) return;
        this.reportedSkips.add(reason);
        this.log.warn('skipping API object', { reason });
      },
    });
    const watches = opts.watches ?? AGENT_WATCHES;
    const kinds = resourceKindsNamed(watches.map((w) => w.kind));
    this.reflectors = watches.map((w) => {
      const kind = kinds.find((k) => k.kind === w.kind)!;
      return new Reflector({
        kubeConfig: opts.kubeConfig,
        kind,
        logger: this.log,
        ...(w.fieldSelector ? { fieldSelector: w.fieldSelector(opts.node) } : {}),
        onDelta: (d) => this.context.apply(kind.kind, d),
        onChange: () => this.changed(),
        onSynced: () => this.kindSynced(),
        ...(opts.backoffInitialMs !== undefined ? { backoffInitialMs: opts.backoffInitialMs } : {}),
        ...(opts.backoffMaxMs !== undefined ? { backoffMaxMs: opts.backoffMaxMs } : {}),
        ...(opts.watchTimeoutSeconds !== undefined ? { watchTimeoutSeconds: opts.watchTimeoutSeconds } : {}),
        ...(opts.pageLimit !== undefined ? { pageLimit: opts.pageLimit } : {}),
      });
    });
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    for (const r of this.reflectors) r.start();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = undefined;
    await Promise.all(this.reflectors.map((r) => r.stop()));
  }

  get synced(): boolean {
    return this.reflectors.every((r) => r.isSynced);
  }

  /** The context once every kind was listed (with every change applied so far), else undefined. */
  current(): ClusterContext | undefined {
    return this.emitted ? this.context.context() : undefined;
  }

  /** Deltas applied and Service parses done so far (the incremental work). */
  work(): { readonly deltas: number; readonly serviceParses: number } {
    return { ...this.context.counts };
  }

  status(): Readonly<Record<string, ReflectorStats>> {
    const kinds: Record<string, ReflectorStats> = {};
    for (const r of this.reflectors) kinds[r.kind.kind] = r.stats();
    return kinds;
  }

  private kindSynced(): void {
    if (!this.synced || !this.running) return;
    this.log.info('all kinds listed', { kinds: this.reflectors.length });
    this.changed();
  }

  private changed(): void {
    if (!this.running) return;
    if (!this.dirty) this.firstDirtyAt = Date.now();
    this.dirty = true;
    if (!this.synced) return;
    const debounceMs = this.opts.debounceMs ?? 500;
    const maxDelayMs = this.opts.maxDelayMs ?? 5000;
    const wait = this.emitted ? Math.max(0, Math.min(debounceMs, this.firstDirtyAt + maxDelayMs - Date.now())) : 0;
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = setTimeout(() => this.emit(), wait);
  }

  private emit(): void {
    this.debounce = undefined;
    if (!this.dirty || !this.running) return;
    this.dirty = false;
    const initial = !this.emitted;
    const changes = this.context.flush();
    if (initial) {
      // The first complete picture: from here on, changes are stamped with changedAt.
      this.context.startTracking();
      this.emitted = true;
    } else if (!hasChanges(changes)) {
      return;
    }
    const ctx = this.context.context();
    this.log.debug('cluster context', { initial, services: ctx.services.length, nodes: ctx.nodes.length, changedServices: changes.services.length });
    try {
      this.opts.onChange(ctx, { initial, changes });
    } catch (err) {
      this.log.error('context consumer failed', { error: err instanceof Error ? err.message : String(err) });
    }
  }
}
