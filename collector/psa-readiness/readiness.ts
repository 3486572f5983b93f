// Which namespaces could move to a stricter Pod Security level today: every current pod and
// workload template evaluated at each level (pinned version), kept as
// netconform_psa_namespace_ready{namespace,level} and served as the collector's what-if.
// Recomputed when the cluster context changes, at most once per `minIntervalMs`: a large
// cluster's evaluation takes a noticeable fraction of a second.
import { Gauge, type Registry } from 'prom-client';
import type { ClusterContext } from '../../common/cluster.js';
import type { Logger } from '../../common/log.js';
import { whatIf, type WhatIfReport } from '../../psa/whatif.js';
import { LEVELS, type Level, type PolicyVersion } from '../../psa/types.js';

export interface PsaReadinessOptions {
  /** Policy version readiness is judged at (default latest, resolved against kubernetesMinor). */
  readonly version?: PolicyVersion;
  readonly kubernetesMinor?: number;
  readonly minIntervalMs?: number;
}

export class PsaReadiness {
  private readonly gauge: Gauge<'namespace' | 'level'>;
  private context: ClusterContext | undefined;
  private shown = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private lastRunMs = 0;

  constructor(registry: Registry, private readonly log: Logger, private readonly opts: PsaReadinessOptions = {}) {
    this.gauge = new Gauge({
      name: 'netconform_psa_namespace_ready',
      help: '1 when every current pod and workload template in the namespace passes the Pod Security level at the pinned version.',
      labelNames: ['namespace', 'level'],
      registers: [registry],
    });
  }

  update(ctx: ClusterContext): void {
    this.context = ctx;
    if (this.timer) return;
    const wait = Math.max(0, this.lastRunMs + (this.opts.minIntervalMs ?? 5000) - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.recompute();
    }, wait);
    this.timer.unref();
  }

  /** The what-if over the latest context, or undefined when the collector knows no cluster. */
  whatIf(level: Level, version: PolicyVersion | undefined, namespace: string | undefined): WhatIfReport | undefined {
    if (!this.context) return undefined;
    return whatIf({ namespaces: this.context.namespaces, objects: this.context.workloads }, {
      level, ...(version ? { version } : {}), ...(namespace ? { namespace } : {}),
      ...(this.opts.kubernetesMinor ? { kubernetesMinor: this.opts.kubernetesMinor } : {}),
    });
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private recompute(): void {
    this.lastRunMs = Date.now();
    const started = Date.now();
    const report = this.whatIf('restricted', this.opts.version, undefined);
    if (!report) return;
    const next = new Set<string>();
    for (const ns of report.namespaces) {
      for (const level of LEVELS) {
        this.gauge.set({ namespace: ns.namespace, level }, ns.passes[level] ? 1 : 0);
        next.add(`${ns.namespace}\u0000${level}`);
      }
    }
    for (const key of this.shown) {
      if (next.has(key)) continue;
      const [namespace, level] = key.split('\u0000') as [string, string];
      this.gauge.remove({ namespace, level });
    }
    this.shown = next;
    this.log.debug('psa readiness recomputed', { namespaces: report.namespaces.length, ms: Date.now() - started });
  }
}
