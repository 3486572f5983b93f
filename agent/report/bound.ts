// Bounds what one report carries. A node where 10,000 Service ports fail would otherwise
// send 10,000 findings (several MB) every interval, and the collector would store and hold
// all of them. The report keeps the MAX_REPORT_FINDINGS most important non-passing findings
// — worst status first (fail, error, warn, skip), then highest severity, then taking turns
// between checks so one noisy check cannot crowd out the others — in their original order,
// and counts the rest per check, status and severity. The check summaries still count every
// result, so metrics and `netconform nodes` stay exact; only the listed findings are cut.
import { SEVERITY_RANK, STATUS_RANK, type Finding, type OmittedFindings } from '../../common/findings.js';

export const MAX_REPORT_FINDINGS = 500;

export function boundFindings(all: readonly Finding[], max = MAX_REPORT_FINDINGS): { findings: Finding[]; omitted: OmittedFindings[] } {
  const failing = all.filter((f) => f.status !== 'pass');
  if (failing.length <= max) return { findings: failing, omitted: [] };
  const turn = new Map<string, number>();
  const ranked = failing.map((f, i) => {
    const k = `${f.check}\u0000${f.status}\u0000${f.severity}`;
    const t = turn.get(k) ?? 0;
    turn.set(k, t + 1);
    return { f, i, t };
  });
  ranked.sort((a, b) => STATUS_RANK[b.f.status] - STATUS_RANK[a.f.status] || SEVERITY_RANK[b.f.severity] - SEVERITY_RANK[a.f.severity] || a.t - b.t || a.i - b.i);
  const kept = ranked.slice(0, max).sort((a, b) => a.i - b.i).map((r) => r.f);
  const counts = new Map<string, OmittedFindings>();
  for (const { f } of ranked.slice(max)) {
    const k = `${f.check}\u0000${f.status}\u0000${f.severity}`;
    const c = counts.get(k);
    counts.set(k, { check: f.check, status: f.status, severity: f.severity, count: (c?.count ?? 0) + 1 });
  }
  const omitted = [...counts.values()].sort((a, b) => a.check.localeCompare(b.check) || STATUS_RANK[b.status] - STATUS_RANK[a.status] || SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity]);
  return { findings: kept, omitted };
}
