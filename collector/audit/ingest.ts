// One path for every audit input (webhook batches, log replay): validate each event,
// store the good ones in one transaction, then count what was new. A bad event is
// counted and skipped; it never costs the rest of its batch.
import type { Logger } from '../../common/log.js';
import { parseAuditEvent, type AuditRecord, type RejectReason } from './event.js';
import type { PsaMetrics } from './metrics.js';
import type { AuditEventStore, AuditSource } from '../store/audit-events.js';

export interface IngestResult {
  readonly accepted: number;
  readonly inserted: number;
  readonly duplicates: number;
  readonly rejected: readonly { readonly index: number; readonly reason: RejectReason; readonly message: string }[];
}

/** Something that hears about newly stored events (metrics, later PolicyReports). */
export interface AuditSink {
  stored(records: readonly AuditRecord[], source: AuditSource): void;
}

export class AuditIngest {
  private readonly sinks: AuditSink[] = [];

  constructor(private readonly events: AuditEventStore, private readonly metrics: PsaMetrics, private readonly log: Logger) {
    this.sinks.push(metrics);
  }

  addSink(sink: AuditSink): void {
    this.sinks.push(sink);
  }

  /** Stores the valid items durably (throws only when the store cannot write). */
  ingest(items: readonly unknown[], source: AuditSource): IngestResult {
    const records: AuditRecord[] = [];
    const rejected: { index: number; reason: RejectReason; message: string }[] = [];
    for (let i = 0; i < items.length; i++) {
      const r = parseAuditEvent(items[i]);
      if (r.ok) records.push(r.record);
      else rejected.push({ index: i, reason: r.reason, message: r.message });
    }
    const inserted = this.events.insertBatch(records, source);
    for (const s of this.sinks) s.stored(inserted, source);
    for (const r of rejected) this.metrics.reject(r.reason);
    if (rejected.length) this.log.warn('audit events rejected', { source, count: rejected.length, first: rejected[0]!.message });
    return { accepted: records.length, inserted: inserted.length, duplicates: records.length - inserted.length, rejected };
  }
}
