// One path for every audit input (webhook batches, log replay): validate each event,
// store the good ones in one transaction, then count what was new. A bad event is
// counted and skipped; it never costs the rest of its batch.
// Group commit: batches that arrive while a commit is pending (concurrent API server
// POSTs) are committed together, one transaction and one fsync; each caller is answered
// only after that commit. With a file database that happens on the store's writer thread
// (collector/store/audit-writer.ts), so the event loop keeps parsing while SQLite writes.
import type { Logger } from '../../common/log.js';
import { parseAuditEvent, type AuditRecord, type RejectReason } from './event.js';
import type { PsaMetrics } from './metrics.js';
import type { AuditEventStore, AuditSource, BatchIn } from '../store/audit-events.js';

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

  private pending: { batch: BatchIn; rejected: Rejected[]; resolve: (r: IngestResult) => void; reject: (e: unknown) => void }[] = [];
  private scheduled = false;

  /** Stores the valid items durably (throws only when the store cannot write). */
  ingest(items: readonly unknown[], source: AuditSource): IngestResult {
    const { batch, rejected } = this.validate(items, source);
    const [inserted] = this.events.insertBatches([batch]);
    return this.finish(batch, inserted!, rejected);
  }

  /** Like ingest, but shares the commit with other batches queued in the same turn. */
  ingestGrouped(items: readonly unknown[], source: AuditSource): Promise<IngestResult> {
    const { batch, rejected } = this.validate(items, source);
    // A file database: the writer thread commits (and groups concurrent batches) off the event loop.
    if (this.events.threaded) return this.events.insertAsync(batch).then((inserted) => this.finish(batch, inserted, rejected));
    return new Promise((resolve, reject) => {
      this.pending.push({ batch, rejected, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const group = this.pending;
    this.pending = [];
    let inserted: AuditRecord[][];
    try {
      inserted = this.events.insertBatches(group.map((g) => g.batch));
    } catch (err) {
      for (const g of group) g.reject(err);
      return;
    }
    group.forEach((g, i) => g.resolve(this.finish(g.batch, inserted[i]!, g.rejected)));
  }

  private validate(items: readonly unknown[], source: AuditSource): { batch: BatchIn; rejected: Rejected[] } {
    const records: AuditRecord[] = [];
    const rejected: Rejected[] = [];
    for (let i = 0; i < items.length; i++) {
      const r = parseAuditEvent(items[i]);
      if (r.ok) records.push(r.record);
      else rejected.push({ index: i, reason: r.reason, message: r.message });
    }
    return { batch: { records, source }, rejected };
  }

  private finish(batch: BatchIn, inserted: readonly AuditRecord[], rejected: readonly Rejected[]): IngestResult {
    for (const s of this.sinks) s.stored(inserted, batch.source);
    for (const r of rejected) this.metrics.reject(r.reason);
    if (rejected.length) this.log.warn('audit events rejected', { source: batch.source, count: rejected.length, first: rejected[0]!.message });
    return { accepted: batch.records.length, inserted: inserted.length, duplicates: batch.records.length - inserted.length, rejected };
  }
}

interface Rejected {
  readonly index: number;
  readonly reason: RejectReason;
  readonly message: string;
}
