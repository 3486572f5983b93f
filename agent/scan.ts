// Runs the registered checks over a snapshot: the one place checks are invoked.
import { summarize, type CheckSummary, type Finding } from '../common/findings.js';
import { InputError } from '../common/errors.js';
import type { ClusterContext } from '../common/cluster.js';
import type { NodeSnapshot } from './snapshot.js';
import { FACET_SOURCES } from './snapshot.js';
import type { CheckDefinition } from './checks/types.js';
import { CHECKS } from './checks/registry.js';
import { detectProxyMode, type ProxyMode } from './dataplane/mode.js';
import { detectCniFamily } from './checks/cni/family.js';
import { fingerprintNode, type NodeFingerprint } from './fingerprint.js';

export interface ScanResult {
  readonly node: string;
  readonly scannedAt: string;
  readonly proxyMode: ProxyMode;
  readonly cni: string;
  /** What a CNI migration must carry over (agent/fingerprint.ts), in every report. */
  readonly fingerprint: NodeFingerprint;
  readonly checks: readonly CheckSummary[];
  /** Every result, passing ones included, in registry order. */
  readonly findings: readonly Finding[];
}

export function runCheck(check: CheckDefinition, snapshot: NodeSnapshot, cluster: ClusterContext | undefined): Finding[] {
  const missing = check.needs.filter((f) => snapshot[f] === undefined);
  if (missing.length > 0) {
    return [{
      check: check.id, status: 'skip', severity: 'info', subject: snapshot.node,
      message: `skipped: no ${missing.map((f) => FACET_SOURCES[f]).join('; no ')}`,
      evidence: { missing },
    }];
  }
  if (check.needsCluster && !cluster) {
    return [{
      check: check.id, status: 'skip', severity: 'info', subject: snapshot.node,
      message: 'skipped: no cluster context (run as a Pod for the in-cluster API watch, or pass --kubeconfig FILE / --cluster FILE)',
    }];
  }
  try {
    return check.run(snapshot, cluster).map((r) => ({ check: check.id, ...r }));
  } catch (err) {
    // Input that did not parse, or a tool that timed out: the check cannot judge, and says
    // which source to look at (never a skip, never a fail on rules half read).
    if (err instanceof InputError) {
      return [{
        check: check.id, status: 'error', severity: 'high', subject: snapshot.node,
        message: `cannot judge: ${err.message}`,
        evidence: { source: err.file, reason: err.reason, ...(err.line !== undefined ? { line: err.line } : {}) },
      }];
    }
    // A bug in one check must not hide the others' results.
    return [{
      check: check.id, status: 'error', severity: 'high', subject: snapshot.node,
      message: `check crashed: ${err instanceof Error ? err.message : String(err)}`,
      evidence: { stack: err instanceof Error ? (err.stack ?? '').split('\n').slice(0, 6) : [] },
    }];
  }
}

export function scanSnapshot(
  snapshot: NodeSnapshot,
  cluster: ClusterContext | undefined,
  opts: {
    checks?: readonly CheckDefinition[]; now?: Date; only?: readonly string[];
    /** Checks not run: their results from an earlier scan that still hold (agent/steady-scan.ts). */
    reuse?: ReadonlyMap<string, readonly Finding[]>;
  } = {},
): ScanResult {
  const checks = (opts.checks ?? CHECKS).filter((c) => !opts.only || opts.only.includes(c.id));
  const findings: Finding[] = [];
  const summaries: CheckSummary[] = [];
  for (const check of checks) {
    const results = opts.reuse?.get(check.id) ?? runCheck(check, snapshot, cluster);
    findings.push(...results);
    summaries.push(summarize(check.id, results));
  }
  const proxyMode = detectProxyMode(snapshot);
  return {
    node: snapshot.node,
    scannedAt: (opts.now ?? new Date()).toISOString(),
    proxyMode,
    cni: detectCniFamily(snapshot),
    fingerprint: fingerprintNode(snapshot, { proxyMode }),
    checks: summaries,
    findings,
  };
}
