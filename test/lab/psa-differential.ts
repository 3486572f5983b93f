// Differential Pod Security: generated pod specs are created with server-side dry-run in
// namespaces that enforce baseline and restricted at several pinned versions of the REAL
// kube-apiserver (test/lab/control-plane.ts), and netconform's evaluator (the code behind
// `netconform psa check` and the what-if) is asked the same question about the same object.
// Both answers are compared in full: allowed or not, and for a denial the API server's whole
// message — `pods "x" is forbidden: violates PodSecurity "restricted:v1.30": …` — against ours,
// which names the same controls in the same order with the same details.
//
// The pod specs come from test/lab/psa-pod-arbitrary.ts.
import { evaluate, violationMessage } from '../../psa/evaluate.js';
import { podSubject } from '../../psa/workload.js';
import { parseEnforceDenial } from '../../collector/audit/violations.js';
import type { ControlPlane, KubeObject } from './control-plane.js';
import { DIFFERENTIAL_LEVELS, DIFFERENTIAL_VERSIONS, type DiffCase, type DiffLevel, type DiffVersion, type Obj } from './psa-pod-arbitrary.js';
export { DIFFERENTIAL_LEVELS, DIFFERENTIAL_VERSIONS, generateCases, type DiffCase, type DiffLevel, type DiffVersion, type Obj } from './psa-pod-arbitrary.js';

// ---- the cluster side ----------------------------------------------------------------------

export function namespaceFor(level: DiffLevel, version: DiffVersion): string {
  return `diff-${level}-${version.replace('.', '-')}`;
}

/** Host pods for ephemeral cases: one with pod-level settings, one with container-level. */
export const HOST_PODS: readonly Obj[] = [
  {
    apiVersion: 'v1', kind: 'Pod', metadata: { name: 'host-pod-level' },
    spec: {
      securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [{ name: 'c0', image: 'registry.k8s.io/pause:3.10', securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } } }],
    },
  },
  {
    apiVersion: 'v1', kind: 'Pod', metadata: { name: 'host-container-level' },
    spec: {
      containers: [{ name: 'c0', image: 'registry.k8s.io/pause:3.10', securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' }, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } } }],
    },
  },
];

/** Namespaces enforcing each level at each version (and a `default` ServiceAccount), with the host pods. */
export async function prepareNamespaces(cp: ControlPlane): Promise<Map<string, Obj[]>> {
  const hosts = new Map<string, Obj[]>();
  for (const level of DIFFERENTIAL_LEVELS) {
    for (const version of DIFFERENTIAL_VERSIONS) {
      const ns = namespaceFor(level, version);
      await cp.createNamespace(ns, { 'pod-security.kubernetes.io/enforce': level, 'pod-security.kubernetes.io/enforce-version': version });
      const stored: Obj[] = [];
      for (const h of HOST_PODS) {
        stored.push(await cp.create<Obj>({ ...h, metadata: { ...(h.metadata as Obj), namespace: ns } }));
      }
      hosts.set(ns, stored);
    }
  }
  return hosts;
}

export type Outcome = { readonly status: 'allowed' } | { readonly status: 'denied'; readonly message: string; readonly controls?: readonly string[] } | { readonly status: 'invalid'; readonly message: string };

export interface Comparison {
  readonly index: number;
  readonly case: DiffCase;
  readonly level: DiffLevel;
  /** The object as sent (a Pod, or the host pod with the ephemeral containers). */
  readonly object: Obj;
  readonly server: Outcome;
  /** Our evaluator's outcome on the same object (never `invalid`). */
  readonly ours: Outcome;
  readonly agree: boolean;
}

/** What netconform says about `object` in a namespace enforcing level:version: the same sentence the API server writes. */
export function ourOutcome(object: Obj, level: DiffLevel, version: DiffVersion, kubernetesMinor: number): Outcome {
  const s = podSubject(object);
  if (!s) throw new Error('not a pod');
  const e = evaluate(s.pod, level, version === 'latest' ? 'latest' : Number(version.slice(3)), { kubernetesMinor });
  const m = violationMessage(e);
  return m === undefined ? { status: 'allowed' } : { status: 'denied', message: `pods "${s.name}" is forbidden: ${m}`, controls: e.violations.map((v) => v.control) };
}

function serverOutcome(r: { status: number; body: unknown }): Outcome {
  const message = typeof r.body === 'object' && r.body !== null && typeof (r.body as Obj).message === 'string' ? (r.body as { message: string }).message : JSON.stringify(r.body);
  if (r.status === 201 || r.status === 200) return { status: 'allowed' };
  // The controls as the collector reads them from a denial (collector/audit/violations.ts).
  if (r.status === 403) return { status: 'denied', message, controls: parseEnforceDenial(message)?.controls.map((c) => c.control) ?? [] };
  if (r.status === 422 || r.status === 400) return { status: 'invalid', message };
  throw new Error(`unexpected HTTP ${r.status}: ${message}`);
}

/** Sends one case to one namespace and compares. */
export async function runCase(cp: ControlPlane, hosts: ReadonlyMap<string, Obj[]>, c: DiffCase, index: number, level: DiffLevel, kubernetesMinor: number): Promise<Comparison> {
  const ns = namespaceFor(level, c.version);
  let object: Obj;
  let r: { status: number; body: unknown };
  if (c.kind === 'pod') {
    object = { ...c.pod, metadata: { ...(c.pod.metadata as Obj), name: `d-${index}`, namespace: ns } };
    r = await cp.request('POST', `/api/v1/namespaces/${ns}/pods?dryRun=All`, object);
  } else {
    const host = hosts.get(ns)![index % HOST_PODS.length]!;
    object = { ...host, spec: { ...(host.spec as Obj), ephemeralContainers: c.pod.ephemeralContainers } };
    const name = (host.metadata as { name: string }).name;
    r = await cp.request('PUT', `/api/v1/namespaces/${ns}/pods/${name}/ephemeralcontainers?dryRun=All`, object);
  }
  const server = serverOutcome(r);
  const ours = ourOutcome(object, level, c.version, kubernetesMinor);
  // Agreement: the same decision; for a denial the same sentence, and the same control ids
  // from the collector's parser of the server's sentence as from the evaluator.
  const agree = server.status === 'invalid' || (server.status === ours.status && (server.status !== 'denied' || ours.status !== 'denied' ||
    (server.message === ours.message && JSON.stringify(server.controls) === JSON.stringify(ours.controls))));
  return { index, case: c, level, object, server, ours, agree };
}

export interface DifferentialResult {
  readonly cases: number;
  readonly requests: number;
  readonly compared: number;
  readonly invalid: number;
  readonly allowed: number;
  readonly denied: number;
  readonly disagreements: readonly Comparison[];
  /** Every comparison, when asked for (keepAll). */
  readonly all?: readonly Comparison[];
  /** A sample of the API server's reasons for refusing generated specs as invalid. */
  readonly invalidSamples: readonly string[];
  /** Denials per control reason, as counted from the API server's messages. */
  readonly reasons: Readonly<Record<string, number>>;
  readonly seconds: number;
}

/** Runs every case at both levels with `concurrency` requests in flight. */
export async function runDifferential(cp: ControlPlane, cases: readonly DiffCase[], opts: { kubernetesMinor: number; concurrency?: number; keepAll?: boolean; onProgress?: (done: number) => void }): Promise<DifferentialResult> {
  const t0 = Date.now();
  const hosts = await prepareNamespaces(cp);
  const jobs: { c: DiffCase; index: number; level: DiffLevel }[] = [];
  cases.forEach((c, index) => { for (const level of DIFFERENTIAL_LEVELS) jobs.push({ c, index, level }); });
  const disagreements: Comparison[] = [];
  const all: Comparison[] = [];
  const invalidSamples: string[] = [];
  const reasons: Record<string, number> = {};
  let next = 0;
  let compared = 0;
  let invalid = 0;
  let allowed = 0;
  let denied = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < jobs.length) {
      const j = jobs[next++]!;
      const r = await runCase(cp, hosts, j.c, j.index, j.level, opts.kubernetesMinor);
      if (r.server.status === 'invalid') {
        invalid++;
        if (invalidSamples.length < 30) invalidSamples.push(r.server.message);
      } else {
        compared++;
        if (r.server.status === 'allowed') allowed++;
        else {
          denied++;
          for (const c of parseEnforceDenial(r.server.message)?.controls ?? []) reasons[c.reason] = (reasons[c.reason] ?? 0) + 1;
        }
      }
      if (!r.agree) disagreements.push(r);
      if (opts.keepAll) all.push(r);
      if (++done % 1000 === 0) opts.onProgress?.(done);
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency ?? 4 }, worker));
  return { cases: cases.length, requests: jobs.length, compared, invalid, allowed, denied, disagreements, invalidSamples, reasons, seconds: (Date.now() - t0) / 1000, ...(opts.keepAll ? { all } : {}) };
}

/** A disagreement as a regression case: the object, where it was sent, and what the API server said. */
export function regressionCase(d: Comparison): KubeObject {
  return {
    level: d.level, version: d.case.version, object: d.object,
    server: d.server.status === 'denied' ? d.server.message : d.server.status,
    ours: d.ours.status === 'denied' ? d.ours.message : d.ours.status,
  };
}
