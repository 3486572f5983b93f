// The Pod Security Standards evaluator's public surface, for the CLI and the collector.
export { evaluate, resolveVersion, violationMessage, aggregateDetail, aggregateReasons, checksFor, MAX_POLICY_VERSION, DEFAULT_KUBERNETES_MINOR } from './evaluate.js';
export type { Evaluation, EvaluateOptions } from './evaluate.js';
export { readPod, PodReadError } from './pod.js';
export type { Pod } from './pod.js';
export { podSubject, isWorkloadKind, WORKLOAD_KINDS } from './workload.js';
export type { PodSubject, WorkloadKind } from './workload.js';
export { whatIf } from './whatif.js';
export type { WhatIfInput, WhatIfOptions, WhatIfReport, NamespaceReport, WorkloadReport, RejectionGroup } from './whatif.js';
export { readNamespacePolicy, parseLevel, parseVersion, formatLevelVersion, LABEL_PREFIX, LEVEL_LABEL, VERSION_LABEL, MODES, PRIVILEGED_DEFAULTS } from './namespace-labels.js';
export type { NamespacePolicy, LevelVersion, LabelError, Mode, PolicyDefaults } from './namespace-labels.js';
export { LEVELS, compareLevels, formatVersion } from './types.js';
export type { Level, PolicyVersion, ControlId, Violation, Forbidden } from './types.js';
export { CONTROLS } from './standard.js';
