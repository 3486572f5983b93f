// Audit events in the store. insertBatch writes a whole batch in one transaction and
// returns only the events that were new: (audit_id, stage) is unique, so an API server
// retry, a replayed log or a duplicate inside one batch inserts nothing and counts nothing.
// The summary queries behind `netconform psa` read from here.
import type { Statement } from 'better-sqlite3';
import type { AuditRecord } from '../audit/event.js';
import type { Store } from './store.js';

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

export class AuditEventStore {
  private readonly insertEvent: Statement;
  private readonly insertControl: Statement;
  private readonly insertMany: (records: readonly AuditRecord[], source: AuditSource, receivedMs: number) => AuditRecord[];

  constructor(private readonly store: Store) {
    const { db } = store;
    this.insertEvent = db.prepare(`INSERT OR IGNORE INTO audit_events (audit_id, stage, source, received_ms, event_ms, verb, resource, subresource,
        namespace, name, name_source, username, response_code, psa, enforce_policy, audit_level, audit_version, audit_violations,
        exempt, psa_error, denied_level, denied_version, denial_message)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    this.insertControl = db.prepare('INSERT INTO audit_event_controls (event_id, mode, ord, control, reason, detail, containers) VALUES (?, ?, ?, ?, ?, ?, ?)');
    this.insertMany = db.transaction((records: readonly AuditRecord[], source: AuditSource, receivedMs: number) => {
      const inserted: AuditRecord[] = [];
      for (const r of records) {
        const p = r.psa;
        const res = this.insertEvent.run(
          r.auditID, r.stage, source, receivedMs, r.timeMs, r.verb, r.resource, r.subresource, r.namespace, r.name, r.nameSource, r.user, r.responseCode,
          p ? 1 : 0, p?.enforcePolicy || null, p?.auditViolations?.level ?? null, p?.auditViolations?.version ?? null, p?.auditViolations?.raw ?? null,
          p?.exempt || null, p?.error || null, p?.denial?.level ?? null, p?.denial?.version ?? null, p?.denial?.raw ?? null,
        );
        if (res.changes === 0) continue; // seen before: a retry or a duplicate
        inserted.push(r);
        if (!p) continue;
        const id = res.lastInsertRowid;
        let ord = 0;
        for (const c of p.auditViolations?.controls ?? []) this.insertControl.run(id, 'audit', ord++, c.control, c.reason, c.detail, JSON.stringify(c.containers));
        ord = 0;
        for (const c of p.denial?.controls ?? []) this.insertControl.run(id, 'enforce', ord++, c.control, c.reason, c.detail, JSON.stringify(c.containers));
      }
      return inserted;
    });
  }

  /** Stores a batch atomically (committed on return); returns the records that were new. */
  insertBatch(records: readonly AuditRecord[], source: AuditSource, receivedMs = Date.now()): AuditRecord[] {
    if (records.length === 0) return [];
    return this.insertMany(records, source, receivedMs);
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
    const controls = (db.prepare(`SELECT e.namespace AS namespace, c.mode AS mode,
        CASE c.mode WHEN 'audit' THEN e.audit_level ELSE e.denied_level END AS level, c.control AS control, c.reason AS reason, count(*) AS n
      FROM audit_event_controls c JOIN audit_events e ON e.id = c.event_id
      WHERE ${where.replace(/\b(psa|event_ms|namespace)\b/g, 'e.$1')}
      GROUP BY 1, 2, 3, 4, 5 ORDER BY n DESC, 1, 4`).all(params) as { namespace: string; mode: 'audit' | 'enforce'; level: string; control: string; reason: string; n: number }[])
      .map((r) => ({ namespace: r.namespace, mode: r.mode, level: r.level, control: r.control, reason: r.reason, count: r.n }));
    const recentRows = db.prepare(`SELECT id, audit_id, source, event_ms, verb, namespace, name, username, response_code, enforce_policy,
        audit_level, audit_version, exempt, psa_error, denied_level, denied_version, denial_message, audit_violations
      FROM audit_events WHERE ${where} ORDER BY event_ms DESC, id DESC LIMIT @limit`).all({ ...params, limit }) as RecentRow[];
    const controlsOf = db.prepare('SELECT mode, control, reason FROM audit_event_controls WHERE event_id = ? ORDER BY mode, ord');
    const recent = recentRows.map((r) => {
      const cs = controlsOf.all(r.id) as { mode: string; control: string; reason: string }[];
      const mode: RecentPsaEvent['mode'] = r.denial_message ? 'enforce' : r.audit_violations ? 'audit' : r.exempt ? 'exempt' : r.psa_error ? 'error' : 'allowed';
      const [pl, pv] = (r.enforce_policy ?? '').split(':');
      const level = mode === 'enforce' ? r.denied_level ?? '' : mode === 'audit' ? r.audit_level ?? '' : pl ?? '';
      const version = mode === 'enforce' ? r.denied_version ?? '' : mode === 'audit' ? r.audit_version ?? '' : pv ?? '';
      const wanted = mode === 'enforce' ? 'enforce' : 'audit';
      return {
        timeMs: r.event_ms, namespace: r.namespace, pod: r.name, user: r.username, mode, level, version,
        controls: cs.filter((c) => c.mode === wanted).map((c) => (c.control === 'unknown' ? c.reason : c.control)),
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
      db.prepare(`DELETE FROM audit_event_controls WHERE event_id IN ${list}`).run();
      db.prepare(`DELETE FROM audit_events WHERE id IN ${list}`).run();
      return ids.length;
    })();
  }
}

interface RecentRow {
  id: number; audit_id: string; source: string; event_ms: number; verb: string; namespace: string; name: string; username: string;
  response_code: number; enforce_policy: string | null; audit_level: string | null; audit_version: string | null; exempt: string | null;
  psa_error: string | null; denied_level: string | null; denied_version: string | null; denial_message: string | null; audit_violations: string | null;
}
