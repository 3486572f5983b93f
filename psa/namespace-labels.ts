// How a namespace's pod-security.kubernetes.io/* labels become the policy the API server
// applies: enforce, audit and warn, each a level and a version. Mirrors the admission
// library's PolicyToEvaluate: a valid policy is always produced, even from bad labels —
// an invalid enforce level fails closed (restricted), an invalid audit or warn level fails
// open (privileged), an invalid version means latest — and each bad label is reported.
// Since Kubernetes 1.26, warn follows a valid enforce level when warn has no level label
// and enforce is the stricter (and its version too, unless warn-version is set).
// Pure: used by the evaluator's what-if and by the collector's label lint.
import { compareLevels, type Level, type PolicyVersion } from './types.js';

export const LABEL_PREFIX = 'pod-security.kubernetes.io/';

export type Mode = 'enforce' | 'audit' | 'warn';
export const MODES: readonly Mode[] = ['enforce', 'audit', 'warn'];

export const LEVEL_LABEL: Readonly<Record<Mode, string>> = {
  enforce: `${LABEL_PREFIX}enforce`,
  audit: `${LABEL_PREFIX}audit`,
  warn: `${LABEL_PREFIX}warn`,
};
export const VERSION_LABEL: Readonly<Record<Mode, string>> = {
  enforce: `${LABEL_PREFIX}enforce-version`,
  audit: `${LABEL_PREFIX}audit-version`,
  warn: `${LABEL_PREFIX}warn-version`,
};

export interface LevelVersion {
  readonly level: Level;
  readonly version: PolicyVersion;
}

/** One label the API server would refuse, with its message in the API server's words. */
export interface LabelError {
  readonly label: string;
  readonly value: string;
  /** e.g. `metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: "foo": must be one of privileged, baseline, restricted` */
  readonly message: string;
}

export interface NamespacePolicy {
  readonly enforce: LevelVersion;
  readonly audit: LevelVersion;
  readonly warn: LevelVersion;
  /** Which labels the namespace carries (whatever their value); the rest came from defaults or from enforce. */
  readonly labelled: Readonly<Record<Mode, { readonly level: boolean; readonly version: boolean }>>;
  /** True when warn took enforce's level because warn had no level label. */
  readonly warnFollowsEnforce: boolean;
  readonly errors: readonly LabelError[];
}

export interface PolicyDefaults {
  readonly enforce: LevelVersion;
  readonly audit: LevelVersion;
  readonly warn: LevelVersion;
}

/** The API server's out-of-the-box defaults: every mode privileged at latest. */
export const PRIVILEGED_DEFAULTS: PolicyDefaults = {
  enforce: { level: 'privileged', version: 'latest' },
  audit: { level: 'privileged', version: 'latest' },
  warn: { level: 'privileged', version: 'latest' },
};

const LEVEL_MESSAGE = 'must be one of privileged, baseline, restricted';
const VERSION_MESSAGE = 'must be "latest" or "v1.x"';
const VERSION_RE = /^v1\.([0-9]|[1-9][0-9]*)$/;

/** A level label value, or undefined when it is not exactly privileged, baseline or restricted. */
export function parseLevel(value: string): Level | undefined {
  return value === 'privileged' || value === 'baseline' || value === 'restricted' ? value : undefined;
}

/** A version label value (`latest` or `v1.N`, no leading zeros), or undefined when invalid. */
export function parseVersion(value: string): PolicyVersion | undefined {
  if (value === 'latest') return 'latest';
  const m = VERSION_RE.exec(value);
  if (!m) return undefined;
  const minor = Number(m[1]);
  return Number.isSafeInteger(minor) ? minor : undefined;
}

function invalid(label: string, value: string, why: string): LabelError {
  return { label, value, message: `metadata.labels[${label}]: Invalid value: "${value}": ${why}` };
}

/** The policy a namespace's labels ask for, falling back to `defaults` for missing labels. */
export function readNamespacePolicy(
  labels: Readonly<Record<string, string>> | undefined,
  defaults: PolicyDefaults = PRIVILEGED_DEFAULTS,
): NamespacePolicy {
  const errors: LabelError[] = [];
  const out: Record<Mode, { level: Level; version: PolicyVersion }> = {
    enforce: { ...defaults.enforce },
    audit: { ...defaults.audit },
    warn: { ...defaults.warn },
  };
  const labelled = {
    enforce: { level: false, version: false },
    audit: { level: false, version: false },
    warn: { level: false, version: false },
  };
  let enforceLevelValid = false;
  for (const mode of MODES) {
    const levelValue = labels?.[LEVEL_LABEL[mode]];
    if (levelValue !== undefined) {
      labelled[mode].level = true;
      const level = parseLevel(levelValue);
      if (level === undefined) errors.push(invalid(LEVEL_LABEL[mode], levelValue, LEVEL_MESSAGE));
      // Fail closed for enforce, open for audit and warn.
      out[mode].level = level ?? (mode === 'enforce' ? 'restricted' : 'privileged');
      if (mode === 'enforce') enforceLevelValid = level !== undefined;
    }
    const versionValue = labels?.[VERSION_LABEL[mode]];
    if (versionValue !== undefined) {
      labelled[mode].version = true;
      const version = parseVersion(versionValue);
      if (version === undefined) errors.push(invalid(VERSION_LABEL[mode], versionValue, VERSION_MESSAGE));
      out[mode].version = version ?? 'latest';
    }
  }
  let warnFollowsEnforce = false;
  if (!labelled.warn.level && enforceLevelValid && compareLevels(out.enforce.level, out.warn.level) > 0) {
    warnFollowsEnforce = true;
    out.warn.level = out.enforce.level;
    if (!labelled.warn.version) out.warn.version = out.enforce.version;
  }
  return { enforce: out.enforce, audit: out.audit, warn: out.warn, labelled, warnFollowsEnforce, errors };
}

/** `baseline:v1.30`, `restricted:latest` — as messages and annotations write a policy. */
export function formatLevelVersion(lv: LevelVersion): string {
  return `${lv.level}:${lv.version === 'latest' ? 'latest' : `v1.${lv.version}`}`;
}
