// Command-line flags for Pod Security levels and versions, shared by the CLI and the
// collector. Errors name the flag.
import { UsageError } from '../common/errors.js';
import { choice, str, type Parsed } from '../common/cli.js';
import { DEFAULT_KUBERNETES_MINOR } from './evaluate.js';
import { parseLevel, parseVersion } from './namespace-labels.js';
import type { Level, PolicyVersion } from './types.js';

export function levelFlag(value: string | undefined): Level {
  if (value === undefined) throw new UsageError('required: privileged, baseline or restricted', '--level');
  const level = parseLevel(value);
  if (!level) throw new UsageError(`"${value}" is not one of privileged, baseline, restricted`, '--level');
  return level;
}

export function versionFlag(value: string | undefined, flag = '--version'): PolicyVersion {
  if (value === undefined) return 'latest';
  const v = parseVersion(value);
  if (v === undefined) throw new UsageError(`"${value}" must be "latest" or "v1.N" (as in the namespace label)`, flag);
  return v;
}

/** `1.30`, `v1.30` or `1.30.2` → 30. */
export function kubernetesMinorFlag(value: string | undefined): number {
  if (value === undefined) return DEFAULT_KUBERNETES_MINOR;
  const m = /^v?1\.(0|[1-9][0-9]*)(\.[0-9]+)?$/.exec(value);
  if (!m) throw new UsageError(`"${value}" is not a Kubernetes version like 1.30`, '--kubernetes-version');
  return Number(m[1]);
}

/** Flags every `netconform psa` evaluation command takes. */
export const PSA_EVAL_FLAGS = {
  level: { type: 'string' },
  version: { type: 'string' },
  'kubernetes-version': { type: 'string' },
  output: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export interface PsaEvalFlags {
  readonly level: Level;
  readonly version: PolicyVersion;
  readonly kubernetesMinor: number;
  readonly output: 'table' | 'json';
}

export function readPsaEvalFlags(p: Parsed): PsaEvalFlags {
  return {
    level: levelFlag(str(p, 'level')),
    version: versionFlag(str(p, 'version')),
    kubernetesMinor: kubernetesMinorFlag(str(p, 'kubernetes-version')),
    output: choice(str(p, 'output'), ['table', 'json'] as const, '--output', 'table'),
  };
}
