// Agent reports in the store: a NodeSink that keeps each node's latest report and its
// findings, and the finding history (when each node + check + subject opened and closed).
// reportAccepted commits before it returns, so an acknowledged report survives a crash;
// loadReports() gives them back at start-up for NodeRegistry.restore (marked stale there).
import type { Statement } from 'better-sqlite3';
import { isSeverity, isStatus, type CheckSummary, type Evidence, type Finding } from '../../common/findings.js';
import type { NodeReport, NodeSink } from '../nodes.js';
import type { FindingHistory } from '../history.js';
import type { Store } from './store.js';

interface ReportRow {
  node: string; sequence: number; boot_id: string; scanned_at: string; received_at: string;
  proxy_mode: string; cni: string; agent_version: string; checks_json: string;
}
interface FindingRow {
  node: string; check_id: string; status: string; severity: string; subject: string; message: string; evidence_json: string | null;
}

const key = (check: string, subject: string): string => `${check}\u0000${subject}`;

export class ReportStore implements NodeSink, FindingHistory {
  /** Open history entries per node: key(check, subject) → opened_at. Mirrors the table. */
  private readonly open = new Map<string, Map<string, string>>();
  private readonly st: {
    upsertReport: Statement; deleteFindings: Statement; insertFinding: Statement; deleteReport: Statement;
    openHistory: Statement; closeHistory: Statement; closeAllForNode: Statement;
  };

  constructor(private readonly store: Store) {
    const { db } = store;
    this.st = {
      upsertReport: db.prepare(`INSERT INTO node_reports (node, sequence, boot_id, scanned_at, received_at, proxy_mode, cni, agent_version, checks_json)
        VALUES (@node, @sequence, @bootId, @scannedAt, @receivedAt, @proxyMode, @cni, @agentVersion, @checksJson)
        ON CONFLICT (node) DO UPDATE SET sequence = excluded.sequence, boot_id = excluded.boot_id, scanned_at = excluded.scanned_at,
          received_at = excluded.received_at, proxy_mode = excluded.proxy_mode, cni = excluded.cni,
          agent_version = excluded.agent_version, checks_json = excluded.checks_json`),
      deleteFindings: db.prepare('DELETE FROM current_findings WHERE node = ?'),
      insertFinding: db.prepare(`INSERT INTO current_findings (node, ord, check_id, status, severity, subject, message, evidence_json)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
      deleteReport: db.prepare('DELETE FROM node_reports WHERE node = ?'),
      openHistory: db.prepare(`INSERT INTO finding_history (node, check_id, subject, status, severity, message, opened_at)
        VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`),
      closeHistory: db.prepare('UPDATE finding_history SET closed_at = ? WHERE node = ? AND check_id = ? AND subject = ? AND closed_at IS NULL'),
      closeAllForNode: db.prepare('UPDATE finding_history SET closed_at = ? WHERE node = ? AND closed_at IS NULL'),
    };
    for (const r of db.prepare('SELECT node, check_id, subject, opened_at FROM finding_history WHERE closed_at IS NULL').all() as { node: string; check_id: string; subject: string; opened_at: string }[]) {
      this.openMap(r.node).set(key(r.check_id, r.subject), r.opened_at);
    }
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
    }));
  }

  reportAccepted(report: NodeReport): void {
    const now = report.receivedAt || new Date().toISOString();
    const open = this.openMap(report.node);
    const seen = new Set<string>();
    const opened: [string, string][] = [];
    const closed: string[] = [];
    this.store.db.transaction(() => {
      this.st.upsertReport.run({
        node: report.node, sequence: report.sequence, bootId: report.bootId, scannedAt: report.scannedAt, receivedAt: report.receivedAt,
        proxyMode: report.proxyMode, cni: report.cni, agentVersion: report.agentVersion, checksJson: JSON.stringify(report.checks),
      });
      this.st.deleteFindings.run(report.node);
      let ord = 0;
      for (const f of report.findings) {
        this.st.insertFinding.run(report.node, ord++, f.check, f.status, f.severity, f.subject, f.message, f.evidence ? JSON.stringify(f.evidence) : null);
        if (f.status === 'pass') continue;
        const k = key(f.check, f.subject);
        if (seen.has(k)) continue;
        seen.add(k);
        if (!open.has(k)) {
          this.st.openHistory.run(report.node, f.check, f.subject, f.status, f.severity, f.message, now);
          opened.push([k, now]);
        }
      }
      for (const k of open.keys()) {
        if (seen.has(k)) continue;
        const [check, subject] = k.split('\u0000') as [string, string];
        this.st.closeHistory.run(now, report.node, check, subject);
        closed.push(k);
      }
    })();
    // Memory follows the table only once the transaction committed.
    for (const [k, at] of opened) open.set(k, at);
    for (const k of closed) open.delete(k);
  }

  /** A node the registry forgot (disconnected past retention) is forgotten here too. */
  nodeRemoved(node: string): void {
    const now = new Date().toISOString();
    this.store.db.transaction(() => {
      this.st.deleteReport.run(node);
      this.st.deleteFindings.run(node);
      this.st.closeAllForNode.run(now, node);
    })();
    this.open.delete(node);
  }

  openedAt(node: string, check: string, subject: string): string | undefined {
    return this.open.get(node)?.get(key(check, subject));
  }

  /** History rows for a node (newest first), for tests and future queries. */
  history(node: string): { check: string; subject: string; openedAt: string; closedAt: string | null }[] {
    return (this.store.db.prepare('SELECT check_id, subject, opened_at, closed_at FROM finding_history WHERE node = ? ORDER BY id DESC').all(node) as
      { check_id: string; subject: string; opened_at: string; closed_at: string | null }[])
      .map((r) => ({ check: r.check_id, subject: r.subject, openedAt: r.opened_at, closedAt: r.closed_at }));
  }

  private openMap(node: string): Map<string, string> {
    let m = this.open.get(node);
    if (!m) this.open.set(node, (m = new Map()));
    return m;
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
