// Keeps the namespaces' PSA labels current from the cluster context (a --cluster file now,
// the Kubernetes watch later): sets netconform_psa_namespace_mode, remembers the labels in
// the store (so a restarted collector still knows what each namespace enforces before the
// context arrives) and answers the lint.
import type { ClusterContext, NamespaceInfo } from '../../common/cluster.js';
import { formatVersion } from '../../psa/types.js';
import { MODES } from '../../psa/namespace-labels.js';
import type { PsaMetrics } from '../audit/metrics.js';
import type { Store } from '../store/store.js';
import { lintNamespaces, type NamespaceLint } from './lint.js';

export class NamespaceLabelsTracker {
  private namespaces: readonly NamespaceInfo[] = [];
  private fromCluster = false;
  private lints: NamespaceLint[] = [];

  constructor(private readonly deps: { metrics: PsaMetrics; store?: Store; exempt: ReadonlySet<string> }) {
    const stored = deps.store?.db.prepare('SELECT name, labels_json FROM psa_namespaces ORDER BY name').all() as { name: string; labels_json: string }[] | undefined;
    if (stored && stored.length) this.apply(stored.map((r) => ({ name: r.name, labels: parseLabels(r.labels_json) })), false);
  }

  /** A new cluster context: namespaces replace what was known (a context without any keeps the old). */
  update(ctx: ClusterContext): void {
    if (ctx.namespaces.length === 0) return;
    this.apply(ctx.namespaces, true);
    const db = this.deps.store?.db;
    if (!db) return;
    const now = new Date().toISOString();
    const upsert = db.prepare('INSERT INTO psa_namespaces (name, labels_json, updated_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET labels_json = excluded.labels_json, updated_at = excluded.updated_at');
    db.transaction(() => {
      db.prepare('DELETE FROM psa_namespaces').run();
      for (const ns of ctx.namespaces) {
        const psa = Object.fromEntries(Object.entries(ns.labels).filter(([k]) => k.startsWith('pod-security.kubernetes.io/')));
        upsert.run(ns.name, JSON.stringify(psa), now);
      }
    })();
  }

  lint(): { namespaces: readonly NamespaceLint[]; fromCluster: boolean } {
    return { namespaces: this.lints, fromCluster: this.fromCluster };
  }

  known(): boolean {
    return this.namespaces.length > 0;
  }

  private apply(namespaces: readonly NamespaceInfo[], fromCluster: boolean): void {
    this.namespaces = namespaces;
    this.fromCluster = fromCluster;
    this.lints = lintNamespaces(namespaces, this.deps.exempt);
    const gauge = this.deps.metrics.namespaceMode;
    gauge.reset();
    for (const l of this.lints) {
      for (const mode of MODES) gauge.set({ namespace: l.namespace, mode, level: l.policy[mode].level, version: formatVersion(l.policy[mode].version) }, 1);
    }
  }
}

function parseLabels(text: string): Record<string, string> {
  try {
    const v: unknown = JSON.parse(text);
    const out: Record<string, string> = {};
    if (typeof v === 'object' && v !== null) for (const [k, val] of Object.entries(v)) if (typeof val === 'string') out[k] = val;
    return out;
  } catch {
    return {};
  }
}
