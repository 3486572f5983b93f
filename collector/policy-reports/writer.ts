// Keeps netconform's results in the cluster as PolicyReports (opt-in: --policy-reports):
// one cluster-scoped report per node, rewritten after each accepted report and deleted when
// the node is forgotten, and one report per namespace with its Pod Security findings,
// refreshed periodically. Writes go through the real client with server-side apply under one
// field manager, so netconform owns its reports' fields and nothing else. The writer is a
// sink: it never delays an agent's Ack — writes are coalesced per object and retried with
// backoff; only the newest desired state of each object is ever sent.
import { KubernetesObjectApi, PatchStrategy, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { Counter, type Registry } from 'prom-client';
import type { Finding } from '../../common/findings.js';
import type { Logger } from '../../common/log.js';
import { namespacePolicyReport, nodePolicyReport, type PolicyReportObject, type ReportFlavour } from '../../common/policy-report.js';
import type { NodeReport, NodeSink } from '../nodes.js';

export const POLICY_REPORT_FIELD_MANAGER = 'netconform-collector';

export interface PolicyReportWriterOptions {
  readonly kubeConfig: KubeConfig;
  readonly flavour: ReportFlavour;
  readonly log: Logger;
  readonly metricsRegistry?: Registry;
  /** Namespace findings now (labels lint, recorded admission results); polled every refreshMs. */
  readonly namespaceFindings?: () => Map<string, Finding[]>;
  readonly refreshMs?: number;
  /** Quiet time before a burst of changes is written. */
  readonly debounceMs?: number;
  readonly backoffMaxMs?: number;
}

type Desired = { readonly object: PolicyReportObject } | { readonly delete: KubernetesObject };

export class PolicyReportWriter implements NodeSink {
  private readonly api: KubernetesObjectApi;
  private readonly log: Logger;
  /** Desired state per object key, newest wins; written by the next flush. */
  private readonly pending = new Map<string, Desired>();
  /** Namespaces whose report this process wrote (or found), so an emptied one is deleted. */
  private readonly namespacesWritten = new Set<string>();
  private readonly writes: Counter<'kind' | 'result'> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private failures = 0;
  private stopped = false;

  constructor(private readonly opts: PolicyReportWriterOptions) {
    this.api = KubernetesObjectApi.makeApiClient(opts.kubeConfig);
    this.log = opts.log.child({ part: 'policy-reports', flavour: opts.flavour });
    if (opts.metricsRegistry) {
      this.writes = new Counter({
        name: 'netconform_collector_policy_report_writes_total',
        help: 'PolicyReport writes to the API server by kind (node, namespace) and result (applied, deleted, failed).',
        labelNames: ['kind', 'result'], registers: [opts.metricsRegistry],
      });
    }
  }

  start(): void {
    if (!this.opts.namespaceFindings) return;
    const refresh = (): void => {
      this.queueNamespaces();
      this.refreshTimer = setTimeout(refresh, this.opts.refreshMs ?? 60_000);
      this.refreshTimer.unref();
    };
    refresh();
  }

  reportAccepted(report: NodeReport): void {
    const object = nodePolicyReport({ node: report.node, scannedAt: report.scannedAt, checks: report.checks, findings: report.findings }, this.opts.flavour);
    this.pending.set(`node/${report.node}`, { object });
    this.schedule();
  }

  nodeRemoved(node: string): void {
    const object = nodePolicyReport({ node, scannedAt: new Date(0).toISOString(), checks: [], findings: [] }, this.opts.flavour);
    this.pending.set(`node/${node}`, { delete: { apiVersion: object.apiVersion, kind: object.kind, metadata: { name: object.metadata.name } } });
    this.schedule();
  }

  /** Writes everything pending now (tests, shutdown). */
  async flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    while (this.flushing) await this.flushing;
    if (this.pending.size === 0) return;
    this.flushing = this.writePending().finally(() => {
      this.flushing = undefined;
    });
    await this.flushing;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.refreshTimer) clearTimeout(this.refreshTimer);
    await this.flush().catch(() => undefined);
    if (this.timer) clearTimeout(this.timer);
  }

  private queueNamespaces(): void {
    let byNs: Map<string, Finding[]>;
    try {
      byNs = this.opts.namespaceFindings!();
    } catch (err) {
      this.log.warn('namespace findings unavailable; PolicyReports not refreshed', { err: err instanceof Error ? err.message : String(err) });
      return;
    }
    const at = new Date().toISOString();
    for (const [ns, findings] of byNs) {
      if (findings.length === 0) continue;
      this.pending.set(`ns/${ns}`, { object: namespacePolicyReport(ns, at, findings, this.opts.flavour) });
    }
    for (const ns of this.namespacesWritten) {
      if ((byNs.get(ns)?.length ?? 0) > 0) continue;
      const shape = namespacePolicyReport(ns, at, [], this.opts.flavour);
      this.pending.set(`ns/${ns}`, { delete: { apiVersion: shape.apiVersion, kind: shape.kind, metadata: { name: shape.metadata.name, namespace: ns } } });
    }
    this.schedule();
  }

  private schedule(delay = this.opts.debounceMs ?? 1000): void {
    if (this.stopped && delay > 0) return;
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, delay);
    this.timer.unref();
  }

  private async writePending(): Promise<void> {
    const batch = [...this.pending];
    this.pending.clear();
    let failed = 0;
    for (const [key, desired] of batch) {
      const kind = key.startsWith('node/') ? 'node' : 'namespace';
      try {
        if ('object' in desired) {
          await this.api.patch(desired.object as unknown as KubernetesObject, undefined, undefined, POLICY_REPORT_FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
          if (kind === 'namespace') this.namespacesWritten.add(desired.object.metadata.namespace!);
          this.writes?.inc({ kind, result: 'applied' });
        } else {
          await this.api.delete(desired.delete).catch((err: unknown) => {
            if (statusOf(err) !== 404) throw err; // already gone is what we wanted
          });
          if (kind === 'namespace') this.namespacesWritten.delete(desired.delete.metadata!.namespace!);
          this.writes?.inc({ kind, result: 'deleted' });
        }
      } catch (err) {
        failed++;
        this.writes?.inc({ kind, result: 'failed' });
        this.log.warn('PolicyReport write failed; will retry', { object: key, status: statusOf(err), err: errorText(err) });
        // Retry this state unless a newer one was queued meanwhile.
        if (!this.pending.has(key)) this.pending.set(key, desired);
      }
    }
    if (failed > 0) {
      this.failures++;
      const cap = this.opts.backoffMaxMs ?? 60_000;
      this.schedule(Math.min(cap, 1000 * 2 ** Math.min(this.failures, 10)));
    } else {
      this.failures = 0;
      if (this.pending.size > 0) this.schedule();
    }
  }
}

function statusOf(err: unknown): number | undefined {
  if (typeof err === 'object' && err !== null) {
    const e = err as { code?: unknown; statusCode?: unknown };
    if (typeof e.code === 'number') return e.code;
    if (typeof e.statusCode === 'number') return e.statusCode;
  }
  return undefined;
}

function errorText(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

