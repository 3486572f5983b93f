// The collector's Kubernetes input: one reflector per kind keeps the objects, and after
// every burst of changes the ONE shared parser (parseClusterObjects) turns the whole cache
// into a ClusterContext, handed to `onContext` — coalesced: a burst of watch events
// yields one context after `debounceMs` of quiet, and a steady stream still yields one at
// least every `maxDelayMs`. Nothing is emitted before every kind has been listed once, so
// no consumer ever sees a half-loaded cluster (say, Services without their endpoints).
import type { KubeConfig } from '@kubernetes/client-node';
import { parseClusterObjects, type ClusterContext, type ClusterOptions, type KubeObject } from '../common/cluster.js';
import { createLogger, type Logger } from '../common/log.js';
import { resourceKindsNamed } from './kinds.js';
import { Reflector, type ReflectorStats } from './reflector.js';

export type ContextSink = (ctx: ClusterContext, version: number) => void;

export interface ClusterWatcherOptions {
  readonly kubeConfig: KubeConfig;
  readonly onContext: ContextSink;
  /** Kinds to watch (default: all of RESOURCE_KINDS). */
  readonly kinds?: readonly string[];
  /** Facts the API does not show everywhere (flags --service-cidr, --cluster-cidr). */
  readonly cluster?: Pick<ClusterOptions, 'serviceCIDRs' | 'clusterCIDR'>;
  readonly debounceMs?: number;
  readonly maxDelayMs?: number;
  readonly backoffInitialMs?: number;
  readonly backoffMaxMs?: number;
  readonly watchTimeoutSeconds?: number;
  readonly idleTimeoutMs?: number;
  readonly absentRecheckMs?: number;
  readonly pageLimit?: number;
  readonly logger?: Logger;
}

export interface ClusterWatcherStatus {
  readonly synced: boolean;
  /** Version of the last context emitted (0 before the first). */
  readonly version: number;
  readonly kinds: Readonly<Record<string, ReflectorStats>>;
}

export class ClusterWatcher {
  private readonly reflectors: Reflector[];
  private readonly log: Logger;
  private version = 0;
  private latest: ClusterContext | undefined;
  private dirty = false;
  private debounce: NodeJS.Timeout | undefined;
  private firstDirtyAt = 0;
  private syncWaiters: (() => void)[] = [];
  private reportedSkips = new Set<string>();
  private running = false;

  constructor(private readonly opts: ClusterWatcherOptions) {
    this.log = opts.logger ?? createLogger({ component: 'kube-watcher' });
    this.reflectors = resourceKindsNamed(opts.kinds).map(
      (kind) =>
        new Reflector({
          kubeConfig: opts.kubeConfig,
          kind,
          logger: this.log,
          onChange: () => this.changed(),
          onSynced: () => this.kindSynced(),
          ...pick(opts, ['backoffInitialMs', 'backoffMaxMs', 'watchTimeoutSeconds', 'idleTimeoutMs', 'absentRecheckMs', 'pageLimit']),
        }),
    );
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

  /** Resolves once every kind has been listed (the first context follows within debounceMs). */
  waitSynced(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  /** The last context emitted, with its version. */
  current(): { readonly context: ClusterContext; readonly version: number } | undefined {
    return this.latest ? { context: this.latest, version: this.version } : undefined;
  }

  status(): ClusterWatcherStatus {
    const kinds: Record<string, ReflectorStats> = {};
    for (const r of this.reflectors) kinds[r.kind.kind] = r.stats();
    return { synced: this.synced, version: this.version, kinds };
  }

  /** Every cached object (trimmed; kind and apiVersion set). */
  objects(): KubeObject[] {
    const out: KubeObject[] = [];
    for (const r of this.reflectors) for (const o of r.objects()) out.push(o as KubeObject);
    return out;
  }

  private kindSynced(): void {
    if (!this.synced) return;
    this.log.info('all kinds listed', { kinds: this.reflectors.length });
    const waiters = this.syncWaiters;
    this.syncWaiters = [];
    for (const w of waiters) w();
    this.changed();
  }

  private changed(): void {
    if (!this.running) return;
    if (!this.dirty) this.firstDirtyAt = Date.now();
    this.dirty = true;
    if (!this.synced) return;
    const debounceMs = this.opts.debounceMs ?? 200;
    const maxDelayMs = this.opts.maxDelayMs ?? 2000;
    const wait = Math.max(0, Math.min(debounceMs, this.firstDirtyAt + maxDelayMs - Date.now()));
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = setTimeout(() => this.emit(), wait);
  }

  private emit(): void {
    this.debounce = undefined;
    if (!this.dirty || !this.running) return;
    this.dirty = false;
    const skips = new Set<string>();
    let ctx: ClusterContext;
    try {
      ctx = parseClusterObjects(this.objects(), {
        ...this.opts.cluster,
        onSkip: (reason) => {
          skips.add(reason);
        },
      });
    } catch (err) {
      // The parser validates field by field and should never throw; if it does, keep the
      // last good context rather than hand agents a broken one.
      this.log.error('building the cluster context failed; keeping the previous one', { error: err instanceof Error ? err.message : String(err) });
      return;
    }
    for (const reason of skips) if (!this.reportedSkips.has(reason)) this.log.warn('skipping object', { reason });
    this.reportedSkips = skips;
    this.latest = ctx;
    this.version++;
    this.log.debug('cluster context', { version: this.version, nodes: ctx.nodes.length, services: ctx.services.length });
    try {
      this.opts.onContext(ctx, this.version);
    } catch (err) {
      this.log.error('context consumer failed', { error: err instanceof Error ? err.message : String(err) });
    }
  }
}

function pick<T extends object, K extends keyof T>(o: T, keys: readonly K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const k of keys) if (o[k] !== undefined) out[k] = o[k];
  return out;
}
