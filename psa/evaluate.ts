// The evaluator: assembles the table in standard.ts into one ordered list of checks per
// level and policy version (validated once, as the library's registry does), resolves
// `latest` against a Kubernetes minor version, and writes results in the API server's words.
// Pure and synchronous.
import type { Pod } from './pod.js';
import { CONTROLS, type CheckFn, type Control } from './standard.js';
import { formatVersion, type ControlId, type Level, type PolicyVersion, type Violation } from './types.js';

/** The newest policy version any control defines: what `latest` means to this evaluator. */
export const MAX_POLICY_VERSION: number = validate(CONTROLS);

/** The Kubernetes minor version assumed when none is configured (1.N → N). */
export const DEFAULT_KUBERNETES_MINOR = MAX_POLICY_VERSION;

export interface EvaluateOptions {
  /** The cluster's Kubernetes minor version (1.N → N); resolves `latest`. Default: DEFAULT_KUBERNETES_MINOR. */
  readonly kubernetesMinor?: number;
}

export interface Evaluation {
  readonly allowed: boolean;
  readonly level: Level;
  /** The version as asked for (a label value): `latest` stays `latest`, as the API server writes it. */
  readonly version: PolicyVersion;
  /** The policy version whose checks ran (minor N of v1.N); undefined for privileged. */
  readonly evaluatedVersion: number | undefined;
  /** In the library's order: baseline controls by id, then restricted controls by id. */
  readonly violations: readonly Violation[];
}

function validate(controls: readonly Control[]): number {
  const ids = new Set<string>();
  let max = 0;
  for (const c of controls) {
    if (ids.has(c.id)) throw new Error(`psa: control ${c.id} declared twice`);
    ids.add(c.id);
    if (c.versions.length === 0) throw new Error(`psa: control ${c.id} has no versions`);
    let last = -1;
    for (const v of c.versions) {
      if (!Number.isInteger(v.since) || v.since <= last) throw new Error(`psa: control ${c.id}: versions must be strictly increasing`);
      last = v.since;
      for (const o of v.overrides ?? []) {
        const target = controls.find((x) => x.id === o);
        if (c.level !== 'restricted' || !target || target.level !== 'baseline') {
          throw new Error(`psa: control ${c.id}: only a restricted control may override a baseline one (${o})`);
        }
      }
    }
    max = Math.max(max, last);
  }
  return max;
}

/** Go's byte-order sort of check ids: capitals first, so seLinuxOptions before seccompProfile_baseline. */
const byId = (a: Control, b: Control): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
const BASELINE = CONTROLS.filter((c) => c.level === 'baseline').sort(byId);
const RESTRICTED = CONTROLS.filter((c) => c.level === 'restricted').sort(byId);

interface Step {
  readonly id: ControlId;
  readonly check: CheckFn;
}

function implementationAt(c: Control, version: number): Control['versions'][number] | undefined {
  let found: Control['versions'][number] | undefined;
  for (const v of c.versions) if (v.since <= version) found = v;
  return found;
}

const plans = new Map<string, readonly Step[]>();

/** The ordered checks for a level at a concrete policy version (cached). */
export function checksFor(level: 'baseline' | 'restricted', version: number): readonly Step[] {
  const key = `${level}:${version}`;
  const cached = plans.get(key);
  if (cached) return cached;
  const restricted: Step[] = [];
  const overridden = new Set<ControlId>();
  if (level === 'restricted') {
    for (const c of RESTRICTED) {
      const impl = implementationAt(c, version);
      if (!impl) continue;
      restricted.push({ id: c.id, check: impl.check });
      for (const o of impl.overrides ?? []) overridden.add(o);
    }
  }
  const steps: Step[] = [];
  for (const c of BASELINE) {
    const impl = implementationAt(c, version);
    if (impl && !overridden.has(c.id)) steps.push({ id: c.id, check: impl.check });
  }
  steps.push(...restricted);
  plans.set(key, steps);
  return steps;
}

/**
 * The policy version a request for `version` runs on a cluster of the given minor:
 * `latest`, or any version newer than the cluster's newest policy, means that newest policy
 * (a release never knows policies newer than itself).
 */
export function resolveVersion(version: PolicyVersion, kubernetesMinor: number = DEFAULT_KUBERNETES_MINOR): number {
  const newest = Math.min(MAX_POLICY_VERSION, kubernetesMinor);
  return version === 'latest' ? newest : Math.min(version, newest);
}

/** Evaluates a pod (or pod template) against a level at a version, as the API server would. */
export function evaluate(pod: Pod, level: Level, version: PolicyVersion, opts: EvaluateOptions = {}): Evaluation {
  if (level === 'privileged') return { allowed: true, level, version, evaluatedVersion: undefined, violations: [] };
  const evaluatedVersion = resolveVersion(version, opts.kubernetesMinor);
  const violations: Violation[] = [];
  for (const step of checksFor(level, evaluatedVersion)) {
    const r = step.check(pod);
    if (r) violations.push({ control: step.id, reason: r.reason, detail: r.detail });
  }
  return { allowed: violations.length === 0, level, version, evaluatedVersion, violations };
}

/** `reason (detail), reason (detail)` — the aggregate the API server puts after the colon. */
export function aggregateDetail(violations: readonly Violation[]): string {
  return violations
    .map((v) => {
      const reason = v.reason === '' ? 'unknown forbidden reason' : v.reason;
      return v.detail === '' ? reason : `${reason} (${v.detail})`;
    })
    .join(', ');
}

/** `reason, reason` — the reasons alone, as namespace dry-run warnings list them. */
export function aggregateReasons(violations: readonly Violation[]): string {
  return violations.map((v) => (v.reason === '' ? 'unknown forbidden reason' : v.reason)).join(', ');
}

/** `violates PodSecurity "restricted:v1.30": …` — the enforce error's sentence; undefined when allowed. */
export function violationMessage(e: Evaluation): string | undefined {
  if (e.allowed) return undefined;
  return `violates PodSecurity "${e.level}:${formatVersion(e.version)}": ${aggregateDetail(e.violations)}`;
}
