// "What would a stricter label reject?" — for each namespace: its current Pod Security
// labels, what the proposed level:version would reject among its pods and workload
// templates, grouped by the workload that owns them, and the label set we recommend: the
// strictest level that rejects nothing at a pinned version, with audit and warn one level
// stricter (the seed's advice: enforce what passes, watch the next step).
// Pure and synchronous: the CLI calls it on a cluster file, the collector on its watch cache.
import {
  evaluate, resolveVersion, violationMessage, type EvaluateOptions,
} from './evaluate.js';
import { LEVEL_LABEL, LABEL_PREFIX, readNamespacePolicy, VERSION_LABEL, formatLevelVersion, type LabelError } from './namespace-labels.js';
import { PodReadError, type Pod } from './pod.js';
import { LEVELS, formatVersion, type Level, type PolicyVersion, type Violation } from './types.js';
import { podSubject, type WorkloadKind } from './workload.js';

export interface WhatIfInput {
  readonly namespaces: readonly { readonly name: string; readonly labels: Readonly<Record<string, string>> }[];
  /** Raw Pod and workload objects (ClusterContext.workloads); other kinds are ignored. */
  readonly objects: readonly unknown[];
}

export interface WhatIfOptions extends EvaluateOptions {
  readonly level: Level;
  readonly version?: PolicyVersion;
  /** Only this namespace. */
  readonly namespace?: string;
}

/** Pods or templates of one workload that fail alike. */
export interface RejectionGroup {
  /** Pods that fail with this message (templates not counted). */
  readonly pods: number;
  /** Whether the workload's own template fails with this message. */
  readonly template: boolean;
  /** The lexically smallest pod name in the group, as the API server's dry-run names one. */
  readonly example: string;
  readonly violations: readonly Violation[];
  /** `violates PodSecurity "level:version": …` */
  readonly message: string;
}

export interface WorkloadReport {
  /** The top-level owner (Deployment, CronJob, …), or the Pod itself when it has none. */
  readonly kind: string;
  readonly name: string;
  /** Pods seen for this workload. */
  readonly pods: number;
  /** Pods the proposed level would reject. */
  readonly rejectedPods: number;
  /** Whether the workload's template (when the input holds it) would be rejected: future pods would be. */
  readonly templateRejected: boolean | undefined;
  readonly rejections: readonly RejectionGroup[];
}

export interface NamespaceReport {
  readonly namespace: string;
  /** The namespace's pod-security.kubernetes.io/* labels as they are. */
  readonly labels: Readonly<Record<string, string>>;
  /** `level:version` per mode as the API server reads the labels today. */
  readonly current: { readonly enforce: string; readonly audit: string; readonly warn: string };
  readonly labelErrors: readonly LabelError[];
  /** `level:version` proposed. */
  readonly proposed: string;
  readonly pods: number;
  readonly rejectedPods: number;
  readonly workloads: number;
  readonly rejectedWorkloads: number;
  /** Only workloads with something rejected, sorted by kind then name. */
  readonly rejected: readonly WorkloadReport[];
  /** Whether every pod and template passes each level at the pinned version. */
  readonly passes: Readonly<Record<Level, boolean>>;
  /** Labels to set: strictest passing level for enforce, one level stricter for audit and warn, versions pinned. */
  readonly recommended: Readonly<Record<string, string>>;
}

export interface WhatIfReport {
  readonly proposed: { readonly level: Level; readonly version: string; readonly evaluatedVersion: string };
  /** The pinned version recommendations use (v1.N, never latest). */
  readonly pinnedVersion: string;
  readonly namespaces: readonly NamespaceReport[];
  /** Objects that could not be read, with the field at fault; they are left out of the counts. */
  readonly unreadable: readonly { readonly kind: string; readonly namespace: string; readonly name: string; readonly error: string }[];
}

interface Item {
  readonly isTemplate: boolean;
  readonly name: string;
  readonly pod: Pod;
}

interface Group {
  kind: string;
  name: string;
  items: Item[];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function psaLabels(labels: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(labels).sort(cmp)) if (k.startsWith(LABEL_PREFIX)) out[k] = labels[k]!;
  return out;
}

/** Evaluates the proposed level over every namespace's pods and workload templates. */
export function whatIf(input: WhatIfInput, opts: WhatIfOptions): WhatIfReport {
  const version = opts.version ?? 'latest';
  const pinned = resolveVersion(version, opts.kubernetesMinor);
  const evalOpts: EvaluateOptions = { kubernetesMinor: opts.kubernetesMinor };
  const unreadable: WhatIfReport['unreadable'][number][] = [];

  // Identity of every object by uid, so pods can be walked up to their top-level owner
  // (Pod → ReplicaSet → Deployment, Pod → Job → CronJob).
  const byUid = new Map<string, { kind: string; name: string; owner: { kind: string; name: string; uid: string } | undefined }>();
  const subjects: { kind: WorkloadKind; namespace: string; name: string; uid: string; owner: { kind: string; name: string; uid: string } | undefined; pod: Pod }[] = [];
  for (const o of input.objects) {
    try {
      const s = podSubject(o);
      if (!s) continue;
      subjects.push(s);
      if (s.uid) byUid.set(s.uid, { kind: s.kind, name: s.name, owner: s.owner });
    } catch (err) {
      if (!(err instanceof PodReadError)) throw err;
      const meta = isObj(o) && isObj(o['metadata']) ? o['metadata'] : {};
      unreadable.push({ kind: isObj(o) ? str(o['kind']) : '', namespace: str(meta['namespace']), name: str(meta['name']), error: err.message });
    }
  }

  const topOwner = (s: (typeof subjects)[number]): { kind: string; name: string } => {
    let cur: { kind: string; name: string; owner: { kind: string; name: string; uid: string } | undefined } = s;
    for (let hops = 0; cur.owner && hops < 8; hops++) {
      const next = (cur.owner.uid && byUid.get(cur.owner.uid)) || undefined;
      if (!next) {
        // The owner's object is not in the input: a ReplicaSet named <deployment>-<hash> is
        // still the Deployment's, as far as a person reading the report cares.
        if (cur.owner.kind === 'ReplicaSet') {
          const m = /^(.*)-[a-z0-9]{5,10}$/.exec(cur.owner.name);
          return m ? { kind: 'Deployment', name: m[1]! } : { kind: cur.owner.kind, name: cur.owner.name };
        }
        return { kind: cur.owner.kind, name: cur.owner.name };
      }
      cur = next;
    }
    return { kind: cur.kind, name: cur.name };
  };

  const groupsByNs = new Map<string, Map<string, Group>>();
  for (const s of subjects) {
    const namespace = s.namespace || 'default';
    if (opts.namespace !== undefined && namespace !== opts.namespace) continue;
    const owner = topOwner(s);
    let groups = groupsByNs.get(namespace);
    if (!groups) groupsByNs.set(namespace, (groups = new Map()));
    const key = `${owner.kind}/${owner.name}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { kind: owner.kind, name: owner.name, items: [] }));
    // Only the top-level workload's own template speaks for future pods; intermediate
    // ReplicaSets/Jobs are history and would double count.
    const isTemplate = s.kind !== 'Pod';
    if (isTemplate && (s.kind !== owner.kind || s.name !== owner.name)) continue;
    g.items.push({ isTemplate, name: s.name, pod: s.pod });
  }

  const namespaceNames = new Set<string>(groupsByNs.keys());
  const labelsByNs = new Map<string, Readonly<Record<string, string>>>();
  for (const ns of input.namespaces) {
    if (opts.namespace !== undefined && ns.name !== opts.namespace) continue;
    namespaceNames.add(ns.name);
    labelsByNs.set(ns.name, ns.labels);
  }

  const reports: NamespaceReport[] = [];
  for (const namespace of [...namespaceNames].sort(cmp)) {
    const labels = labelsByNs.get(namespace) ?? {};
    const policy = readNamespacePolicy(labels);
    const groups = [...(groupsByNs.get(namespace)?.values() ?? [])].sort((a, b) => cmp(a.kind, b.kind) || cmp(a.name, b.name));
    const passes: Record<Level, boolean> = { privileged: true, baseline: true, restricted: true };
    let pods = 0;
    let rejectedPods = 0;
    const rejected: WorkloadReport[] = [];
    for (const g of groups) {
      const byMessage = new Map<string, { pods: number; template: boolean; example: string; violations: readonly Violation[] }>();
      let groupPods = 0;
      let groupRejected = 0;
      let templateRejected: boolean | undefined;
      for (const item of g.items) {
        if (!item.isTemplate) groupPods++;
        for (const level of ['baseline', 'restricted'] as const) {
          if (passes[level] && !evaluate(item.pod, level, pinned, evalOpts).allowed) passes[level] = false;
        }
        const e = evaluate(item.pod, opts.level, version, evalOpts);
        if (item.isTemplate) templateRejected = !e.allowed;
        if (e.allowed) continue;
        if (!item.isTemplate) groupRejected++;
        const message = violationMessage(e)!;
        const entry = byMessage.get(message);
        if (!entry) {
          byMessage.set(message, { pods: item.isTemplate ? 0 : 1, template: item.isTemplate, example: item.isTemplate ? '' : item.name, violations: e.violations });
        } else {
          if (item.isTemplate) entry.template = true;
          else {
            entry.pods++;
            if (entry.example === '' || cmp(item.name, entry.example) < 0) entry.example = item.name;
          }
        }
      }
      pods += groupPods;
      rejectedPods += groupRejected;
      if (byMessage.size > 0) {
        rejected.push({
          kind: g.kind,
          name: g.name,
          pods: groupPods,
          rejectedPods: groupRejected,
          templateRejected,
          rejections: [...byMessage.entries()]
            .map(([message, r]) => ({ pods: r.pods, template: r.template, example: r.example, violations: r.violations, message }))
            .sort((a, b) => b.pods - a.pods || cmp(a.message, b.message)),
        });
      }
    }
    const strictest: Level = passes.restricted ? 'restricted' : passes.baseline ? 'baseline' : 'privileged';
    const watch: Level = LEVELS[Math.min(LEVELS.indexOf(strictest) + 1, LEVELS.length - 1)]!;
    const pinnedLabel = formatVersion(pinned);
    reports.push({
      namespace,
      labels: psaLabels(labels),
      current: {
        enforce: formatLevelVersion(policy.enforce),
        audit: formatLevelVersion(policy.audit),
        warn: formatLevelVersion(policy.warn),
      },
      labelErrors: policy.errors,
      proposed: `${opts.level}:${formatVersion(version)}`,
      pods,
      rejectedPods,
      workloads: groups.length,
      rejectedWorkloads: rejected.length,
      rejected,
      passes,
      recommended: {
        [LEVEL_LABEL.enforce]: strictest,
        [VERSION_LABEL.enforce]: pinnedLabel,
        [LEVEL_LABEL.audit]: watch,
        [VERSION_LABEL.audit]: pinnedLabel,
        [LEVEL_LABEL.warn]: watch,
        [VERSION_LABEL.warn]: pinnedLabel,
      },
    });
  }
  return {
    proposed: { level: opts.level, version: formatVersion(version), evaluatedVersion: opts.level === 'privileged' ? formatVersion(version) : formatVersion(pinned) },
    pinnedVersion: formatVersion(pinned),
    namespaces: reports,
    unreadable,
  };
}
