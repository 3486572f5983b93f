// Agent reports in the store: a NodeSink that keeps each node's latest report and its
// findings, and the finding history (when each node + check + subject opened and closed).
// loadReports() gives them back at start-up for NodeRegistry.restore (marked stale there).
//
// Group commit: reportAccepted queues the report and returns a promise; every report queued
// in one event-loop turn is written in one transaction (at 5,000 agents some 170 reports/s
// arrive, one transaction and one disk sync each before this). The transaction commits with
// synchronous=NORMAL and the WAL is then fdatasync'd on libuv's thread pool — the sync stays
// off the event loop, and one covers every commit before it — and only then does the promise
// resolve: the agent's Ack waits for it, so an acknowledged report survives power loss exactly
// as with synchronous=FULL (the audit writer, audit-writer.ts, does the same).
import { closeSync, fdatasync, fdatasyncSync, fstatSync, openSync, statSync } from 'node:fs';
import type { Statement } from 'better-sqlite3';
import { isSeverity, isStatus, type CheckSummary, type Evidence, type Finding, type OmittedFindings, type Severity, type Status } from '../../common/findings.js';
import type { FindingKeeper, NodeReport, NodeSink } from '../nodes.js';
import type { FindingHistory } from '../history.js';
import type { Store } from './store.js';

interface ReportRow {
  node: string; sequence: number; boot_id: string; scanned_at: string; received_at: string;
  proxy_mode: string; cni: string; agent_version: string; checks_json: string; omitted_json: string; fingerprint_json: string;
}

interface Queued {
  readonly report: NodeReport;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
}
interface FindingRow {
  node: string; check_id: string; status: string; severity: string; subject: string; message: string; evidence_json: string | null;
}

const key = (check: string, subject: string): string => `${check}\u0000${subject}`;

/** A node's current finding as the store lists it: evidence as the JSON text it keeps. */
export interface ListedFinding {
  readonly node: string;
  readonly check: string;
  readonly status: Status;
  readonly severity: Severity;
  readonly subject: string;
  readonly message: string;
  /** The evidence as stored (JSON), '' when none. */
  readonly evidenceJson: string;
  /** When it opened (finding history), else when its report arrived. */
  readonly since: string;
}

export interface FindingFilter {
  readonly node?: string;
  readonly check?: string;
  readonly status?: Status;
}

// The nodes' findings and their open history live in the tables only, not mirrored in
// memory: at 5,000 nodes the report's findings held ~15 KB a node and the open-history map
// ~2 KB, for a collector whose every connection costs ~40 KB of its own (docs/memory.md).
// The registry reads a node's findings back (currentFindings) when a probe report is
// merged into them; `netconform findings` is one query (listFindings).
export class ReportStore implements NodeSink, FindingHistory, FindingKeeper {
  private readonly st: {
    upsertReport: Statement; deleteFindings: Statement; insertFinding: Statement; deleteReport: Statement;
    openHistory: Statement; closeHistory: Statement; closeAllForNode: Statement;
    openOfNode: Statement; openedAt: Statement; findingsOfNode: Statement; listFindings: Statement;
  };

  private queue: Queued[] = [];
  private scheduled = false;
  /** Committed, waiting for an fdatasync of the WAL; one sync at a time covers them all. */
  private unsynced: Queued[] = [];
  private syncing = false;
  private wal: { fd: number; ino: number } | undefined;

  constructor(private readonly store: Store) {
    const { db } = store;
    // Nothing queued is lost on a clean shutdown: commit it (and sync) before the store closes.
    store.onClose(() => {
      this.flushNow();
      if (this.wal && !this.syncing) closeSync(this.wal.fd);
    });
    this.st = {
      upsertReport: db.prepare(`INSERT INTO node_reports (node, sequence, boot_id, scanned_at, received_at, proxy_mode, cni, agent_version, checks_json, omitted_json, fingerprint_json)
        VALUES (@node, @sequence, @bootId, @scannedAt, @receivedAt, @proxyMode, @cni, @agentVersion, @checksJson, @omittedJson, @fingerprintJson)
        ON CONFLICT (node) DO UPDATE SET sequence = excluded.sequence, boot_id = excluded.boot_id, scanned_at = excluded.scanned_at,
          received_at = excluded.received_at, proxy_mode = excluded.proxy_mode, cni = excluded.cni,
          agent_version = excluded.agent_version, checks_json = excluded.checks_json, omitted_json = excluded.omitted_json,
          fingerprint_json = excluded.fingerprint_json`),
      deleteFindings: db.prepare('DELETE FROM current_findings WHERE node = ?'),
      insertFinding: db.prepare(`INSERT INTO current_findings (node, ord, check_id, status, severity, subject, message, evidence_json)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
      deleteReport: db.prepare('DELETE FROM node_reports WHERE node = ?'),
      openHistory: db.prepare(`INSERT INTO finding_history (node, check_id, subject, status, severity, message, opened_at)
        VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`),
      closeHistory: db.prepare('UPDATE finding_history SET closed_at = ? WHERE node = ? AND check_id = ? AND subject = ? AND closed_at IS NULL'),
      closeAllForNode: db.prepare('UPDATE finding_history SET closed_at = ? WHERE node = ? AND closed_at IS NULL'),
      // Both read the partial unique index finding_history_open.
      openOfNode: db.prepare('SELECT check_id, subject FROM finding_history WHERE node = ? AND closed_at IS NULL').raw(),
      openedAt: db.prepare('SELECT opened_at FROM finding_history WHERE node = ? AND check_id = ? AND subject = ? AND closed_at IS NULL').pluck(),
      findingsOfNode: db.prepare('SELECT node, check_id, status, severity, subject, message, evidence_json FROM current_findings WHERE node = ? ORDER BY ord'),
      listFindings: db.prepare(`SELECT f.node, f.check_id, f.status, f.severity, f.subject, f.message, f.evidence_json, coalesce(h.opened_at, r.received_at, '') AS since
        FROM current_findings f
          LEFT JOIN finding_history h ON h.node = f.node AND h.check_id = f.check_id AND h.subject = f.subject AND h.closed_at IS NULL
          LEFT JOIN node_reports r ON r.node = f.node
        WHERE (@node = '' OR f.node = @node) AND (@check = '' OR f.check_id = @check) AND (@status = '' OR f.status = @status)
        ORDER BY f.node, f.ord`),
    };
  }

  /**
   * The findings of the node's latest accepted report. Reports queued for the next commit
   * are committed first, so what is read is what the registry accepted last.
   */
  currentFindings(node: string): Finding[] {
    this.flush();
    return (this.st.findingsOfNode.all(node) as FindingRow[]).map(rowToFinding);
  }

  /** Every node's current findings that match, by node and then in report order (after committing what is queued). */
  listFindings(filter: FindingFilter = {}): ListedFinding[] {
    this.flush();
    const rows = this.st.listFindings.all({ node: filter.node ?? '', check: filter.check ?? '', status: filter.status ?? '' }) as (FindingRow & { since: string })[];
    return rows.map((f) => ({
      node: f.node, check: f.check_id, status: isStatus(f.status) ? f.status : 'error', severity: isSeverity(f.severity) ? f.severity : 'info',
      subject: f.subject, message: f.message, evidenceJson: f.evidence_json ?? '', since: f.since,
    }));
  }

  /** Every stored report, with its findings, for NodeRegistry.restore. */
  loadReports(): NodeReport[] {
    const { db } = this.store;
    const findings = new Map<string, Finding[]>();
    for (const f of db.prepare('SELECT node, check_id, status, severity, subject, message, evidence_json FROM current_findings ORDER BY node, ord').all() as FindingRow[]) {
      let list = findings.get(f.node);
      if (!list) findings.set(f.node, (list = []));
      list.push(rowToFinding(f));
    }
    return (db.prepare('SELECT * FROM node_reports ORDER BY node').all() as ReportRow[]).map((r) => ({
      node: r.node, sequence: r.sequence, bootId: r.boot_id, scannedAt: r.scanned_at, receivedAt: r.received_at,
      proxyMode: r.proxy_mode, cni: r.cni, agentVersion: r.agent_version,
      checks: parseChecks(r.checks_json), findings: findings.get(r.node) ?? [],
      ...(r.omitted_json && r.omitted_json !== '[]' ? { omitted: parseOmitted(r.omitted_json) } : {}),
      ...(r.fingerprint_json ? { fingerprintJson: r.fingerprint_json } : {}),
    }));
  }

  /** Queues the report; resolves once it is committed and on disk (the caller Acks only then). */
  reportAccepted(report: NodeReport): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ report, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Commits and syncs what is queued, synchronously (shutdown; tests). */
  flushNow(): void {
    this.flush();
    if (this.unsynced.length && !this.syncing) {
      const waiting = this.unsynced;
      this.unsynced = [];
      try {
        const fd = this.walFd();
        if (fd !== undefined) fdatasyncSync(fd);
        for (const q of waiting) q.resolve();
      } catch (err) {
        for (const q of waiting) q.reject(err as Error);
      }
    }
  }

  private flush(): void {
    this.scheduled = false;
    const group = this.queue;
    this.queue = [];
    if (group.length === 0) return;
    const { db } = this.store;
    const memory = this.store.path === ':memory:';
    try {
      if (!memory) db.pragma('synchronous = NORMAL');
      db.transaction(() => {
        for (const q of group) this.write(q.report);
      })();
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      for (const q of group) q.reject(new Error(`--db ${this.store.path}: report ${q.report.sequence} of node ${q.report.node} not stored: ${why}`));
      return;
    } finally {
      if (!memory) db.pragma('synchronous = FULL');
    }
    if (memory) {
      for (const q of group) q.resolve();
      return;
    }
    this.unsynced.push(...group);
    this.sync();
  }

  private sync(): void {
    if (this.syncing || this.unsynced.length === 0) return;
    const waiting = this.unsynced;
    this.unsynced = [];
    let fd: number | undefined;
    try {
      fd = this.walFd();
    } catch (err) {
      for (const q of waiting) q.reject(new Error(`--db ${this.store.path}: cannot open the WAL to sync it: ${(err as Error).message}`));
      return;
    }
    if (fd === undefined) {
      for (const q of waiting) q.resolve();
      return;
    }
    this.syncing = true;
    fdatasync(fd, (err) => {
      this.syncing = false;
      for (const q of waiting) {
        if (err) q.reject(new Error(`--db ${this.store.path}: fdatasync of the WAL failed: ${err.message}`));
        else q.resolve();
      }
      this.sync();
    });
  }

  /** The WAL file's descriptor, reopened when SQLite replaced the file (a restart of the WAL keeps it). */
  private walFd(): number | undefined {
    const path = `${this.store.path}-wal`;
    let ino: number;
    try {
      ino = statSync(path).ino;
    } catch {
      return undefined; // no WAL: everything is checkpointed into the database file, which SQLite synced
    }
    if (this.wal && this.wal.ino === ino) return this.wal.fd;
    if (this.wal) closeSync(this.wal.fd);
    const fd = openSync(path, 'r');
    this.wal = { fd, ino: fstatSync(fd).ino };
    return fd;
  }

  /** One report, inside the batch's transaction: its findings, and its history opened and closed. */
  private write(report: NodeReport): void {
    const now = report.receivedAt || new Date().toISOString();
    const open = new Set((this.st.openOfNode.all(report.node) as [string, string][]).map(([check, subject]) => key(check, subject)));
    const seen = new Set<string>();
    this.st.upsertReport.run({
      node: report.node, sequence: report.sequence, bootId: report.bootId, scannedAt: report.scannedAt, receivedAt: report.receivedAt,
      proxyMode: report.proxyMode, cni: report.cni, agentVersion: report.agentVersion, checksJson: JSON.stringify(report.checks),
      omittedJson: JSON.stringify(report.omitted ?? []),
      fingerprintJson: report.fingerprintJson ?? '',
    });
    this.st.deleteFindings.run(report.node);
    let ord = 0;
    for (const f of report.findings) {
      this.st.insertFinding.run(report.node, ord++, f.check, f.status, f.severity, f.subject, f.message, f.evidence ? JSON.stringify(f.evidence) : null);
      if (f.status === 'pass') continue;
      const k = key(f.check, f.subject);
      if (seen.has(k)) continue;
      seen.add(k);
      if (!open.has(k)) this.st.openHistory.run(report.node, f.check, f.subject, f.status, f.severity, f.message, now);
    }
    for (const k of open) {
      if (seen.has(k)) continue;
      const [check, subject] = k.split('\u0000') as [string, string];
      this.st.closeHistory.run(now, report.node, check, subject);
    }
  }

  /** A node the registry forgot (disconnected past retention) is forgotten here too. */
  nodeRemoved(node: string): void {
    this.flush(); // a queued report of the node must not come back after its removal
    const now = new Date().toISOString();
    this.store.db.transaction(() => {
      this.st.deleteReport.run(node);
      this.st.deleteFindings.run(node);
      this.st.closeAllForNode.run(now, node);
    })();
  }

  openedAt(node: string, check: string, subject: string): string | undefined {
    this.flush();
    return this.st.openedAt.get(node, check, subject) as string | undefined;
  }

  /** History rows for a node (newest first), for tests and future queries. */
  history(node: string): { check: string; subject: string; openedAt: string; closedAt: string | null }[] {
    return (this.store.db.prepare('SELECT check_id, subject, opened_at, closed_at FROM finding_history WHERE node = ? ORDER BY id DESC').all(node) as
      { check_id: string; subject: string; opened_at: string; closed_at: string | null }[])
      .map((r) => ({ check: r.check_id, subject: r.subject, openedAt: r.opened_at, closedAt: r.closed_at }));
  }
}

function rowToFinding(f: FindingRow): Finding {
  let evidence: Evidence | undefined;
  if (f.evidence_json) {
    try {
      const v: unknown = JSON.parse(f.evidence_json);
      evidence = typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Evidence) : { value: v };
    } catch {
      evidence = { raw: f.evidence_json };
    }
  }
  return {
    check: f.check_id, status: isStatus(f.status) ? f.status : 'error', severity: isSeverity(f.severity) ? f.severity : 'info',
    subject: f.subject, message: f.message, ...(evidence ? { evidence } : {}),
  };
}

function parseOmitted(text: string): OmittedFindings[] {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return [];
  }
  if (!Array.isArray(v)) return [];
  return v.filter((o): o is Record<string, unknown> => typeof o === 'object' && o !== null)
    .filter((o) => typeof o['check'] === 'string' && typeof o['count'] === 'number')
    .map((o) => ({
      check: o['check'] as string, status: isStatus(String(o['status'])) ? (o['status'] as OmittedFindings['status']) : 'error',
      severity: isSeverity(String(o['severity'])) ? (o['severity'] as OmittedFindings['severity']) : 'info', count: o['count'] as number,
    }));
}

function parseChecks(text: string): CheckSummary[] {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return [];
  }
  if (!Array.isArray(v)) return [];
  const out: CheckSummary[] = [];
  for (const c of v) {
    if (typeof c !== 'object' || c === null) continue;
    const o = c as Record<string, unknown>;
    const n = (k: string): number => (typeof o[k] === 'number' ? (o[k] as number) : 0);
    if (typeof o['id'] !== 'string' || typeof o['status'] !== 'string') continue;
    out.push({ id: o['id'], status: isStatus(o['status']) ? o['status'] : 'error', passed: n('passed'), failed: n('failed'), warned: n('warned'), skipped: n('skipped'), errored: n('errored') });
  }
  return out;
}
