// Conversions between domain types and the generated wire types, in one place.
import type { Report } from '../gen/proto/netconform/v1/Report.js';
import type { Finding as WireFinding, Finding__Output } from '../gen/proto/netconform/v1/Finding.js';
import type { CheckSummary__Output } from '../gen/proto/netconform/v1/CheckSummary.js';
import type { Status as WireStatus } from '../gen/proto/netconform/v1/Status.js';
import type { Severity as WireSeverity } from '../gen/proto/netconform/v1/Severity.js';
import { SEVERITIES, STATUSES, isSeverity, isStatus, type CheckSummary, type Finding, type OmittedFindings, type Severity, type Status } from './findings.js';
import type { OmittedFindings__Output } from '../gen/proto/netconform/v1/OmittedFindings.js';

export function statusToWire(s: Status): WireStatus {
  return s.toUpperCase() as WireStatus;
}

// The collector holds the latest report of thousands of nodes: statuses, severities and
// check ids decoded from the wire are shared strings, not fresh copies per finding.
const STATUS_OF = new Map<string, Status>(STATUSES.map((s) => [s.toUpperCase(), s]));
const SEVERITY_OF = new Map<string, Severity>(SEVERITIES.map((s) => [s.toUpperCase(), s]));
const checkIds = new Map<string, string>();
function checkId(id: string): string {
  const known = checkIds.get(id);
  if (known !== undefined) return known;
  if (checkIds.size < 1000) checkIds.set(id, id);
  return id;
}

export function statusFromWire(s: string | number): Status {
  const v = STATUS_OF.get(String(s).toUpperCase());
  return v ?? 'error';
}

export function severityToWire(s: Severity): WireSeverity {
  return s.toUpperCase() as WireSeverity;
}

export function severityFromWire(s: string | number): Severity {
  return SEVERITY_OF.get(String(s).toUpperCase()) ?? 'info';
}

export function findingToWire(f: Finding): WireFinding {
  return {
    check: f.check, status: statusToWire(f.status), severity: severityToWire(f.severity),
    subject: f.subject, message: f.message, evidenceJson: f.evidence ? JSON.stringify(f.evidence) : '',
  };
}

export function findingFromWire(f: Finding__Output): Finding {
  let evidence: Finding['evidence'];
  if (f.evidenceJson) {
    try {
      evidence = JSON.parse(f.evidenceJson) as Finding['evidence'];
    } catch {
      evidence = { raw: f.evidenceJson };
    }
  }
  return {
    check: checkId(f.check), status: statusFromWire(f.status), severity: severityFromWire(f.severity),
    subject: f.subject, message: f.message, ...(evidence ? { evidence } : {}),
  };
}

export function summaryFromWire(c: CheckSummary__Output): CheckSummary {
  return { id: checkId(c.id), status: statusFromWire(c.status), passed: c.passed, failed: c.failed, warned: c.warned, skipped: c.skipped, errored: c.errored };
}

export function omittedFromWire(o: OmittedFindings__Output): OmittedFindings {
  return { check: checkId(o.check), status: statusFromWire(o.status), severity: severityFromWire(o.severity), count: o.count };
}

export interface ReportInput {
  readonly sequence: number;
  readonly bootId: string;
  readonly scannedAt: string;
  readonly proxyMode: string;
  readonly cni: string;
  readonly checks: readonly CheckSummary[];
  readonly findings: readonly Finding[];
  /** Findings left out by the agent's bound (agent/report/bound.ts), counted. */
  readonly omitted?: readonly OmittedFindings[];
  /** The node's fingerprint (agent/fingerprint.ts NodeFingerprint) as JSON, '' or absent when none. */
  readonly fingerprintJson?: string;
}

/** A report carries every check's summary but only the findings that did not pass. */
export function reportToWire(r: ReportInput): Report {
  return {
    sequence: String(r.sequence), bootId: r.bootId, scannedAt: r.scannedAt, proxyMode: r.proxyMode, cni: r.cni,
    checks: r.checks.map((c) => ({ ...c, status: statusToWire(c.status) })),
    findings: r.findings.filter((f) => f.status !== 'pass').map(findingToWire),
    omitted: (r.omitted ?? []).map((o) => ({ check: o.check, status: statusToWire(o.status), severity: severityToWire(o.severity), count: o.count })),
    fingerprintJson: r.fingerprintJson ?? '',
  };
}
