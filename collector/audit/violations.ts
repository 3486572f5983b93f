// Reads what Pod Security Admission writes into an audit event back into data:
//   audit-violations:  would violate PodSecurity "restricted:latest": <reason> (<detail>), <reason> (<detail>)
//   enforce denial:    pods "x" is forbidden: violates PodSecurity "baseline:v1.30": <reason> (<detail>), …
// The aggregate is each failed check's `<reason> (<detail>)` (or a bare `<reason>` when the
// detail is empty) joined by ", ". Details themselves contain ", " (`containers "a", "b"`),
// so the split follows parentheses, never commas. A reason this table does not know (a
// control added after this code) is kept verbatim with control id `unknown`: never dropped.
// Pure and synchronous.
import type { ControlId } from '../../psa/types.js';
import { parseLevel, parseVersion } from '../../psa/namespace-labels.js';

export interface ViolatedControl {
  /** Pod Security Standards check id, or `unknown` for a reason this version cannot name. */
  readonly control: ControlId | 'unknown';
  /** The reason as the API server wrote it, e.g. `allowPrivilegeEscalation != false`. */
  readonly reason: string;
  /** The text in parentheses, verbatim ("" when none). */
  readonly detail: string;
  /** Container names the detail names (`container "a"`, `containers "a", "b"`). */
  readonly containers: readonly string[];
}

export interface PodSecurityViolations {
  /** `privileged | baseline | restricted`, or `unknown` when the annotation names something else. */
  readonly level: string;
  /** `latest` or `v1.N` as written, or `unknown`. */
  readonly version: string;
  readonly controls: readonly ViolatedControl[];
}

/**
 * Reason → control id. Two reasons are shared by a baseline check and the restricted check
 * that overrides it (`seccompProfile`, `procMount`); the level and version decide which.
 */
const REASONS: Readonly<Record<string, ControlId | ((level: string, minor: number) => ControlId)>> = {
  'forbidden AppArmor profile': 'appArmorProfile',
  'forbidden AppArmor profiles': 'appArmorProfile',
  'non-default capabilities': 'capabilities_baseline',
  'host namespaces': 'hostNamespaces',
  'hostPath volumes': 'hostPathVolumes',
  hostPort: 'hostPorts',
  'probe or lifecycle host': 'hostProbesAndHostLifecycle',
  'probe or lifecycle hosts': 'hostProbesAndHostLifecycle',
  privileged: 'privileged',
  procMount: (level, minor) => (level === 'restricted' && minor >= 35 ? 'procMount_restricted' : 'procMount'),
  seLinuxOptions: 'seLinuxOptions',
  seccompProfile: (level, minor) => (level === 'restricted' && minor >= 19 ? 'seccompProfile_restricted' : 'seccompProfile_baseline'),
  'forbidden sysctls': 'sysctls',
  hostProcess: 'windowsHostProcess',
  'allowPrivilegeEscalation != false': 'allowPrivilegeEscalation',
  'unrestricted capabilities': 'capabilities_restricted',
  'restricted volume types': 'restrictedVolumes',
  'runAsNonRoot != true': 'runAsNonRoot',
  'runAsUser=0': 'runAsUser',
};

/** The control a reason stands for at a level and version (`latest` = the newest policy). */
export function controlForReason(reason: string, level: string, version: string): ControlId | 'unknown' {
  const entry = REASONS[reason];
  if (entry === undefined) return 'unknown';
  if (typeof entry === 'string') return entry;
  const v = parseVersion(version);
  return entry(level, v === undefined || v === 'latest' ? Number.MAX_SAFE_INTEGER : v);
}

const CONTAINERS_RE = /\bcontainers? ((?:"[^"]*"(?:, (?="))?)+)/g;

/** Container names a detail mentions, in order, unique. */
export function containersIn(detail: string): string[] {
  const out: string[] = [];
  for (const m of detail.matchAll(CONTAINERS_RE)) {
    for (const q of m[1]!.matchAll(/"([^"]*)"/g)) if (!out.includes(q[1]!)) out.push(q[1]!);
  }
  return out;
}

/** Splits `<reason> (<detail>), <reason>, …` following parentheses. */
export function splitAggregate(text: string): { reason: string; detail: string }[] {
  const out: { reason: string; detail: string }[] = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    while (text[i] === ' ') i++;
    if (i >= n) break;
    // Reason: up to " (" or ", " at top level.
    let j = i;
    while (j < n && text[j] !== '(' && !(text[j] === ',' && text[j + 1] === ' ')) j++;
    const reason = text.slice(i, j).trim();
    if (j >= n || text[j] === ',') {
      if (reason) out.push({ reason, detail: '' });
      i = j + 2;
      continue;
    }
    // Detail: to the matching ")" that ends the text or is followed by ", ".
    let depth = 0;
    let k = j;
    let end = -1;
    for (; k < n; k++) {
      const c = text[k];
      if (c === '(') depth++;
      else if (c === ')') {
        depth--;
        if (depth <= 0 && (k + 1 === n || (text[k + 1] === ',' && text[k + 2] === ' '))) {
          end = k;
          break;
        }
      }
    }
    if (end < 0) {
      // Unbalanced (a truncated annotation): keep the rest verbatim.
      out.push({ reason, detail: text.slice(j + 1) });
      break;
    }
    out.push({ reason, detail: text.slice(j + 1, end) });
    i = end + 3;
  }
  return out;
}

function parsePolicyRef(ref: string): { level: string; version: string } {
  const colon = ref.indexOf(':');
  const levelText = colon < 0 ? ref : ref.slice(0, colon);
  const versionText = colon < 0 ? '' : ref.slice(colon + 1);
  return {
    level: parseLevel(levelText) ?? 'unknown',
    version: parseVersion(versionText) !== undefined ? versionText : 'unknown',
  };
}

function parseAfterMarker(text: string, at: number, markerLength: number): PodSecurityViolations | undefined {
  const start = at + markerLength;
  const close = text.indexOf('"', start);
  if (close < 0) return undefined;
  const { level, version } = parsePolicyRef(text.slice(start, close));
  let rest = text.slice(close + 1);
  rest = rest.startsWith(': ') ? rest.slice(2) : rest.replace(/^:?\s*/, '');
  const controls = splitAggregate(rest).map(({ reason, detail }) => ({
    control: controlForReason(reason, level, version), reason, detail, containers: containersIn(detail),
  }));
  return { level, version, controls };
}

const AUDIT_MARKER = 'would violate PodSecurity "';
const ENFORCE_MARKER = 'violates PodSecurity "';

/** Parses an `audit-violations` annotation value; undefined when it is not one. */
export function parseAuditViolations(value: string): PodSecurityViolations | undefined {
  const at = value.indexOf(AUDIT_MARKER);
  return at < 0 ? undefined : parseAfterMarker(value, at, AUDIT_MARKER.length);
}

/** Parses a 403 status message `… is forbidden: violates PodSecurity "L:V": …`; undefined otherwise. */
export function parseEnforceDenial(message: string): PodSecurityViolations | undefined {
  let from = 0;
  for (;;) {
    const at = message.indexOf(ENFORCE_MARKER, from);
    if (at < 0) return undefined;
    if (!message.slice(Math.max(0, at - 6), at).endsWith('would ')) return parseAfterMarker(message, at, ENFORCE_MARKER.length);
    from = at + ENFORCE_MARKER.length;
  }
}
