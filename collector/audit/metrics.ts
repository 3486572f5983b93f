// Prometheus metrics for the PSA pipeline, registered on the collector's registry. Counters
// move only for events that were newly stored, so an API server retry never counts twice;
// after a restart they start from 0 like every Prometheus counter. Labels stay bounded:
// namespace, level, version (latest | v1.N), mode, PSS control id (or `unknown`), source, reason.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { AuditRecord, RejectReason } from './event.js';
import type { AuditSource } from '../store/audit-events.js';
import type { PodSecurityViolations } from './violations.js';

type Controls = PodSecurityViolations['controls'];
interface Group { readonly v: PodSecurityViolations; n: number }

function tally(m: Map<Controls, Group>, v: PodSecurityViolations): void {
  const g = m.get(v.controls);
  if (g) g.n++;
  else m.set(v.controls, { v, n: 1 });
}

export class PsaMetrics {
  readonly violations: Counter<'namespace' | 'level' | 'version' | 'mode'>;
  readonly controlViolations: Counter<'namespace' | 'level' | 'control'>;
  readonly exemptions: Counter<'namespace'>;
  readonly namespaceMode: Gauge<'namespace' | 'mode' | 'level' | 'version'>;
  readonly received: Counter<'source'>;
  readonly rejected: Counter<'reason'>;
  readonly lastEvent: Gauge<string>;
  private lastEventMs = 0;

  constructor(registry: Registry) {
    const registers = [registry];
    this.violations = new Counter({ name: 'netconform_psa_violations_total', help: 'Pod Security violations seen in audit events: audit-violations annotations (mode audit) and enforce denials (mode enforce).', labelNames: ['namespace', 'level', 'version', 'mode'], registers });
    this.controlViolations = new Counter({ name: 'netconform_psa_control_violations_total', help: 'Violated Pod Security controls, once per event and control (audit violations and enforce denials; a denied pod audited at the same level counts once).', labelNames: ['namespace', 'level', 'control'], registers });
    this.exemptions = new Counter({ name: 'netconform_psa_exemptions_total', help: 'Pod requests exempted from Pod Security (exempt annotation).', labelNames: ['namespace'], registers });
    this.namespaceMode = new Gauge({ name: 'netconform_psa_namespace_mode', help: 'Constant 1: the level and version each namespace applies in each mode, as the API server reads its labels.', labelNames: ['namespace', 'mode', 'level', 'version'], registers });
    this.received = new Counter({ name: 'netconform_audit_events_received_total', help: 'Audit events newly stored, by input (duplicates and rejected events excluded).', labelNames: ['source'], registers });
    this.rejected = new Counter({ name: 'netconform_audit_events_rejected_total', help: 'Audit events (or whole bodies) refused, by reason.', labelNames: ['reason'], registers });
    this.lastEvent = new Gauge({ name: 'netconform_audit_last_event_timestamp_seconds', help: 'Event time (stageTimestamp) of the newest audit event stored; a silent pipeline stops moving it.', registers });
  }

  /** Counts newly stored events (call after the commit); one inc per label set per batch. */
  stored(records: readonly AuditRecord[], source: AuditSource): void {
    if (records.length === 0) return;
    this.received.inc({ source }, records.length);
    let newest = this.lastEventMs;
    // Per namespace and mode, the events grouped by their parsed violations. Parsed texts are
    // memoised (event.ts), so events with the same annotation share one controls array: the
    // array stands for level, version and controls, and each group costs one Map lookup per
    // event instead of building and splitting label keys.
    const groups = new Map<string, { audit: Map<Controls, Group>; enforce: Map<Controls, Group>; exempt: number; overlap: Map<string, number> }>();
    for (const r of records) {
      if (r.timeMs > newest) newest = r.timeMs;
      const p = r.psa;
      if (!p) continue;
      let g = groups.get(r.namespace);
      if (!g) groups.set(r.namespace, (g = { audit: new Map(), enforce: new Map(), exempt: 0, overlap: new Map() }));
      if (p.exempt) g.exempt++;
      if (p.auditViolations) tally(g.audit, p.auditViolations);
      if (p.denial) tally(g.enforce, p.denial);
      // The API server evaluates audit also for a pod that enforce denies: at the same level
      // both name the same controls, which still count once for the event.
      if (p.auditViolations && p.denial && p.auditViolations.level === p.denial.level) {
        const audited = new Set(p.auditViolations.controls.map((c) => c.control));
        for (const control of new Set(p.denial.controls.map((c) => c.control))) {
          if (!audited.has(control)) continue;
          const k = `${p.denial.level}\u0000${control}`;
          g.overlap.set(k, (g.overlap.get(k) ?? 0) + 1);
        }
      }
    }
    const violations = new Map<string, { labels: { namespace: string; level: string; version: string; mode: string }; n: number }>();
    const controls = new Map<string, { labels: { namespace: string; level: string; control: string }; n: number }>();
    for (const [namespace, g] of groups) {
      if (g.exempt) this.exemptions.inc({ namespace }, g.exempt);
      for (const [k, n] of g.overlap) {
        const [level, control] = k.split('\u0000') as [string, string];
        controls.set(`${namespace}\u0000${k}`, { labels: { namespace, level, control }, n: -n });
      }
      for (const [mode, byControls] of [['audit', g.audit], ['enforce', g.enforce]] as const) {
        for (const { v, n } of byControls.values()) {
          const vk = `${namespace}\u0000${v.level}\u0000${v.version}\u0000${mode}`;
          const ve = violations.get(vk);
          if (ve) ve.n += n;
          else violations.set(vk, { labels: { namespace, level: v.level, version: v.version, mode }, n });
          // Once per event and control, even when a control is listed twice.
          const seen: string[] = [];
          for (const c of v.controls) {
            if (seen.includes(c.control)) continue;
            seen.push(c.control);
            const ck = `${namespace}\u0000${v.level}\u0000${c.control}`;
            const ce = controls.get(ck);
            if (ce) ce.n += n;
            else controls.set(ck, { labels: { namespace, level: v.level, control: c.control }, n });
          }
        }
      }
    }
    for (const { labels, n } of violations.values()) this.violations.inc(labels, n);
    for (const { labels, n } of controls.values()) if (n > 0) this.controlViolations.inc(labels, n);
    if (newest > this.lastEventMs) {
      this.lastEventMs = newest;
      this.lastEvent.set(newest / 1000);
    }
  }

  reject(reason: RejectReason, n = 1): void {
    this.rejected.inc({ reason }, n);
  }
}
