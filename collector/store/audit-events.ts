// Audit events in the store. insertBatch writes a whole batch in one transaction and
// returns only the events that were new: (audit_id, stage) is unique, so an API server
// retry, a replayed log or a duplicate inside one batch inserts nothing and counts nothing.
// The summary queries behind `netconform psa` read from here. Violated controls are kept in
// the event row (a JSON array of check ids) next to the verbatim annotation and status
// message: one row per event keeps a 400-event batch one short transaction.
import type { Statement } from 'better-sqlite3';
import type { AuditRecord } from '../audit/event.js';
import type { Store } from './store.js';
import { AuditWriter } from './audit-writer.js';

export type AuditSource = 'webhook' | 'log';

export interface PsaSummaryQuery {
  readonly namespace?: string;
  readonly sinceMs?: number;
  readonly recentLimit?: number;
}

export interface NamespaceCounts {
  readonly namespace: string;
  readonly auditViolations: number;
  readonly enforceDenials: number;
  readonly exemptions: number;
  readonly errors: number;
  readonly lastEventMs: number;
}

export interface ControlCount {
  readonly namespace: string;
  readonly mode: 'audit' | 'enforce';
  readonly level: string;
  readonly control: string;
  readonly reason: string;
  readonly count: number;
}

export interface RecentPsaEvent {
  readonly timeMs: number;
  readonly namespace: string;
  readonly pod: string;
  readonly user: string;
  readonly mode: 'audit' | 'enforce' | 'exempt' | 'error' | 'allowed';
  readonly level: string;
  readonly version: string;
  readonly controls: readonly string[];
  readonly responseCode: number;
  readonly verb: string;
  readonly auditID: string;
  readonly source: string;
}

export interface PsaSummary {
  readonly namespaces: readonly NamespaceCounts[];
  readonly controls: readonly ControlCount[];
  readonly recent: readonly RecentPsaEvent[];
  readonly eventsStored: number;
  readonly lastEventMs: number;
}

type Controls = readonly { control: string; reason: string }[];
/** Parsed annotations are memoised (event.ts), so equal texts share one controls array. */
const controlsText = new WeakMap<Controls, string>();

/** Check ids of an event's controls; a reason without a known id is kept as `?<reason>`. */
function controlsJson(v: { controls: Controls } | undefined): string | null {
  if (!v) return null;
  let text = controlsText.get(v.controls);
  if (text === undefined) {
    text = JSON.stringify(v.controls.map((c) => (c.control === 'unknown' ? `?${c.reason}` : c.control)));
    controlsText.set(v.controls, text);
  }
  return text;
}

const INSERT_SQL = `INSERT OR IGNORE INTO audit_events (audit_id, stage, source, received_ms, event_ms, verb, resource, subresource,
    namespace, name, name_source, username, response_code, psa, enforce_policy, audit_level, audit_version, audit_violations,
    exempt, psa_error, denied_level, denied_version, denial_message, audit_controls, denied_controls)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;
const ROW_WIDTH = 25;

/** Appends one record's INSERT_SQL parameters to `out`. */
function pushRow(out: unknown[], r: AuditRecord, source: AuditSource, receivedMs: number): void {
  const p = r.psa;
  if (!p) {
    out.push(r.auditID, r.stage, source, receivedMs, r.timeMs, r.verb, r.resource, r.subresource, r.namespace, r.name, r.nameSource, r.user, r.responseCode,
      0, null, null, null, null, null, null, null, null, null, null, null);
    return;
  }
  const a = p.auditViolations, d = p.denial;
  out.push(r.auditID, r.stage, source, receivedMs, r.timeMs, r.verb, r.resource, r.subresource, r.namespace, r.name, r.nameSource, r.user, r.responseCode,
    1, p.enforcePolicy || null, a ? a.level : null, a ? a.version : null, a ? a.raw : null,
    p.exempt || null, p.error || null, d ? d.level : null, d ? d.version : null, d ? d.raw : null,
    controlsJson(a), controlsJson(d));
}

export interface BatchIn {
  readonly records: readonly AuditRecord[];
  readonly source: AuditSource;
}

export class AuditEventStore {
  private readonly insertEvent: Statement;
  private readonly insertMany: (batches: readonly BatchIn[], receivedMs: number) => AuditRecord[][];
  /** The writer thread for a file database (undefined for :memory:, which one thread owns). */
  private readonly writer: AuditWriter | undefined;

  constructor(private readonly store: Store) {
    const { db } = store;
    this.insertEvent = db.prepare(INSERT_SQL);
    const row: unknown[] = [];
    this.insertMany = db.transaction((batches: readonly BatchIn[], receivedMs: number) => batches.map(({ records, source }) => {
      const inserted: AuditRecord[] = [];
      for (const r of records) {
        row.length = 0;
        pushRow(row, r, source, receivedMs);
        if (this.insertEvent.run(row).changes !== 0) inserted.push(r); // 0: seen before (a retry or a duplicate)
      }
      return inserted;
    }));
    if (store.path !== ':memory:' && store.path !== '') {
      const writer = new AuditWriter(store.path, INSERT_SQL, ROW_WIDTH);
      this.writer = writer;
      store.onClose(() => writer.close());
    }
  }

  /** Age of the oldest audit batch not yet committed by the writer thread (0 when none, or no thread). */
  writerBacklogAgeMs(): number {
    return this.writer?.backlogAgeMs() ?? 0;
  }

  /** Whether insertAsync commits on the writer thread (a file database). */
  get threaded(): boolean {
    return this.writer !== undefined;
  }

  /**
   * Stores a batch durably off the event loop (a file database: on the writer thread, in a
   * commit shared with the batches that arrive meanwhile); resolves, once committed, with
   * the records that were new. Same result as insertBatch.
   */
  async insertAsync(batch: BatchIn, receivedMs = Date.now()): Promise<AuditRecord[]> {
    const { records, source } = batch;
    if (records.length === 0) return [];
    if (!this.writer) return this.insertBatches([batch], receivedMs)[0]!;
    const rows: unknown[] = [];
    for (const r of records) pushRow(rows, r, source, receivedMs);
    const fresh = await this.writer.insert({ rows, n: records.length });
    const inserted: AuditRecord[] = [];
    for (let i = 0; i < records.length; i++) if (fresh[i]) inserted.push(records[i]!);
    return inserted;
  }

  /**
   * Stores several batches in one transaction (one fsync): group commit for concurrent
   * posters. Committed on return; returns, per batch, the records that were new.
   */
  insertBatches(batches: readonly BatchIn[], receivedMs = Date.now()): AuditRecord[][] {
    if (batches.every((b) => b.records.length === 0)) return batches.map(() => []);
    return this.insertMany(batches, receivedMs);
  }

  /** Stores a batch atomically (committed on return); returns the records that were new. */
  insertBatch(records: readonly AuditRecord[], source: AuditSource, receivedMs = Date.now()): AuditRecord[] {
    return this.insertBatches([{ records, source }], receivedMs)[0]!;
  }

  count(): number {
    return (this.store.db.prepare('SELECT count(*) AS n FROM audit_events').get() as { n: number }).n;
  }

  /** Whether an event (audit id + stage) is stored. */
  has(auditID: string, stage: string): boolean {
    return this.store.db.prepare('SELECT 1 FROM audit_events WHERE audit_id = ? AND stage = ?').get(auditID, stage) !== undefined;
  }

  summary(q: PsaSummaryQuery = {}): PsaSummary {
    const { db } = this.store;
    const ns = q.namespace ?? '';
    const since = q.sinceMs ?? 0;
    const limit = Math.min(Math.max(q.recentLimit ?? 20, 1), 1000);
    const where = `psa = 1 AND event_ms >= @since ${ns ? 'AND namespace = @ns' : ''}`;
    const params = { since, ns };
    const namespaces = (db.prepare(`SELECT namespace,
        sum(audit_violations IS NOT NULL) AS a, sum(denial_message IS NOT NULL) AS d, sum(exempt IS NOT NULL) AS x, sum(psa_error IS NOT NULL) AS e,
        max(event_ms) AS last
      FROM audit_events WHERE ${where} GROUP BY namespace ORDER BY namespace`).all(params) as { namespace: string; a: number; d: number; x: number; e: number; last: number }[])
      .map((r) => ({ namespace: r.namespace, auditViolations: r.a, enforceDenials: r.d, exemptions: r.x, errors: r.e, lastEventMs: r.last }));
    const controls = (db.prepare(`SELECT namespace, mode, level, value AS control, count(*) AS n FROM (
        SELECT e.namespace AS namespace, 'audit' AS mode, e.audit_level AS level, j.value AS value
          FROM audit_events e, json_each(e.audit_controls) j WHERE ${where} AND e.audit_controls IS NOT NULL
        UNION ALL
        SELECT e.namespace, 'enforce', e.denied_level, j.value
          FROM audit_events e, json_each(e.denied_controls) j WHERE ${where} AND e.denied_controls IS NOT NULL)
      GROUP BY 1, 2, 3, 4 ORDER BY n DESC, 1, 4`).all(params) as { namespace: string; mode: 'audit' | 'enforce'; level: string; control: string; n: number }[])
      .map((r) => ({
        namespace: r.namespace, mode: r.mode, level: r.level,
        control: r.control.startsWith('?') ? 'unknown' : r.control, reason: r.control.startsWith('?') ? r.control.slice(1) : '', count: r.n,
      }));
    const recentRows = db.prepare(`SELECT id, audit_id, source, event_ms, verb, namespace, name, username, response_code, enforce_policy,
        audit_level, audit_version, exempt, psa_error, denied_level, denied_version, denial_message, audit_violations, audit_controls, denied_controls
      FROM audit_events WHERE ${where} ORDER BY event_ms DESC, id DESC LIMIT @limit`).all({ ...params, limit }) as RecentRow[];
    const recent = recentRows.map((r) => {
      const mode: RecentPsaEvent['mode'] = r.denial_message ? 'enforce' : r.audit_violations ? 'audit' : r.exempt ? 'exempt' : r.psa_error ? 'error' : 'allowed';
      const [pl, pv] = (r.enforce_policy ?? '').split(':');
      const level = mode === 'enforce' ? r.denied_level ?? '' : mode === 'audit' ? r.audit_level ?? '' : pl ?? '';
      const version = mode === 'enforce' ? r.denied_version ?? '' : mode === 'audit' ? r.audit_version ?? '' : pv ?? '';
      const ids = parseIds(mode === 'enforce' ? r.denied_controls : r.audit_controls);
      return {
        timeMs: r.event_ms, namespace: r.namespace, pod: r.name, user: r.username, mode, level, version,
        controls: ids.map((c) => (c.startsWith('?') ? c.slice(1) : c)),
        responseCode: r.response_code, verb: r.verb, auditID: r.audit_id, source: r.source,
      };
    });
    const totals = db.prepare('SELECT count(*) AS n, max(event_ms) AS last FROM audit_events').get() as { n: number; last: number | null };
    return { namespaces, controls, recent, eventsStored: totals.n, lastEventMs: totals.last ?? 0 };
  }

  /**
   * Deletes events older than `cutoffMs` (by event time), at most `limit` per call so the
   * writer lock is held briefly; returns how many went.
   */
  pruneOlderThan(cutoffMs: number, limit = 5000): number {
    const { db } = this.store;
    return db.transaction(() => {
      const ids = (db.prepare('SELECT id FROM audit_events WHERE event_ms < ? ORDER BY event_ms LIMIT ?').all(cutoffMs, limit) as { id: number }[]).map((r) => r.id);
      if (ids.length === 0) return 0;
      const list = `(${ids.join(',')})`;
      db.prepare(`DELETE FROM audit_events WHERE id IN ${list}`).run();
      return ids.length;
    })();
  }
}

interface RecentRow {
  id: number; audit_id: string; source: string; event_ms: number; verb: string; namespace: string; name: string; username: string;
  response_code: number; enforce_policy: string | null; audit_level: string | null; audit_version: string | null; exempt: string | null;
  psa_error: string | null; denied_level: string | null; denied_version: string | null; denial_message: string | null; audit_violations: string | null;
  audit_controls: string | null; denied_controls: string | null;
}

function parseIds(text: string | null): string[] {
  if (!text) return [];
  try {
    const v: unknown = JSON.parse(text);
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}
