// netconform's results as the policy ecosystem reads them: a wgpolicyk8s.io/v1alpha2
// ClusterPolicyReport per node (what Kyverno's policy-reporter shows, alerts on and exports
// without configuration), or the same content as an openreports.io/v1alpha1 ClusterReport.
// The agent prints one (`scan --format policyreport`); the collector keeps one per node.
// Non-passing findings become one result each; passing checks become ONE result per check
// (not per Service port), so a healthy 10k-Service node makes a report of a few dozen rows.
import type { CheckSummary, Finding, Severity, Status } from './findings.js';

export const POLICY_REPORT_SOURCE = 'netconform';
/** Longest evidence summary put into a result's properties (policy-reporter shows them inline). */
const EVIDENCE_SUMMARY_MAX = 240;

export type ReportFlavour = 'wgpolicyk8s' | 'openreports';

export interface ReportTimestamp {
  readonly seconds: number;
  readonly nanos: number;
}

export interface ReportResult {
  readonly source: string;
  readonly policy: string;
  readonly rule: string;
  readonly category: 'network' | 'pod-security';
  readonly result: Status;
  readonly severity: Severity;
  readonly scored: boolean;
  readonly message: string;
  readonly timestamp: ReportTimestamp;
  readonly properties: Readonly<Record<string, string>>;
}

export interface ReportSummary {
  readonly pass: number;
  readonly fail: number;
  readonly warn: number;
  readonly error: number;
  readonly skip: number;
}

export interface PolicyReportObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly labels: Readonly<Record<string, string>> };
  readonly scope?: { readonly apiVersion: string; readonly kind: string; readonly name: string; readonly namespace?: string };
  readonly source?: string;
  readonly summary: ReportSummary;
  readonly results: readonly ReportResult[];
}

const API: Record<ReportFlavour, { apiVersion: string; cluster: string; namespaced: string }> = {
  wgpolicyk8s: { apiVersion: 'wgpolicyk8s.io/v1alpha2', cluster: 'ClusterPolicyReport', namespaced: 'PolicyReport' },
  openreports: { apiVersion: 'openreports.io/v1alpha1', cluster: 'ClusterReport', namespaced: 'Report' },
};

export const MANAGED_BY_LABEL = { 'app.kubernetes.io/managed-by': 'netconform' } as const;

/** The check's area decides the category: `psa.*` is Pod Security, everything else the network model. */
export function categoryOf(check: string): ReportResult['category'] {
  return check.startsWith('psa.') ? 'pod-security' : 'network';
}

export function reportTimestamp(iso: string): ReportTimestamp {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return { seconds: 0, nanos: 0 };
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 };
}

/** A one-line, bounded rendering of a finding's evidence (policy-reporter properties are strings). */
export function evidenceSummary(evidence: Finding['evidence']): string {
  if (!evidence) return '';
  const text = JSON.stringify(evidence);
  return text.length <= EVIDENCE_SUMMARY_MAX ? text : `${text.slice(0, EVIDENCE_SUMMARY_MAX - 1)}…`;
}

/** Kubernetes object names: lower case, `[a-z0-9.-]`, at most 253 characters. */
export function reportName(prefix: string, name: string): string {
  const safe = `${prefix}-${name}`.toLowerCase().replace(/[^a-z0-9.-]+/g, '-').replace(/^[-.]+|[-.]+$/g, '');
  return safe.slice(0, 253);
}

function summaryOf(results: readonly ReportResult[]): ReportSummary {
  const s = { pass: 0, fail: 0, warn: 0, error: 0, skip: 0 };
  for (const r of results) s[r.result]++;
  return s;
}

function findingResult(node: string, f: Finding, timestamp: ReportTimestamp): ReportResult {
  const properties: Record<string, string> = { node, subject: f.subject };
  const ev = evidenceSummary(f.evidence);
  if (ev) properties['evidence'] = ev;
  return {
    source: POLICY_REPORT_SOURCE, policy: f.check, rule: f.subject, category: categoryOf(f.check),
    result: f.status, severity: f.severity, scored: f.status !== 'skip', message: f.message, timestamp, properties,
  };
}

function passResult(node: string, c: CheckSummary, timestamp: ReportTimestamp): ReportResult {
  return {
    source: POLICY_REPORT_SOURCE, policy: c.id, rule: c.id, category: categoryOf(c.id),
    result: 'pass', severity: 'info', scored: true,
    message: `${c.passed} ${c.passed === 1 ? 'subject passes' : 'subjects pass'}`,
    timestamp, properties: { node, passed: String(c.passed) },
  };
}

export interface NodeReportInput {
  readonly node: string;
  readonly scannedAt: string;
  readonly checks: readonly CheckSummary[];
  /** Findings of any status; passing ones are folded into one result per check. */
  readonly findings: readonly Finding[];
}

/** One cluster-scoped report for a node, scoped to the Node object. */
export function nodePolicyReport(input: NodeReportInput, flavour: ReportFlavour = 'wgpolicyk8s'): PolicyReportObject {
  const ts = reportTimestamp(input.scannedAt);
  const results: ReportResult[] = [];
  for (const f of input.findings) if (f.status !== 'pass') results.push(findingResult(input.node, f, ts));
  for (const c of input.checks) if (c.passed > 0) results.push(passResult(input.node, c, ts));
  const api = API[flavour];
  return {
    apiVersion: api.apiVersion,
    kind: api.cluster,
    metadata: { name: reportName('netconform-node', input.node), labels: { ...MANAGED_BY_LABEL } },
    scope: { apiVersion: 'v1', kind: 'Node', name: input.node },
    ...(flavour === 'openreports' ? { source: POLICY_REPORT_SOURCE } : {}),
    summary: summaryOf(results),
    results,
  };
}

/** One namespaced report holding a namespace's Pod Security findings (labels lint, recorded violations). */
export function namespacePolicyReport(namespace: string, at: string, findings: readonly Finding[], flavour: ReportFlavour = 'wgpolicyk8s'): PolicyReportObject {
  const ts = reportTimestamp(at);
  const results = findings.map((f) => {
    const r = findingResult('', f, ts);
    const { node: _node, ...properties } = r.properties;
    return { ...r, properties: { ...properties, namespace } };
  });
  const api = API[flavour];
  return {
    apiVersion: api.apiVersion,
    kind: api.namespaced,
    metadata: { name: 'netconform-pod-security', namespace, labels: { ...MANAGED_BY_LABEL } },
    scope: { apiVersion: 'v1', kind: 'Namespace', name: namespace },
    ...(flavour === 'openreports' ? { source: POLICY_REPORT_SOURCE } : {}),
    summary: summaryOf(results),
    results,
  };
}
