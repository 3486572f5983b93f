// Pod Security end to end with the real components: the real kube-apiserver (1.37.2) admits
// pods and workloads in namespaces labelled at several levels, modes and pinned versions, and
// its real audit webhook backend (batch mode, our shipped audit policy) delivers the events to
// the collector over loopback mTLS (the API server's client certificate signed by the cluster
// CA, which the collector requires). What the collector then says — netconform_psa_* metrics,
// `netconform psa`, its store and the namespace PolicyReports it writes back through the same
// API server — must equal what the API server decided and told the client (403 messages,
// Warning headers). Then the collector is SIGKILLed while batches are in flight: the API
// server's webhook retries, and after a restart on the same port and database every event is
// stored exactly once.
import test from 'ava';
import Database from 'better-sqlite3';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ControlPlane, type KubeObject, type KubeResponse } from './lab/control-plane.js';
import { freePort } from './support/net.js';
import { eventually, runProgram, sample, scrape, startCollectorProcess, ROOT } from './support/processes.js';
import { makeTls, type Tls } from './fixtures/audit/helpers.js';
import { evaluate, violationMessage } from '../psa/evaluate.js';
import { podSubject } from '../psa/workload.js';
import type { Level, PolicyVersion } from '../psa/types.js';

type Obj = Record<string, unknown>;
const POLICY_SCHEMA = JSON.parse(readFileSync(new URL('./fixtures/policyreport/clusterpolicyreport.schema.json', import.meta.url), 'utf8')) as Obj;
const AUDIT_POLICY = parse(readFileSync(join(ROOT, 'manifests/audit/audit-policy.yaml'), 'utf8')) as KubeObject;

let tls: Tls;
let dir: string;
let cp: ControlPlane;
let port: number;
let db: string;

type Collector = Awaited<ReturnType<typeof startCollectorProcess>>;
let collector: Collector;

function startCollector(): Promise<Collector> {
  return startCollectorProcess([
    '--db', db, '--audit-listen', `127.0.0.1:${port}`, '--audit-tls-cert', tls.serverCert, '--audit-tls-key', tls.serverKey,
    '--audit-client-ca', cp.caFile, '--kubeconfig', cp.adminKubeconfig, '--kubernetes-version', '1.37',
    '--policy-reports', 'wgpolicyk8s', '--policy-report-interval', '1s',
  ]);
}

/**
 * A CRD from the PolicyReport schema the tests keep: its $refs inlined and its `metadata`
 * left to the API server (CRD schemas may have neither).
 */
function policyReportCrd(kind: string, plural: string, scope: 'Namespaced' | 'Cluster'): KubeObject {
  const defs = POLICY_SCHEMA['definitions'] as Record<string, unknown>;
  const inline = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(inline);
    if (typeof v !== 'object' || v === null) return v;
    const o = v as Obj;
    if (typeof o['$ref'] === 'string') return inline(defs[(o['$ref'] as string).split('/').pop()!]);
    return Object.fromEntries(Object.entries(o).filter(([k]) => k !== 'definitions').map(([k, x]) => [k, inline(x)]));
  };
  const schema = inline(POLICY_SCHEMA) as { properties: Obj; required: string[] };
  delete schema.properties['metadata'];
  schema.required = schema.required.filter((r) => r !== 'metadata');
  return {
    apiVersion: 'apiextensions.k8s.io/v1', kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.wgpolicyk8s.io` },
    spec: {
      group: 'wgpolicyk8s.io', scope,
      names: { kind, plural, singular: kind.toLowerCase(), listKind: `${kind}List` },
      versions: [{ name: 'v1alpha2', served: true, storage: true, schema: { openAPIV3Schema: schema } }],
    },
  };
}

test.before(async () => {
  tls = makeTls();
  dir = mkdtempSync(join(tmpdir(), 'nc-psa-e2e-'));
  db = join(dir, 'netconform.db');
  port = await freePort();
  // The webhook URL is fixed when the API server starts, and the collector needs the API
  // server (its CA for mTLS, its API for namespaces and PolicyReports): the port is chosen
  // first, the API server pointed at it, then the collector started on it.
  cp = await ControlPlane.start({
    auditWebhook: { url: `https://127.0.0.1:${port}/audit/webhook`, caFile: tls.caCert, mode: 'batch', batchMaxWait: '1s', initialBackoff: '5s' },
    auditPolicy: AUDIT_POLICY,
    podSecurityExemptions: { namespaces: ['e2e-exempt'], usernames: ['exempt-user'] },
  });
  await cp.create(policyReportCrd('PolicyReport', 'policyreports', 'Namespaced'));
  await cp.create(policyReportCrd('ClusterPolicyReport', 'clusterpolicyreports', 'Cluster'));
  collector = await startCollector();
});
test.after.always(async () => {
  await collector?.stop('SIGKILL');
  await cp?.stop();
  if (tls) rmSync(tls.dir, { recursive: true, force: true });
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const IMAGE = 'registry.k8s.io/pause:3.10';
function plainPod(name: string): Obj {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { containers: [{ name: 'app', image: IMAGE }] } };
}
function privilegedPod(name: string): Obj {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name }, spec: { containers: [{ name: 'app', image: IMAGE, securityContext: { privileged: true } }], volumes: [{ name: 'host', hostPath: { path: '/var/log' } }] } };
}
function restrictedPod(name: string): Obj {
  return {
    apiVersion: 'v1', kind: 'Pod', metadata: { name },
    spec: {
      securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [{ name: 'app', image: IMAGE, securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } } }],
    },
  };
}

/** Our evaluator's words for a pod at level:version (what the server must have written). */
function ours(pod: Obj, level: Level, version: PolicyVersion): string | undefined {
  return violationMessage(evaluate(podSubject(pod)!.pod, level, version, { kubernetesMinor: 37 }));
}
/** The same as a warning or audit annotation says it: `would violate PodSecurity …`. */
function wouldViolate(pod: Obj, level: Level, version: PolicyVersion): string {
  return `would ${ours(pod, level, version)!.replace(/^violates /, 'violate ')}`;
}

async function createPod(ns: string, pod: Obj, as?: { cert: string; key: string }): Promise<KubeResponse<{ message?: string }>> {
  return cp.request('POST', `/api/v1/namespaces/${ns}/pods`, { ...pod, metadata: { ...(pod.metadata as Obj), namespace: ns } }, as ? { as } : {});
}

interface Summary {
  eventsStored: number;
  namespaces: { namespace: string; auditViolations: number; enforceDenials: number; exemptions: number; errors: number }[];
  controls: { namespace: string; mode: string; level: string; control: string; count: number }[];
  modes: { namespace: string; enforce: string; enforceVersion: string; audit: string; auditVersion: string; warn: string; warnVersion: string; warnFollowsEnforce: boolean }[];
}
async function psaSummary(): Promise<Summary> {
  const r = await runProgram('cli', ['psa', '--collector', collector.address, '--output', 'json']);
  if (r.code !== 0 && r.code !== 1) throw new Error(`netconform psa exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Summary;
}

function storedRows(sql: string, ...params: unknown[]): Obj[] {
  const d = new Database(db, { readonly: true, fileMustExist: true });
  try {
    return d.prepare(sql).all(...params) as Obj[];
  } finally {
    d.close();
  }
}

test.serial('what the API server decided is what the collector counts, serves and reports', async (t) => {
  t.timeout(240_000);
  // Several levels, modes and pinned versions; one namespace exempt by configuration.
  await cp.createNamespace('e2e-base', {
    'pod-security.kubernetes.io/enforce': 'baseline', 'pod-security.kubernetes.io/enforce-version': 'v1.30',
    'pod-security.kubernetes.io/audit': 'restricted', 'pod-security.kubernetes.io/audit-version': 'v1.30',
    'pod-security.kubernetes.io/warn': 'restricted', 'pod-security.kubernetes.io/warn-version': 'v1.30',
  });
  await cp.createNamespace('e2e-strict', {
    'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/enforce-version': 'latest',
    'pod-security.kubernetes.io/audit': 'restricted',
  });
  await cp.createNamespace('e2e-audit', { 'pod-security.kubernetes.io/audit': 'baseline', 'pod-security.kubernetes.io/audit-version': 'v1.25' });
  await cp.createNamespace('e2e-exempt', { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/enforce-version': 'v1.37' });
  // A user exempt by configuration, allowed to create pods in e2e-base (bound to cluster-admin
  // in that namespace: `edit` is an aggregated role, empty without kube-controller-manager).
  await cp.create({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: 'exempt-edit', namespace: 'e2e-base' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' }, subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'exempt-user' }] });
  const exemptUser = cp.clientCertificate('exempt-user');

  // e2e-base: enforce baseline:v1.30, audit and warn restricted:v1.30.
  const good = await createPod('e2e-base', restrictedPod('good'));
  t.is(good.status, 201);
  t.deepEqual(good.warnings, []);
  const plain = await createPod('e2e-base', plainPod('plain'));
  t.is(plain.status, 201);
  const plainWarning = wouldViolate(plainPod('plain'), 'restricted', 30);
  t.deepEqual(plain.warnings, [plainWarning]);
  const priv = await createPod('e2e-base', privilegedPod('priv'));
  t.is(priv.status, 403);
  t.is(priv.body.message, `pods "priv" is forbidden: ${ours(privilegedPod('priv'), 'baseline', 30)!}`);
  t.is(priv.body.message, 'pods "priv" is forbidden: violates PodSecurity "baseline:v1.30": hostPath volumes (volume "host"), privileged (container "app" must not set securityContext.privileged=true)');
  const exemptByUser = await createPod('e2e-base', privilegedPod('by-exempt-user'), exemptUser);
  t.is(exemptByUser.status, 201, JSON.stringify(exemptByUser.body));
  t.deepEqual(exemptByUser.warnings, []);
  // A debug container without a securityContext, through the ephemeralcontainers subresource.
  const stored = await cp.must<Obj>('GET', '/api/v1/namespaces/e2e-base/pods/good');
  const withDebug = { ...stored, spec: { ...(stored['spec'] as Obj), ephemeralContainers: [{ name: 'debug', image: IMAGE, targetContainerName: 'app' }] } };
  const debug = await cp.request('PUT', '/api/v1/namespaces/e2e-base/pods/good/ephemeralcontainers', withDebug);
  t.is(debug.status, 200, JSON.stringify(debug.body));
  const debugWarning = wouldViolate(withDebug, 'restricted', 30);
  t.deepEqual(debug.warnings, [debugWarning]);
  // A Deployment is audited and warned on (its template), never enforced.
  const deployment = await cp.request('POST', '/apis/apps/v1/namespaces/e2e-base/deployments', {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: 'e2e-base' },
    spec: { selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: privilegedPod('x')['spec'] } },
  });
  t.is(deployment.status, 201);
  t.deepEqual(deployment.warnings, [wouldViolate(privilegedPod('x'), 'restricted', 30)]);

  // e2e-strict: enforce restricted:latest (warn follows enforce), audit restricted:latest.
  const strictPlain = await createPod('e2e-strict', plainPod('plain'));
  t.is(strictPlain.status, 403);
  t.is(strictPlain.body.message, `pods "plain" is forbidden: ${ours(plainPod('plain'), 'restricted', 'latest')!}`);
  t.true(strictPlain.body.message!.includes('violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false'));
  t.is((await createPod('e2e-strict', restrictedPod('good'))).status, 201);
  // A server-side dry run is admitted (and audited) like a real request.
  const dry = await cp.request<{ message?: string }>('POST', '/api/v1/namespaces/e2e-strict/pods?dryRun=All', { ...privilegedPod('dry'), metadata: { name: 'dry', namespace: 'e2e-strict' } });
  t.is(dry.status, 403);

  // e2e-audit: audit baseline:v1.25 only: allowed, no warning, audited.
  const audited = await createPod('e2e-audit', privilegedPod('priv'));
  t.is(audited.status, 201);
  t.deepEqual(audited.warnings, []);
  // e2e-exempt: exempt by namespace, although labelled restricted.
  const exempt = await createPod('e2e-exempt', privilegedPod('priv'));
  t.is(exempt.status, 201);

  // Everything the API server audited reaches the collector (batch mode: within a few seconds).
  // Pod requests: base 5 (good, plain, priv, exempt user, debug), strict 3, audit 1, exempt 1.
  const podEvents = (): number => storedRows(`SELECT count(*) AS n FROM audit_events WHERE resource = 'pods' AND namespace LIKE 'e2e-%'`)[0]!['n'] as number;
  await eventually(() => (podEvents() === 10 ? true : undefined), 30_000, '10 pod events stored');

  // The store holds the API server's own texts: the audit annotation equals the warning the
  // client got (audit and warn are the same level:version in e2e-base), the denial the 403.
  const rows = storedRows(`SELECT name, subresource, response_code, enforce_policy, audit_violations, denial_message, exempt, audit_controls, denied_controls
    FROM audit_events WHERE resource = 'pods' AND namespace = 'e2e-base' ORDER BY id`);
  const byName = (n: string, sub = ''): Obj => rows.find((r) => r['name'] === n && r['subresource'] === sub)!;
  t.like(byName('good'), { response_code: 201, enforce_policy: 'baseline:v1.30', audit_violations: null, denial_message: null, exempt: null });
  t.like(byName('plain'), { response_code: 201, enforce_policy: 'baseline:v1.30', audit_violations: plainWarning,
    audit_controls: JSON.stringify(['allowPrivilegeEscalation', 'capabilities_restricted', 'runAsNonRoot', 'seccompProfile_restricted']) });
  t.like(byName('priv'), { response_code: 403, enforce_policy: 'baseline:v1.30', denial_message: priv.body.message,
    audit_violations: wouldViolate(privilegedPod('priv'), 'restricted', 30),
    denied_controls: JSON.stringify(['hostPathVolumes', 'privileged']),
    audit_controls: JSON.stringify(['privileged', 'allowPrivilegeEscalation', 'capabilities_restricted', 'restrictedVolumes', 'runAsNonRoot', 'seccompProfile_restricted']) });
  t.like(byName('by-exempt-user'), { response_code: 201, exempt: 'user', enforce_policy: null, audit_violations: null });
  t.like(byName('good', 'ephemeralcontainers'), { response_code: 200, enforce_policy: 'baseline:v1.30', audit_violations: debugWarning });
  const [exemptRow] = storedRows(`SELECT exempt, enforce_policy FROM audit_events WHERE namespace = 'e2e-exempt' AND resource = 'pods'`);
  t.deepEqual(exemptRow, { exempt: 'namespace', enforce_policy: null });
  const [auditRow] = storedRows(`SELECT enforce_policy, audit_violations FROM audit_events WHERE namespace = 'e2e-audit' AND resource = 'pods'`);
  t.deepEqual(auditRow, { enforce_policy: 'privileged:latest', audit_violations: wouldViolate(privilegedPod('priv'), 'baseline', 25) });
  // The Deployment's event carries the template's audit violations (not counted as a pod's).
  const [deployRow] = storedRows(`SELECT psa FROM audit_events WHERE namespace = 'e2e-base' AND resource = 'deployments'`);
  t.deepEqual(deployRow, { psa: 0 });

  // Metrics: per namespace, level, version and mode; per control; exemptions.
  const m = await scrape(collector.httpPort);
  const v = (labels: Record<string, string>): number | undefined => sample(m, 'netconform_psa_violations_total', labels);
  t.is(v({ namespace: 'e2e-base', level: 'restricted', version: 'v1.30', mode: 'audit' }), 3);
  t.is(v({ namespace: 'e2e-base', level: 'baseline', version: 'v1.30', mode: 'enforce' }), 1);
  t.is(v({ namespace: 'e2e-strict', level: 'restricted', version: 'latest', mode: 'enforce' }), 2);
  t.is(v({ namespace: 'e2e-strict', level: 'restricted', version: 'latest', mode: 'audit' }), 2);
  t.is(v({ namespace: 'e2e-audit', level: 'baseline', version: 'v1.25', mode: 'audit' }), 1);
  t.is(v({ namespace: 'e2e-exempt' }), undefined);
  const c = (namespace: string, level: string, control: string): number | undefined => sample(m, 'netconform_psa_control_violations_total', { namespace, level, control });
  t.is(c('e2e-base', 'restricted', 'allowPrivilegeEscalation'), 3);
  t.is(c('e2e-base', 'restricted', 'restrictedVolumes'), 1);
  t.is(c('e2e-base', 'restricted', 'privileged'), 1);
  t.is(c('e2e-base', 'baseline', 'privileged'), 1);
  t.is(c('e2e-base', 'baseline', 'hostPathVolumes'), 1);
  t.is(c('e2e-audit', 'baseline', 'privileged'), 1);
  // A denied pod carries audit-violations too (the real server evaluates audit even when
  // enforce denies); at the same level a control still counts once per event.
  t.is(c('e2e-strict', 'restricted', 'runAsNonRoot'), 2);
  t.is(c('e2e-strict', 'restricted', 'privileged'), 1);
  t.is(sample(m, 'netconform_psa_exemptions_total', { namespace: 'e2e-base' }), 1);
  t.is(sample(m, 'netconform_psa_exemptions_total', { namespace: 'e2e-exempt' }), 1);
  t.is(sample(m, 'netconform_psa_namespace_mode', { namespace: 'e2e-base', mode: 'enforce', level: 'baseline', version: 'v1.30' }), 1);
  t.is(sample(m, 'netconform_psa_namespace_mode', { namespace: 'e2e-strict', mode: 'warn', level: 'restricted', version: 'latest' }), 1);

  // `netconform psa`: the same counts per namespace and control, and the modes as labelled.
  const s = await psaSummary();
  const ns = (n: string): Summary['namespaces'][number] | undefined => s.namespaces.find((x) => x.namespace === n);
  t.like(ns('e2e-base'), { auditViolations: 3, enforceDenials: 1, exemptions: 1, errors: 0 });
  t.like(ns('e2e-strict'), { auditViolations: 2, enforceDenials: 2, exemptions: 0 });
  t.like(ns('e2e-audit'), { auditViolations: 1, enforceDenials: 0 });
  t.like(ns('e2e-exempt'), { auditViolations: 0, enforceDenials: 0, exemptions: 1 });
  const count = (namespace: string, mode: string, control: string): number | undefined => s.controls.find((x) => x.namespace === namespace && x.mode === mode && x.control === control)?.count;
  // The debug container inherits the pod's seccomp profile and runAsNonRoot: 2, not 3.
  t.is(count('e2e-base', 'audit', 'seccompProfile_restricted'), 2);
  t.is(count('e2e-base', 'audit', 'capabilities_restricted'), 3);
  t.is(count('e2e-base', 'enforce', 'privileged'), 1);
  t.is(count('e2e-strict', 'enforce', 'runAsNonRoot'), 2);
  t.like(s.modes.find((x) => x.namespace === 'e2e-strict'), { enforce: 'restricted', enforceVersion: 'latest', warn: 'restricted', warnVersion: 'latest', warnFollowsEnforce: true });

  // The namespace PolicyReport the collector wrote through the API server: one result per
  // recorded control and mode, with the same counts.
  const report = await eventually(async () => {
    const r = await cp.request<{ results?: { policy: string; rule: string; result: string; properties: Record<string, string> }[] }>('GET', '/apis/wgpolicyk8s.io/v1alpha2/namespaces/e2e-base/policyreports/netconform-pod-security');
    const admission = r.status === 200 ? (r.body.results ?? []).filter((x) => x.policy === 'psa.admission') : [];
    return admission.length >= 8 ? admission : undefined;
  }, 30_000, 'the e2e-base PolicyReport');
  const evidence = (rule: string, mode: string): Obj | undefined => {
    const x = report.find((r) => r.rule === rule && (JSON.parse(r.properties['evidence'] ?? '{}') as Obj)['mode'] === mode);
    return x ? { result: x.result, ...(JSON.parse(x.properties['evidence']!) as Obj) } : undefined;
  };
  t.deepEqual(evidence('e2e-base/allowPrivilegeEscalation', 'audit'), { result: 'warn', mode: 'audit', level: 'restricted', control: 'allowPrivilegeEscalation', count: 3 });
  t.deepEqual(evidence('e2e-base/privileged', 'enforce'), { result: 'fail', mode: 'enforce', level: 'baseline', control: 'privileged', count: 1 });
  t.deepEqual(evidence('e2e-base/hostPathVolumes', 'enforce'), { result: 'fail', mode: 'enforce', level: 'baseline', control: 'hostPathVolumes', count: 1 });
  t.is(report.length, 8);
  // The label lint in the same reports, from the collector's watch of the real namespaces:
  // e2e-base is pinned and consistent; e2e-strict says latest twice (enforce-version=latest, audit unpinned).
  const lint = async (ns: string): Promise<{ result: string; message: string }> => eventually(async () => {
    const r = await cp.request<{ results?: { policy: string; result: string; message: string }[] }>('GET', `/apis/wgpolicyk8s.io/v1alpha2/namespaces/${ns}/policyreports/netconform-pod-security`);
    return r.status === 200 ? r.body.results?.find((x) => x.policy === 'psa.namespace-labels') : undefined;
  }, 30_000, `the ${ns} label lint`);
  t.like(await lint('e2e-base'), { result: 'pass', message: 'enforce baseline:v1.30, audit restricted:v1.30, warn restricted:v1.30: pinned and consistent' });
  const strict = await lint('e2e-strict');
  t.is(strict.result, 'warn');
  t.true(strict.message.includes('enforce-version=latest: a cluster upgrade changes the enforce policy silently'), strict.message);
  t.true(strict.message.includes('audit=restricted has no audit-version label'), strict.message);
});

test.serial('the collector killed while batches are in flight: the API server retries, every event is stored once', async (t) => {
  t.timeout(240_000);
  await cp.createNamespace('e2e-crash', { 'pod-security.kubernetes.io/audit': 'restricted', 'pod-security.kubernetes.io/audit-version': 'v1.30' });
  const before = storedRows(`SELECT count(*) AS n FROM audit_events`)[0]!['n'] as number;
  const total = 120;
  let created = 0;
  let killedAt = -1;
  let restarted: Promise<Collector> | undefined;
  // Pods are created at a steady pace; a third of the way in the collector is SIGKILLed and
  // started again at once on the same port and database. It takes seconds to listen (20-30 s
  // on a loaded CI machine); the webhook backs off 5 s, ×1.5, five tries: about 40 s before it
  // would drop a batch (and count it in apiserver_audit_error_total).
  for (let i = 0; i < total; i++) {
    const r = await createPod('e2e-crash', plainPod(`p${i}`));
    t.is(r.status, 201);
    created++;
    if (i === 40) {
      killedAt = Date.now();
      await collector.stop('SIGKILL');
      restarted = startCollector();
    }
    await new Promise((r2) => setTimeout(r2, 25));
  }
  collector = await restarted!;
  t.log(`collector back ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill`);
  const crashEvents = (): number => storedRows(`SELECT count(*) AS n FROM audit_events WHERE namespace = 'e2e-crash' AND resource = 'pods'`)[0]!['n'] as number;
  try {
    await eventually(() => (crashEvents() >= created ? true : undefined), 90_000, `${created} events of e2e-crash stored`);
  } catch (err) {
    const apiErrors = String((await cp.request<string>('GET', '/metrics')).body).split('\n').filter((l) => l.startsWith('apiserver_audit_error_total')).join('; ');
    throw new Error(`${(err as Error).message}: ${crashEvents()} stored; API server: ${apiErrors}`);
  }
  // Give late retries time to arrive: they must be recognised as duplicates.
  await new Promise((r) => setTimeout(r, 5000));
  t.is(crashEvents(), created);
  // The kill split the stream: the first collector stored some, and events the API server
  // produced before the kill reached only the second one (retried or still buffered).
  const [split] = storedRows(`SELECT sum(received_ms < ?) AS before, sum(event_ms < ? AND received_ms >= ?) AS resent
    FROM audit_events WHERE namespace = 'e2e-crash' AND resource = 'pods'`, killedAt, killedAt, killedAt);
  t.log(`stored before the kill: ${String(split!['before'])}; produced before it, stored after the restart: ${String(split!['resent'])}`);
  t.true((split!['before'] as number) > 0 && (split!['resent'] as number) > 0, JSON.stringify(split));
  const perPod = storedRows(`SELECT name, count(*) AS n FROM audit_events WHERE namespace = 'e2e-crash' AND resource = 'pods' GROUP BY name HAVING n != 1`);
  t.deepEqual(perPod, []);
  const after = storedRows(`SELECT count(*) AS n FROM audit_events`)[0]!['n'] as number;
  t.true(after >= before + created);
  const s = await psaSummary();
  t.like(s.namespaces.find((x) => x.namespace === 'e2e-crash'), { auditViolations: created, enforceDenials: 0 });
  // The API server dropped nothing: its own audit error counter is zero for the webhook.
  const apiMetrics = await cp.request<string>('GET', '/metrics');
  const errors = String(apiMetrics.body).split('\n').filter((l) => l.startsWith('apiserver_audit_error_total'));
  t.log(errors.join('\n'));
  for (const l of errors) t.true(l.endsWith(' 0'), l);
});
