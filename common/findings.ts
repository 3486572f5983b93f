// The finding vocabulary every part of netconform shares (wgpolicyk8s.io PolicyReport words).

export const STATUSES = ['pass', 'fail', 'warn', 'error', 'skip'] as const;
export type Status = (typeof STATUSES)[number];

export const SEVERITIES = ['critical', 'high', 'medium', 'low', 'info'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** Evidence is plain JSON so it can travel on the wire and into the store unchanged. */
export type Evidence = { readonly [key: string]: unknown };

export interface Finding {
  /** Stable check id, `area.name` (e.g. `pod-network.sysctl`). */
  readonly check: string;
  readonly status: Status;
  readonly severity: Severity;
  /** What the finding is about: node, `ns/name:port/PROTO`, pod, namespace, file, key. */
  readonly subject: string;
  /** One line a person can act on. */
  readonly message: string;
  readonly evidence?: Evidence;
}

export interface CheckSummary {
  readonly id: string;
  readonly status: Status;
  readonly passed: number;
  readonly failed: number;
  readonly warned: number;
  readonly skipped: number;
  readonly errored: number;
}

export function isStatus(value: string): value is Status {
  return (STATUSES as readonly string[]).includes(value);
}

export function isSeverity(value: string): value is Severity {
  return (SEVERITIES as readonly string[]).includes(value);
}

/**
 * Higher is worse; a check's status is the worst of its results. Also the value of the
 * `netconform_check_status` gauge (docs/metrics.md), so `max()` over checks is the worst.
 */
export const STATUS_RANK: Readonly<Record<Status, number>> = { pass: 0, skip: 1, warn: 2, error: 3, fail: 4 };

export function worstStatus(statuses: Iterable<Status>): Status {
  let worst: Status | undefined;
  for (const s of statuses) if (worst === undefined || STATUS_RANK[s] > STATUS_RANK[worst]) worst = s;
  return worst ?? 'skip';
}

/** Higher is more severe. */
export const SEVERITY_RANK: Record<Severity, number> = { info: 0, low: 1, medium: 2, high: 3, critical: 4 };

export function summarize(id: string, findings: readonly Finding[]): CheckSummary {
  let passed = 0, failed = 0, warned = 0, skipped = 0, errored = 0;
  for (const f of findings) {
    switch (f.status) {
      case 'pass': passed++; break;
      case 'fail': failed++; break;
      case 'warn': warned++; break;
      case 'skip': skipped++; break;
      case 'error': errored++; break;
    }
  }
  return { id, status: worstStatus(findings.map((f) => f.status)), passed, failed, warned, skipped, errored };
}

/** Findings an agent left out of a report to bound its size, counted per check, status and severity. */
export interface OmittedFindings {
  readonly check: string;
  readonly status: Status;
  readonly severity: Severity;
  readonly count: number;
}
