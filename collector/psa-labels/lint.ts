// Check psa.namespace-labels: does a namespace's Pod Security labelling follow the seed's
// practice — pin versions (never `latest`), start with enforce=baseline and audit/warn=
// restricted, raise enforce step by step while audit/warn show what the next step breaks?
// One finding per namespace, built on readNamespacePolicy (the API server's own reading of
// the labels: defaults, invalid-value fallbacks, warn following enforce since 1.26).
//   invalid label value                                  fail  medium
//   level set with a `latest` or missing version         warn  medium   (upgrades change the policy silently)
//   audit/warn labelled less strict than enforce         warn  medium   (inconsistent)
//   no level label at all                                warn  info     (privileged by default)
//   enforce set, neither audit nor warn stricter         warn  info     (no visibility into the next step)
//   otherwise (e.g. enforce=baseline, audit=warn=restricted, pinned)   pass
// Exempt namespaces (configured list) are `skip`. Pure.
import type { Finding, Severity, Status } from '../../common/findings.js';
import { worstStatus, SEVERITY_RANK } from '../../common/findings.js';
import type { NamespaceInfo } from '../../common/cluster.js';
import { compareLevels, formatVersion, LEVELS } from '../../psa/types.js';
import { MODES, readNamespacePolicy, LEVEL_LABEL, VERSION_LABEL, type Mode, type NamespacePolicy } from '../../psa/namespace-labels.js';

export const CHECK_ID = 'psa.namespace-labels';

/** Namespaces exempted when no list is configured: the control plane's own. */
export const DEFAULT_EXEMPT_NAMESPACES: readonly string[] = ['kube-system', 'kube-public', 'kube-node-lease'];

export interface LabelIssue {
  readonly status: Exclude<Status, 'pass' | 'skip'>;
  readonly severity: Severity;
  readonly rule: 'invalid-value' | 'unpinned-version' | 'inconsistent' | 'no-level' | 'no-visibility';
  readonly message: string;
}

export interface NamespaceLint {
  readonly namespace: string;
  readonly policy: NamespacePolicy;
  readonly exempt: boolean;
  readonly issues: readonly LabelIssue[];
  readonly finding: Finding;
}

function describe(policy: NamespacePolicy): Record<Mode, string> {
  const out = {} as Record<Mode, string>;
  for (const m of MODES) out[m] = `${policy[m].level}:${formatVersion(policy[m].version)}`;
  return out;
}

export function lintNamespace(ns: NamespaceInfo, exempt: ReadonlySet<string> = new Set(DEFAULT_EXEMPT_NAMESPACES)): NamespaceLint {
  const policy = readNamespacePolicy(ns.labels);
  const effective = describe(policy);
  const evidence = {
    enforce: effective.enforce, audit: effective.audit, warn: effective.warn,
    warnFollowsEnforce: policy.warnFollowsEnforce,
    labels: Object.fromEntries(Object.entries(ns.labels).filter(([k]) => k.startsWith('pod-security.kubernetes.io/'))),
  };
  if (exempt.has(ns.name)) {
    return {
      namespace: ns.name, policy, exempt: true, issues: [],
      finding: { check: CHECK_ID, status: 'skip', severity: 'info', subject: ns.name, message: `namespace ${ns.name} is exempted from the label lint by configuration`, evidence },
    };
  }
  const issues: LabelIssue[] = [];
  for (const e of policy.errors) {
    const mode = MODES.find((m) => e.label === LEVEL_LABEL[m] || e.label === VERSION_LABEL[m]);
    const fallback = mode ? ` (the API server applies ${effective[mode]} instead)` : '';
    issues.push({ status: 'fail', severity: 'medium', rule: 'invalid-value', message: `${e.message}${fallback}` });
  }
  const anyLevel = MODES.some((m) => policy.labelled[m].level);
  if (!anyLevel) {
    issues.push({ status: 'warn', severity: 'info', rule: 'no-level', message: 'no pod-security.kubernetes.io level label: every pod is admitted (privileged by default); start with enforce=baseline, audit=restricted, warn=restricted' });
  }
  for (const m of MODES) {
    if (!policy.labelled[m].level) continue;
    const v = policy[m].version;
    if (!policy.labelled[m].version) {
      issues.push({ status: 'warn', severity: 'medium', rule: 'unpinned-version', message: `${m}=${policy[m].level} has no ${m}-version label, so it means latest: a cluster upgrade changes the policy silently; pin it (e.g. ${m}-version=v1.N)` });
    } else if (v === 'latest' && !policy.errors.some((e) => e.label === VERSION_LABEL[m])) {
      issues.push({ status: 'warn', severity: 'medium', rule: 'unpinned-version', message: `${m}-version=latest: a cluster upgrade changes the ${m} policy silently; pin a version` });
    }
  }
  if (policy.labelled.enforce.level) {
    const enforce = policy.enforce.level;
    for (const m of ['audit', 'warn'] as const) {
      if (policy.labelled[m].level && compareLevels(policy[m].level, enforce) < 0) {
        issues.push({ status: 'warn', severity: 'medium', rule: 'inconsistent', message: `enforce=${enforce} is stricter than ${m}=${policy[m].level}: ${m} shows nothing enforce does not already reject; set ${m} to ${enforce} or stricter` });
      }
    }
    const strictest = LEVELS.at(-1)!;
    if (enforce !== strictest && compareLevels(policy.audit.level, enforce) <= 0 && compareLevels(policy.warn.level, enforce) <= 0) {
      issues.push({ status: 'warn', severity: 'info', rule: 'no-visibility', message: `enforce=${enforce} without audit or warn at a stricter level: nothing shows what tightening enforce would break; add audit=restricted and warn=restricted` });
    }
  }
  let finding: Finding;
  if (issues.length === 0) {
    finding = { check: CHECK_ID, status: 'pass', severity: 'info', subject: ns.name, message: `enforce ${effective.enforce}, audit ${effective.audit}, warn ${effective.warn}: pinned and consistent`, evidence };
  } else {
    const status = worstStatus(issues.map((i) => i.status));
    const severity = issues.filter((i) => i.status === status).reduce<Severity>((s, i) => (SEVERITY_RANK[i.severity] > SEVERITY_RANK[s] ? i.severity : s), 'info');
    finding = {
      check: CHECK_ID, status, severity, subject: ns.name,
      message: issues.map((i) => i.message).join('; '),
      evidence: { ...evidence, issues: issues.map((i) => ({ rule: i.rule, status: i.status, severity: i.severity })) },
    };
  }
  return { namespace: ns.name, policy, exempt: false, issues, finding };
}

export function lintNamespaces(namespaces: readonly NamespaceInfo[], exempt: ReadonlySet<string> = new Set(DEFAULT_EXEMPT_NAMESPACES)): NamespaceLint[] {
  return namespaces.map((ns) => lintNamespace(ns, exempt)).sort((a, b) => a.namespace.localeCompare(b.namespace));
}
