// The vocabulary of the Pod Security Standards evaluator: levels, policy versions,
// control ids and what a failed control reports. Pure data, no behaviour.

/** The three Pod Security Standards levels, from least to most strict. */
export type Level = 'privileged' | 'baseline' | 'restricted';
export const LEVELS: readonly Level[] = ['privileged', 'baseline', 'restricted'];

/** -1, 0 or 1 as `a` is less strict than, as strict as, or stricter than `b`. */
export function compareLevels(a: Level, b: Level): number {
  const d = LEVELS.indexOf(a) - LEVELS.indexOf(b);
  return d < 0 ? -1 : d > 0 ? 1 : 0;
}

/**
 * A policy version: `latest`, or the minor number N of `v1.N` (policy versions are all 1.x).
 * A number here is what a label pinned; resolution against a release happens in the evaluator.
 */
export type PolicyVersion = 'latest' | number;

/** `latest` or `v1.N`, as labels and messages write it. */
export function formatVersion(v: PolicyVersion): string {
  return v === 'latest' ? 'latest' : `v1.${v}`;
}

/** Control ids, exactly as the upstream library names its checks. */
export type ControlId =
  | 'appArmorProfile'
  | 'capabilities_baseline'
  | 'hostNamespaces'
  | 'hostPathVolumes'
  | 'hostPorts'
  | 'hostProbesAndHostLifecycle'
  | 'privileged'
  | 'procMount'
  | 'seLinuxOptions'
  | 'seccompProfile_baseline'
  | 'sysctls'
  | 'windowsHostProcess'
  | 'allowPrivilegeEscalation'
  | 'capabilities_restricted'
  | 'procMount_restricted'
  | 'restrictedVolumes'
  | 'runAsNonRoot'
  | 'runAsUser'
  | 'seccompProfile_restricted';

/** What one failed control says: a short reason and the detail the API server prints in parentheses. */
export interface Forbidden {
  readonly reason: string;
  readonly detail: string;
}

export interface Violation extends Forbidden {
  readonly control: ControlId;
}
