// One kind's list + watch loop, keeping that kind's objects in a store, the way client-go's
// reflector does: list, then watch from the list's resourceVersion; a watch that ends is
// resumed from the last resourceVersion seen; 410 Gone (an ERROR event in the stream or
// an HTTP status) means that version was compacted away, so list again; any other error
// backs off exponentially (with jitter) before trying again. An object that cannot be
// keyed is logged and skipped; it never stops the loop. Consumers that apply changes
// incrementally get each one as a delta (onDelta); a relist yields only the differences.
import { isDeepStrictEqual } from 'node:util';
import type { Logger } from '../common/log.js';
import { collectionPath, trimObject, type ResourceKind } from './kinds.js';
import { ApiError, listAll, statusCodeOf, watchEvents, type KubeAccess } from './rest.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

export type ReflectorState = 'idle' | 'listing' | 'watching' | 'backoff' | 'absent' | 'stopped';

export interface ReflectorStats {
  readonly state: ReflectorState;
  readonly objects: number;
  readonly resourceVersion: string;
  /** Completed lists (the first one, and every relist after 410 Gone). */
  readonly lists: number;
  /** Watch requests opened. */
  readonly watches: number;
  /** Times the server said 410 Gone. */
  readonly expired: number;
  /** BOOKMARK events received (the server's progress marks: the resourceVersion advances, no object changes). */
  readonly bookmarks: number;
  readonly errors: number;
  /** Objects skipped because they could not be keyed. */
  readonly skipped: number;
  readonly lastError: string;
}

/** One change to the store: an object added or changed in what is kept, or removed. */
export type ReflectorDelta =
  | { readonly type: 'upsert'; readonly key: string; readonly object: Obj; readonly old: Obj | undefined }
  | { readonly type: 'delete'; readonly key: string; readonly old: Obj };

export interface ReflectorOptions {
  readonly kubeConfig: KubeAccess;
  readonly kind: ResourceKind;
  readonly logger: Logger;
  /** The store changed (an object added, changed in what is kept, or removed). */
  readonly onChange: () => void;
  /** Each change, before onChange: watch events one by one, a relist as its differences. */
  readonly onDelta?: (delta: ReflectorDelta) => void;
  /**
   * Server-side narrowing of the list and the watch, e.g. `spec.nodeName=node-a` for one
   * node's Pods (a field selector) — the API server's watch cache serves it per node.
   */
  readonly fieldSelector?: string;
  readonly labelSelector?: string;
  /** List and watch one namespace only (what a namespaced Role allows: the probe's pods). */
  readonly namespace?: string;
  /** The first list completed (or an optional kind turned out not to be served). */
  readonly onSynced: () => void;
  readonly backoffInitialMs?: number;
  readonly backoffMaxMs?: number;
  /** Asked of the server per watch; it closes the watch then and we resume. */
  readonly watchTimeoutSeconds?: number;
  /** A watch silent this long (no event, no bookmark) is presumed dead and reopened. */
  readonly idleTimeoutMs?: number;
  /** How long an absent optional kind waits before it is looked for again. */
  readonly absentRecheckMs?: number;
  readonly pageLimit?: number;
  /** What the store keeps of an object (default trimObject for the kind). */
  readonly trim?: (o: Obj) => Obj;
}

/** A watch that ended without error: the server closed it (timeout) or it went idle. */
type WatchEnd = { readonly events: number };

export class Reflector {
  private readonly store = new Map<string, Obj>();
  private resourceVersion = '';
  private state: ReflectorState = 'idle';
  private stopped = false;
  private synced = false;
  private abortWatch: (() => void) | undefined;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private counts = { lists: 0, watches: 0, expired: 0, bookmarks: 0, errors: 0, skipped: 0 };
  private lastError = '';
  private readonly path: string;
  private readonly log: Logger;

  constructor(private readonly opts: ReflectorOptions) {
    this.path = opts.namespace ? collectionPath(opts.kind).replace(/\/([^/]+)$/, `/namespaces/${opts.namespace}/$1`) : collectionPath(opts.kind);
    this.log = opts.logger.child({ kind: opts.kind.kind });
  }

  get kind(): ResourceKind {
    return this.opts.kind;
  }

  get isSynced(): boolean {
    return this.synced;
  }

  objects(): IterableIterator<Obj> {
    return this.store.values();
  }

  stats(): ReflectorStats {
    return { state: this.state, objects: this.store.size, resourceVersion: this.resourceVersion, ...this.counts, lastError: this.lastError };
  }

  start(): void {
    if (this.loop) return;
    this.stopped = false;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.state = 'stopped';
    this.abortWatch?.();
    this.wake?.();
    await this.loop;
    this.loop = undefined;
  }

  private async run(): Promise<void> {
    let attempt = 0;
    while (!this.stopped) {
      try {
        if (!this.resourceVersion) {
          await this.relist();
          attempt = 0;
        }
        if (this.stopped) break;
        const started = Date.now();
        const end = await this.watchOnce();
        // A watch that lived and delivered is healthy; one closed at once with nothing in
        // it (a proxy cutting every stream) counts as a failure so we do not spin.
        if (end.events > 0 || Date.now() - started > 5000) attempt = 0;
        else await this.sleep(this.backoff(attempt++));
      } catch (err) {
        if (this.stopped) break;
        const code = statusCodeOf(err);
        if (code === 410) {
          this.counts.expired++;
          this.log.info('resourceVersion expired (410 Gone); listing again', { resourceVersion: this.resourceVersion });
          this.resourceVersion = '';
          continue;
        }
        if (code === 404 && this.opts.kind.optional) {
          this.markAbsent();
          await this.sleep(this.opts.absentRecheckMs ?? 600_000);
          continue;
        }
        this.counts.errors++;
        this.lastError = err instanceof Error ? err.message : String(err);
        const delay = this.backoff(attempt++);
        this.log.warn('list/watch failed; retrying', { error: this.lastError, retryInMs: delay, resourceVersion: this.resourceVersion });
        this.state = 'backoff';
        await this.sleep(delay);
      }
    }
    this.state = 'stopped';
  }

  private backoff(attempt: number): number {
    const initial = this.opts.backoffInitialMs ?? 500;
    const max = this.opts.backoffMaxMs ?? 30_000;
    const base = Math.min(max, initial * 2 ** Math.min(attempt, 20));
    return Math.round(base * (0.8 + Math.random() * 0.4));
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopped) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }

  private markAbsent(): void {
    if (this.state !== 'absent') this.log.info('resource not served by this API server; looking again later', { path: this.path });
    this.state = 'absent';
    this.resourceVersion = '';
    if (this.store.size > 0) {
      const gone = [...this.store];
      this.store.clear();
      for (const [key, old] of gone) this.delta({ type: 'delete', key, old });
      this.opts.onChange();
    }
    this.markSynced();
  }

  private markSynced(): void {
    if (this.synced) return;
    this.synced = true;
    this.opts.onSynced();
  }

  private async relist(): Promise<void> {
    this.state = 'listing';
    const list = await listAll(this.opts.kubeConfig, this.path, this.opts.pageLimit ?? 500, this.selectors());
    if (this.stopped) return;
    const next = new Map<string, Obj>();
    for (const item of list.items) {
      const entry = this.keyed(item, 'list');
      if (entry) next.set(entry[0], entry[1]);
    }
    const deltas: ReflectorDelta[] = [];
    for (const [key, old] of this.store) if (!next.has(key)) deltas.push({ type: 'delete', key, old });
    for (const [key, obj] of next) {
      const old = this.store.get(key);
      if (!old || !sameObject(old, obj)) deltas.push({ type: 'upsert', key, object: obj, old });
    }
    const changed = deltas.length > 0;
    this.store.clear();
    for (const [k, v] of next) this.store.set(k, v);
    for (const d of deltas) this.delta(d);
    this.resourceVersion = list.resourceVersion;
    this.counts.lists++;
    this.log.debug('listed', { objects: next.size, resourceVersion: list.resourceVersion });
    if (changed) this.opts.onChange();
    this.markSynced();
  }

  /** Validates and trims one object; logs and returns undefined when it cannot be keyed. */
  private keyed(item: unknown, from: string): [string, Obj] | undefined {
    const meta = isObj(item) && isObj(item['metadata']) ? item['metadata'] : undefined;
    const name = meta && typeof meta['name'] === 'string' ? meta['name'] : '';
    if (!isObj(item) || !meta || name === '') {
      this.counts.skipped++;
      this.log.warn('skipping malformed object (no metadata.name)', { from, object: preview(item) });
      return undefined;
    }
    const ns = typeof meta['namespace'] === 'string' ? meta['namespace'] : '';
    return [`${ns}/${name}`, this.opts.trim ? this.opts.trim(item) : trimObject(this.opts.kind, item)];
  }

  private watchOnce(): Promise<WatchEnd> {
    this.state = 'watching';
    this.counts.watches++;
    const timeoutSeconds = this.opts.watchTimeoutSeconds ?? 240 + Math.floor(Math.random() * 120);
    const idleMs = this.opts.idleTimeoutMs ?? (timeoutSeconds + 60) * 1000;
    return new Promise<WatchEnd>((resolve, reject) => {
      if (this.stopped) {
        resolve({ events: 0 });
        return;
      }
      let controller: AbortController | undefined;
      let finished = false;
      let events = 0;
      let idle: NodeJS.Timeout | undefined;
      const finish = (err: unknown): void => {
        if (finished) return;
        finished = true;
        if (idle) clearTimeout(idle);
        this.abortWatch = undefined;
        controller?.abort();
        if (err) reject(err);
        else resolve({ events });
      };
      const armIdle = (): void => {
        if (idle) clearTimeout(idle);
        idle = setTimeout(() => {
          this.log.info('watch silent too long; reopening', { idleMs });
          finish(undefined);
        }, idleMs);
      };
      this.abortWatch = () => finish(undefined);
      armIdle();
      const onEvent = (phase: string, obj: unknown): void => {
        if (finished) return;
        armIdle();
        events++;
        this.handleEvent(phase, obj, finish);
      };
      watchEvents(
        this.opts.kubeConfig,
        this.path,
        { ...this.selectors(), resourceVersion: this.resourceVersion, allowWatchBookmarks: 'true', timeoutSeconds: String(timeoutSeconds) },
        onEvent,
        (err: unknown) => finish(err ?? undefined),
      )
        .then(
          (c) => {
            controller = c;
            if (finished) c.abort();
          },
          (err: unknown) => finish(err ?? new Error('watch failed')),
        );
    });
  }

  private handleEvent(phase: string, obj: unknown, finish: (err: unknown) => void): void {
    switch (phase) {
      case 'ADDED':
      case 'MODIFIED': {
        const entry = this.keyed(obj, `watch ${phase}`);
        this.advance(obj);
        if (!entry) return;
        const old = this.store.get(entry[0]);
        this.store.set(entry[0], entry[1]);
        if (!old || !sameObject(old, entry[1])) {
          this.delta({ type: 'upsert', key: entry[0], object: entry[1], old });
          this.opts.onChange();
        }
        return;
      }
      case 'DELETED': {
        const entry = this.keyed(obj, 'watch DELETED');
        this.advance(obj);
        const old = entry ? this.store.get(entry[0]) : undefined;
        if (entry && old && this.store.delete(entry[0])) {
          this.delta({ type: 'delete', key: entry[0], old });
          this.opts.onChange();
        }
        return;
      }
      case 'BOOKMARK':
        this.counts.bookmarks++;
        this.advance(obj);
        return;
      case 'ERROR': {
        // A metav1.Status inside the stream; 410 means our resourceVersion is too old.
        const status = isObj(obj) ? obj : {};
        const code = typeof status['code'] === 'number' ? status['code'] : 500;
        const message = typeof status['message'] === 'string' ? status['message'] : 'watch error';
        finish(new ApiError(code, message, this.path));
        return;
      }
      default:
        this.counts.skipped++;
        this.log.warn('skipping watch event of unknown type', { type: phase });
    }
  }

  private selectors(): Record<string, string> {
    const out: Record<string, string> = {};
    if (this.opts.fieldSelector) out['fieldSelector'] = this.opts.fieldSelector;
    if (this.opts.labelSelector) out['labelSelector'] = this.opts.labelSelector;
    return out;
  }

  /** Hands a delta to the consumer; a consumer that throws is logged, never stops the loop. */
  private delta(d: ReflectorDelta): void {
    if (!this.opts.onDelta) return;
    try {
      this.opts.onDelta(d);
    } catch (err) {
      this.log.error('applying a change failed', { key: d.key, type: d.type, error: err instanceof Error ? err.message : String(err) });
    }
  }

  private advance(obj: unknown): void {
    const meta = isObj(obj) && isObj(obj['metadata']) ? obj['metadata'] : undefined;
    const rv = meta?.['resourceVersion'];
    if (typeof rv === 'string' && rv !== '') this.resourceVersion = rv;
  }
}

/** Equal in everything the cache keeps, resourceVersion aside. */
function sameObject(a: Obj, b: Obj): boolean {
  const strip = (o: Obj): Obj => (isObj(o['metadata']) ? { ...o, metadata: { ...o['metadata'], resourceVersion: '' } } : o);
  return isDeepStrictEqual(strip(a), strip(b));
}

function preview(v: unknown): string {
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
