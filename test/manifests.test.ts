// The deployment manifests, checked as far as can be shown without a cluster: every file
// parses, kustomize renders, every object validates against its kind's Kubernetes schema
// (kubernetes-models, and the client's own models for unknown fields), RBAC is least
// privilege (the agent: kube-proxy's read access, through a projected token), the agent has no privilege, the DaemonSet passes its
// namespace's Pod Security level, and the alert and dashboard PromQL is valid.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { parseAllDocuments, stringify } from 'yaml';
import { RESOURCE_KINDS } from '../kube/kinds.js';
import { AGENT_WATCHES } from '../kube/agent-watch.js';
import { evaluate } from '../psa/evaluate.js';
import { PROBE_METRICS } from '../common/probe.js';
import { readNamespacePolicy } from '../psa/namespace-labels.js';
import { podSubject } from '../psa/workload.js';
import type { ControlId } from '../psa/types.js';
import { alertQueries, dashboard, dashboardQueries, manifestQueries, ruleFileSpec } from './kube/manifest-queries.js';
import { ROOT } from './support/processes.js';
import { k8sBin } from './lab/k8s-bins.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const MANIFESTS = join(ROOT, 'manifests');

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

function parseYamlDocs(text: string, file: string): Obj[] {
  return parseAllDocuments(text).flatMap((doc) => {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]!.message}`);
    const v: unknown = doc.toJS();
    return isObj(v) ? [v] : [];
  });
}

const rendered = new Map<string, Obj[]>();
function kustomize(dir: string): Obj[] {
  let objs = rendered.get(dir);
  if (!objs) {
    const out = execFileSync(k8sBin('kubectl'), ['kustomize', join(MANIFESTS, dir)], { encoding: 'utf8' });
    objs = parseYamlDocs(out, `kubectl kustomize manifests/${dir}`);
    rendered.set(dir, objs);
  }
  return objs;
}

const meta = (o: Obj): Obj => (isObj(o['metadata']) ? o['metadata'] : {});
const nameOf = (o: Obj): string => String(meta(o)['name']);
function find(objs: readonly Obj[], kind: string, name: string): Obj {
  const o = objs.find((x) => x['kind'] === kind && nameOf(x) === name);
  if (!o) throw new Error(`no ${kind} ${name} in the rendered manifests`);
  return o;
}
function get(o: unknown, ...path: (string | number)[]): unknown {
  let cur = o;
  for (const p of path) {
    if (typeof p === 'number') cur = Array.isArray(cur) ? cur[p] : undefined;
    else cur = isObj(cur) ? cur[p] : undefined;
  }
  return cur;
}
const asArray = (v: unknown): Obj[] => (Array.isArray(v) ? v.filter(isObj) : []);

test('every manifest file parses (YAML documents, the dashboard JSON)', (t) => {
  const files = filesUnder(MANIFESTS);
  t.true(files.length >= 12);
  for (const f of files) {
    const text = readFileSync(f, 'utf8');
    if (f.endsWith('.json')) t.notThrows(() => JSON.parse(text), relative(ROOT, f));
    else if (f.endsWith('.yaml') || f.endsWith('.yml')) t.notThrows(() => parseYamlDocs(text, f), relative(ROOT, f));
  }
});

test('kubectl kustomize renders base, monitoring and the whole install', (t) => {
  const kinds = (dir: string): string[] => kustomize(dir).map((o) => `${String(o['kind'])}/${nameOf(o)}`).sort();
  t.deepEqual(kinds('base'), [
    'ClusterRole/netconform-agent', 'ClusterRole/netconform-collector', 'ClusterRole/netconform-reader', 'ClusterRoleBinding/netconform-agent', 'ClusterRoleBinding/netconform-collector',
    'ClusterRoleBinding/netconform-collector-reader',
    'DaemonSet/netconform-agent', 'DaemonSet/netconform-probe', 'Deployment/netconform-collector', 'Namespace/netconform',
    'NetworkPolicy/netconform-collector', 'NetworkPolicy/netconform-probe',
    'PersistentVolumeClaim/netconform-collector-data', 'Role/netconform-probe', 'RoleBinding/netconform-probe', 'Service/netconform-collector', 'Service/netconform-probe',
    'ServiceAccount/netconform-agent', 'ServiceAccount/netconform-collector', 'ServiceAccount/netconform-probe',
  ]);
  t.deepEqual(kinds('monitoring'), ['ConfigMap/netconform-grafana-dashboard', 'PrometheusRule/netconform', 'ServiceMonitor/netconform-collector']);
  t.is(kustomize('.').length, 23);
  // The cert-manager component adds exactly the issuers and certificates, in the namespace.
  const extra = kustomize('with-cert-manager').filter((o) => String(o['apiVersion']).startsWith('cert-manager.io/'));
  t.deepEqual(extra.map((o) => `${String(o['kind'])}/${nameOf(o)}`).sort(), [
    'Certificate/netconform-apiserver-audit-client', 'Certificate/netconform-ca', 'Certificate/netconform-collector-tls', 'Issuer/netconform-ca', 'Issuer/netconform-selfsigned',
  ]);
  for (const o of extra) t.is(meta(o)['namespace'], 'netconform');
  t.is(get(find(extra, 'Certificate', 'netconform-collector-tls'), 'spec', 'secretName'), 'netconform-collector-tls');
  for (const o of kustomize('.')) {
    if (o['kind'] === 'Namespace' || o['kind'] === 'ClusterRole' || o['kind'] === 'ClusterRoleBinding') continue;
    t.is(meta(o)['namespace'], 'netconform', `${String(o['kind'])}/${nameOf(o)} is namespaced to netconform`);
  }
  const image = get(find(kustomize('base'), 'DaemonSet', 'netconform-agent'), 'spec', 'template', 'spec', 'containers', 0, 'image');
  t.regex(String(image), /^[^:]+:\d+\.\d+\.\d+$/, 'image pinned to a version');
});

/** The kubernetes-models class for an object's kind (CRDs from @kubernetes-models/prometheus-operator). */
async function modelClass(apiVersion: string, kind: string): Promise<new (o: unknown) => { validate(): void }> {
  const spec = apiVersion.startsWith('monitoring.coreos.com/')
    ? `@kubernetes-models/prometheus-operator/${apiVersion}/${kind}`
    : `kubernetes-models/${apiVersion}/${kind}`;
  const mod = (await import(spec)) as Record<string, unknown>;
  const cls = mod[kind];
  if (typeof cls !== 'function') throw new Error(`${spec} exports no ${kind}`);
  return cls as new (o: unknown) => { validate(): void };
}

test('every rendered object validates against the Kubernetes schema of its kind', async (t) => {
  for (const o of kustomize('.')) {
    const what = `${String(o['kind'])}/${nameOf(o)}`;
    const Model = await modelClass(String(o['apiVersion']), String(o['kind']));
    t.notThrows(() => new Model(o).validate(), what);
  }
  // The validator does reject a wrong shape (so the pass above means something).
  const Model = await modelClass('apps/v1', 'DaemonSet');
  const ds = structuredClone(find(kustomize('base'), 'DaemonSet', 'netconform-agent'));
  (get(ds, 'spec', 'template', 'spec') as Obj)['hostNetwork'] = 'yes';
  t.throws(() => new Model(ds).validate(), { message: /hostNetwork must be boolean/ });
});

type AttributeMap = readonly { readonly baseName: string; readonly type: string }[];

/** The client's generated model of a type (from the Kubernetes OpenAPI), when it has one. */
function clientModel(type: string): AttributeMap | undefined {
  const cls = (k8s as unknown as Record<string, unknown>)[type];
  if (typeof cls !== 'function' || !('getAttributeTypeMap' in cls)) return undefined;
  return (cls as unknown as { getAttributeTypeMap(): AttributeMap }).getAttributeTypeMap();
}

/** Fields the API server's strict field validation would reject as unknown (typos). */
function unknownFields(v: unknown, type: string, path: string, out: string[]): void {
  const array = /^Array<(.*)>$/.exec(type);
  if (array) {
    if (Array.isArray(v)) v.forEach((x, i) => unknownFields(x, array[1]!, `${path}[${i}]`, out));
    return;
  }
  const map = /^\{ \[key: string\]: (.*); \}$/.exec(type);
  if (map) {
    if (isObj(v)) for (const [k, x] of Object.entries(v)) unknownFields(x, map[1]!, `${path}.${k}`, out);
    return;
  }
  const attrs = clientModel(type);
  if (!attrs || !isObj(v)) return;
  for (const [k, x] of Object.entries(v)) {
    const a = attrs.find((at) => at.baseName === k);
    if (!a) out.push(`${path}.${k}`);
    else unknownFields(x, a.type, `${path}.${k}`, out);
  }
}

test('no built-in object has a field its kind does not define (strict field validation)', (t) => {
  for (const o of kustomize('.')) {
    if (String(o['apiVersion']).startsWith('monitoring.coreos.com/')) continue;
    const type = `V1${String(o['kind'])}`;
    t.truthy(clientModel(type), `the client has a model for ${type}`);
    const unknown: string[] = [];
    unknownFields(o, type, String(o['kind']), unknown);
    t.deepEqual(unknown, [], `${String(o['kind'])}/${nameOf(o)}`);
  }
  const typo: string[] = [];
  unknownFields({ spec: { template: { spec: { hostNetwrok: true } } } }, 'V1DaemonSet', 'DaemonSet', typo);
  t.deepEqual(typo, ['DaemonSet.spec.template.spec.hostNetwrok']);
});

/**
 * The read part of kube-proxy's bootstrap ClusterRole `system:node-proxier` (Kubernetes'
 * plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go): list/watch on services,
 * endpoints, endpointslices and servicecidrs, get/list/watch on nodes. (Its other rule
 * writes events.) `group/resource` → verbs.
 */
const NODE_PROXIER_READ: Readonly<Record<string, readonly string[]>> = {
  '/services': ['list', 'watch'],
  '/endpoints': ['list', 'watch'],
  '/nodes': ['get', 'list', 'watch'],
  'discovery.k8s.io/endpointslices': ['list', 'watch'],
  'networking.k8s.io/servicecidrs': ['list', 'watch'],
};

/** `group/resource` → sorted verbs, over every rule of a role (no wildcards allowed). */
function grants(t: import('ava').ExecutionContext, role: Obj): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const rule of asArray(role['rules'])) {
    t.falsy(rule['resourceNames'], 'no resourceNames');
    t.falsy(rule['nonResourceURLs'], 'no non-resource URLs');
    for (const g of rule['apiGroups'] as string[]) {
      for (const r of rule['resources'] as string[]) {
        t.false(`${g}/${r}`.includes('*'), `wildcard in ${g}/${r}`);
        out[`${g}/${r}`] = [...new Set([...(out[`${g}/${r}`] ?? []), ...(rule['verbs'] as string[])])].sort();
      }
    }
  }
  return out;
}

test('the agent reads the API with a projected token and exactly kube-proxy\'s read access for what it watches', (t) => {
  const objs = kustomize('.');
  const sa = find(objs, 'ServiceAccount', 'netconform-agent');
  t.is(sa['automountServiceAccountToken'], false, 'no legacy automount');
  const pod = get(find(objs, 'DaemonSet', 'netconform-agent'), 'spec', 'template', 'spec') as Obj;
  t.is(pod['serviceAccountName'], 'netconform-agent');
  t.is(pod['automountServiceAccountToken'], false);
  // The projected volume: a bound, expiring token, the cluster CA, the namespace — what
  // the client's in-cluster config reads from the standard path.
  const vol = asArray(pod['volumes']).find((v) => v['name'] === 'kube-api-access');
  const sources = asArray(get(vol, 'projected', 'sources'));
  t.deepEqual(sources.map((x) => Object.keys(x)[0]), ['serviceAccountToken', 'configMap', 'downwardAPI']);
  t.is(get(sources[0], 'serviceAccountToken', 'path'), 'token');
  t.true(Number(get(sources[0], 'serviceAccountToken', 'expirationSeconds')) >= 600);
  t.deepEqual(get(sources[1], 'configMap'), { name: 'kube-root-ca.crt', items: [{ key: 'ca.crt', path: 'ca.crt' }] });
  t.deepEqual(get(sources[2], 'downwardAPI', 'items'), [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }]);
  const mount = asArray(get(pod, 'containers', 0, 'volumeMounts')).find((m) => m['name'] === 'kube-api-access');
  t.deepEqual(mount, { name: 'kube-api-access', mountPath: '/var/run/secrets/kubernetes.io/serviceaccount', readOnly: true });

  // The role: exactly system:node-proxier's read rules for the kinds the agent watches.
  const granted = grants(t, find(objs, 'ClusterRole', 'netconform-agent'));
  const watched = AGENT_WATCHES.map((w) => RESOURCE_KINDS.find((k) => k.kind === w.kind)!).map((k) => `${k.group}/${k.resource}`);
  // kube-proxy's read access for the kinds it watches, plus (deliberately, for pod-netns.*)
  // the Pods the agent lists and watches with spec.nodeName=<its node> (kube/node-pods.ts).
  const { '/pods': podVerbs, ...proxier } = granted;
  t.deepEqual(podVerbs, ['get', 'list', 'watch']);
  t.deepEqual(Object.keys(proxier).sort(), [...watched].sort(), 'granted = watched kinds');
  for (const [res, verbs] of Object.entries(proxier)) t.deepEqual(verbs, [...(NODE_PROXIER_READ[res] ?? [])].sort(), `${res} verbs as system:node-proxier`);
  t.deepEqual(proxier, { '/services': ['list', 'watch'], '/nodes': ['get', 'list', 'watch'], 'discovery.k8s.io/endpointslices': ['list', 'watch'], 'networking.k8s.io/servicecidrs': ['list', 'watch'] });
  // Bound to the agent's ServiceAccount only, and the agent is bound to nothing else.
  const tokens = asArray(pod['volumes']).flatMap((v) => asArray(get(v, 'projected', 'sources')).map((src) => src['serviceAccountToken'])).filter(isObj);
  t.deepEqual(tokens, [{ path: 'token', expirationSeconds: 3600 }, { audience: 'netconform-collector', expirationSeconds: 3600, path: 'token' }]);
  const args = get(pod, 'containers', 0, 'args') as string[];
  t.true(args.includes('--token-file=/var/run/secrets/netconform/token'));
  t.true(args.includes('--collector-ca=/etc/netconform/ca/ca.crt'));
  t.false(args.includes('--insecure'));
  t.deepEqual(asArray(pod['volumes']).find((v) => v['name'] === 'collector-ca')?.['secret'], { secretName: 'netconform-collector-tls', items: [{ key: 'ca.crt', path: 'ca.crt' }] });
  const bindings = objs.filter((o) => o['kind'] === 'RoleBinding' || o['kind'] === 'ClusterRoleBinding');
  const agentBindings = bindings.filter((b) => asArray(b['subjects']).some((s) => s['name'] === 'netconform-agent'));
  t.deepEqual(agentBindings.map((b) => `${String(b['kind'])}/${nameOf(b)} -> ${String(get(b, 'roleRef', 'name'))}`), ['ClusterRoleBinding/netconform-agent -> netconform-agent']);
  t.deepEqual(find(objs, 'ClusterRoleBinding', 'netconform-agent')['subjects'], [{ kind: 'ServiceAccount', name: 'netconform-agent', namespace: 'netconform' }]);
});

test('nothing is privileged; the agent adds only NET_ADMIN, BPF, SYS_ADMIN and SYS_PTRACE and mounts the host read-only', (t) => {
  const text = execFileSync(k8sBin('kubectl'), ['kustomize', MANIFESTS], { encoding: 'utf8' });
  t.notRegex(text, /privileged:\s*true/);
  const pod = get(find(kustomize('base'), 'DaemonSet', 'netconform-agent'), 'spec', 'template', 'spec') as Obj;
  t.is(pod['hostNetwork'], true);
  t.falsy(pod['hostPID']);
  t.falsy(pod['hostIPC']);
  const c = asArray(pod['containers'])[0]!;
  const sc = c['securityContext'] as Obj;
  t.is(sc['allowPrivilegeEscalation'], false);
  t.is(sc['readOnlyRootFilesystem'], true);
  t.deepEqual(get(sc, 'capabilities', 'drop'), ['ALL']);
  t.deepEqual(get(sc, 'capabilities', 'add'), ['NET_ADMIN', 'BPF', 'SYS_ADMIN', 'SYS_PTRACE']);
  const hostVolumes = new Set(asArray(pod['volumes']).filter((v) => isObj(v['hostPath'])).map((v) => String(v['name'])));
  t.deepEqual([...hostVolumes].map((n) => get(asArray(pod['volumes']).find((v) => v['name'] === n), 'hostPath', 'path')).sort(), ['/etc/cni/net.d', '/opt/cni/bin', '/proc', '/sys/fs/bpf']);
  for (const m of asArray(c['volumeMounts']).filter((m) => hostVolumes.has(String(m['name'])))) t.is(m['readOnly'], true, String(m['name']));
  t.deepEqual(asArray(pod['tolerations']), [{ operator: 'Exists' }]);
  t.deepEqual(get(asArray(c['env']).find((e) => e['name'] === 'NODE_NAME'), 'valueFrom', 'fieldRef', 'fieldPath'), 'spec.nodeName');
  t.truthy(get(c, 'resources', 'requests', 'memory'));
  t.truthy(get(c, 'resources', 'limits', 'memory'));
  t.truthy(c['livenessProbe']);
  t.truthy(c['readinessProbe']);
});

test('the collector ClusterRole reads exactly the kinds its watcher lists and creates only token and access reviews', (t) => {
  const role = find(kustomize('base'), 'ClusterRole', 'netconform-collector');
  const granted = new Set<string>();
  const created = new Set<string>();
  for (const rule of asArray(role['rules'])) {
    const into = JSON.stringify(rule['verbs']) === JSON.stringify(['create']) ? created : granted;
    if (into === granted) t.deepEqual(rule['verbs'], ['get', 'list', 'watch']);
    for (const g of rule['apiGroups'] as string[]) for (const r of rule['resources'] as string[]) into.add(`${g}/${r}`);
  }
  t.false([...granted, ...created].some((g) => g.includes('*')));
  t.deepEqual([...granted].sort(), RESOURCE_KINDS.map((k) => `${k.group}/${k.resource}`).sort());
  t.deepEqual([...created].sort(), ['authentication.k8s.io/tokenreviews', 'authorization.k8s.io/subjectaccessreviews']);
  const binding = find(kustomize('base'), 'ClusterRoleBinding', 'netconform-collector');
  t.deepEqual(binding['subjects'], [{ kind: 'ServiceAccount', name: 'netconform-collector', namespace: 'netconform' }]);
  // netconform-reader grants reading netconform's data and nothing else; only the collector's own SA is bound by default.
  t.deepEqual(find(kustomize('base'), 'ClusterRole', 'netconform-reader')['rules'], [{ apiGroups: ['netconform.io'], resources: ['findings', 'podsecurity', 'migration'], verbs: ['get'] }]);
  const reader = find(kustomize('base'), 'ClusterRoleBinding', 'netconform-collector-reader');
  t.deepEqual(reader['roleRef'], { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'netconform-reader' });
  t.deepEqual(reader['subjects'], [{ kind: 'ServiceAccount', name: 'netconform-collector', namespace: 'netconform' }]);
});

test('the collector serves TLS everywhere; the NetworkPolicy opens only its three ports, metrics only to Prometheus', (t) => {
  const objs = kustomize('.');
  const c = get(find(objs, 'Deployment', 'netconform-collector'), 'spec', 'template', 'spec', 'containers', 0) as Obj;
  const args = c['args'] as string[];
  for (const a of ['--tls-cert=/etc/netconform/tls/tls.crt', '--tls-key=/etc/netconform/tls/tls.key', '--audit-client-ca=/etc/netconform/tls/ca.crt', '--agent-service-account=netconform:netconform-agent']) t.true(args.includes(a), a);
  t.false(args.some((a) => a.startsWith('--insecure') || a.startsWith('--audit-insecure') || a.startsWith('--auth')));
  t.is(get(c, 'readinessProbe', 'httpGet', 'scheme'), 'HTTPS');
  const np = find(objs, 'NetworkPolicy', 'netconform-collector');
  t.deepEqual(get(np, 'spec', 'podSelector'), { matchLabels: { 'app.kubernetes.io/name': 'netconform-collector' } });
  t.deepEqual(get(np, 'spec', 'policyTypes'), ['Ingress']);
  const rules = asArray(get(np, 'spec', 'ingress'));
  t.deepEqual(rules.map((r) => asArray(r['ports']).map((p) => p['port'])), [['grpc'], ['audit'], ['http']]);
  const cports = asArray(c['ports']).map((p) => p['name']).sort();
  t.deepEqual(rules.flatMap((r) => asArray(r['ports']).map((p) => String(p['port']))).sort(), cports, 'every container port has a rule, no other');
  t.deepEqual(rules[2]?.['from'], [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } }, podSelector: { matchLabels: { 'app.kubernetes.io/name': 'prometheus' } } }]);
  const ep = get(find(objs, 'ServiceMonitor', 'netconform-collector'), 'spec', 'endpoints', 0) as Obj;
  t.is(ep['scheme'], 'https');
  t.is(ep['bearerTokenFile'], '/var/run/secrets/kubernetes.io/serviceaccount/token');
  t.deepEqual(get(ep, 'tlsConfig', 'ca', 'secret'), { name: 'netconform-collector-tls', key: 'ca.crt' });
});

test('the agent points at the collector Service; the ServiceMonitor selects it', (t) => {
  const objs = kustomize('.');
  const svc = find(objs, 'Service', 'netconform-collector');
  const ports = asArray(get(svc, 'spec', 'ports'));
  const grpc = ports.find((p) => p['name'] === 'grpc');
  const args = get(find(objs, 'DaemonSet', 'netconform-agent'), 'spec', 'template', 'spec', 'containers', 0, 'args') as string[];
  t.true(args.includes(`--collector=${nameOf(svc)}.${String(meta(svc)['namespace'])}.svc:${String(grpc?.['port'])}`));
  t.is(args[0], 'run');
  const sm = find(objs, 'ServiceMonitor', 'netconform-collector');
  const labels = meta(svc)['labels'] as Obj;
  for (const [k, v] of Object.entries(get(sm, 'spec', 'selector', 'matchLabels') as Obj)) t.is(labels[k], v);
  t.true(ports.some((p) => p['name'] === get(sm, 'spec', 'endpoints', 0, 'port')));
  // Deployment ports line up with the Service's target ports.
  const cports = asArray(get(find(objs, 'Deployment', 'netconform-collector'), 'spec', 'template', 'spec', 'containers', 0, 'ports'));
  for (const p of ports) t.true(cports.some((c) => c['name'] === p['targetPort']), String(p['name']));
});

const EXPECTED_AGENT_EXCEPTIONS: Readonly<Record<'baseline' | 'restricted', readonly ControlId[]>> = {
  baseline: ['capabilities_baseline', 'hostNamespaces', 'hostPathVolumes'],
  restricted: ['capabilities_restricted', 'hostNamespaces', 'restrictedVolumes', 'runAsNonRoot', 'runAsUser'],
};

test('the agent passes its namespace enforce level at the pinned version, and needs nothing beyond its documented exceptions', (t) => {
  const objs = kustomize('base');
  const ns = find(objs, 'Namespace', 'netconform');
  const policy = readNamespacePolicy(meta(ns)['labels'] as Record<string, string>);
  t.deepEqual(policy.errors, []);
  for (const mode of ['enforce', 'audit', 'warn'] as const) {
    t.true(policy.labelled[mode].level && policy.labelled[mode].version, `${mode} level and version are labelled`);
    t.not(policy[mode].version, 'latest', `${mode} version is pinned`);
  }
  const agent = podSubject(find(objs, 'DaemonSet', 'netconform-agent'));
  const collector = podSubject(find(objs, 'Deployment', 'netconform-collector'));
  if (!agent || !collector) throw new Error('pod templates not readable');

  const enforced = evaluate(agent.pod, policy.enforce.level, policy.enforce.version);
  t.true(enforced.allowed, `agent admitted at enforce ${policy.enforce.level}`);
  for (const level of ['baseline', 'restricted'] as const) {
    const e = evaluate(agent.pod, level, policy.enforce.version);
    t.deepEqual(e.violations.map((v) => v.control).sort(), [...EXPECTED_AGENT_EXCEPTIONS[level]], `agent at ${level}`);
  }
  // audit/warn are stricter than enforce; the collector meets them, so only the agent is flagged.
  t.is(policy.audit.level, 'restricted');
  t.is(policy.warn.level, 'restricted');
  const c = evaluate(collector.pod, policy.audit.level, policy.audit.version);
  t.deepEqual(c.violations, [], 'collector meets restricted');
});

test('the probe runs on the pod network at PSA restricted, reads only probe pods and services in its namespace, and is reachable only from probe pods', (t) => {
  const objs = kustomize('.');
  const ds = find(objs, 'DaemonSet', 'netconform-probe');
  const subject = podSubject(ds);
  if (!subject) throw new Error('probe pod template not readable');
  // Restricted at the version the namespace pins for audit and warn (its strictest labels).
  const policy = readNamespacePolicy(meta(find(objs, 'Namespace', 'netconform'))['labels'] as Record<string, string>);
  t.is(policy.audit.level, 'restricted');
  const restricted = evaluate(subject.pod, 'restricted', policy.audit.version);
  t.deepEqual(restricted.violations, [], 'probe meets restricted');
  t.true(restricted.allowed);
  const pod = get(ds, 'spec', 'template', 'spec') as Obj;
  t.falsy(pod['hostNetwork'], 'on the pod network');
  t.is(pod['serviceAccountName'], 'netconform-probe');
  t.is(pod['automountServiceAccountToken'], false);
  const c = asArray(pod['containers'])[0]!;
  t.like(c['securityContext'], { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] } });
  t.is(get(c, 'securityContext', 'capabilities', 'add'), undefined);
  t.is(get(pod, 'securityContext', 'seccompProfile', 'type'), 'RuntimeDefault');
  t.deepEqual(asArray(c['ports']).map((p) => `${String(p['name'])} ${String(p['containerPort'])}/${String(p['protocol'])}`), ['echo 7777/TCP', 'echo-udp 7777/UDP']);
  t.deepEqual(c['command'], ['netconform-probe']);
  const args = c['args'] as string[];
  for (const a of ['--peers=api', '--collector=netconform-collector.netconform.svc:9443', '--collector-ca=/etc/netconform/ca/ca.crt', '--token-file=/var/run/secrets/netconform/token']) t.true(args.includes(a), a);
  t.deepEqual(get(asArray(pod['volumes']).find((v) => v['name'] === 'collector-token'), 'projected', 'sources'), [{ serviceAccountToken: { audience: 'netconform-collector', expirationSeconds: 3600, path: 'token' } }]);
  t.deepEqual(asArray(c['env']).map((e) => `${String(e['name'])}=${String(get(e, 'valueFrom', 'fieldRef', 'fieldPath'))}`),
    ['NODE_NAME=spec.nodeName', 'POD_NAME=metadata.name', 'POD_NAMESPACE=metadata.namespace', 'POD_IP=status.podIP']);

  // RBAC: exactly get/list/watch on pods and services, namespaced, bound to the probe's ServiceAccount only.
  t.deepEqual(find(objs, 'Role', 'netconform-probe')['rules'], [{ apiGroups: [''], resources: ['pods', 'services'], verbs: ['get', 'list', 'watch'] }]);
  const probeBindings = objs.filter((o) => (o['kind'] === 'RoleBinding' || o['kind'] === 'ClusterRoleBinding') && asArray(o['subjects']).some((s) => s['name'] === 'netconform-probe'));
  t.deepEqual(probeBindings.map((b) => `${String(b['kind'])}/${nameOf(b)} -> ${String(get(b, 'roleRef', 'kind'))}/${String(get(b, 'roleRef', 'name'))}`), ['RoleBinding/netconform-probe -> Role/netconform-probe']);
  t.deepEqual(probeBindings[0]!['subjects'], [{ kind: 'ServiceAccount', name: 'netconform-probe', namespace: 'netconform' }]);
  t.is(find(objs, 'ServiceAccount', 'netconform-probe')['automountServiceAccountToken'], false);

  // The Service selects only probe pods; the NetworkPolicy admits the echo from probe pods only.
  const svc = find(objs, 'Service', 'netconform-probe');
  t.deepEqual(get(svc, 'spec', 'selector'), { 'app.kubernetes.io/name': 'netconform-probe' });
  t.is(get(svc, 'spec', 'type'), 'ClusterIP');
  t.deepEqual(get(ds, 'spec', 'template', 'metadata', 'labels'), { 'app.kubernetes.io/name': 'netconform-probe', 'app.kubernetes.io/component': 'probe' });
  const np = find(objs, 'NetworkPolicy', 'netconform-probe');
  t.deepEqual(get(np, 'spec', 'ingress'), [{ from: [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'netconform-probe' } } }], ports: [{ port: 'echo', protocol: 'TCP' }, { port: 'echo-udp', protocol: 'UDP' }] }]);
  // The collector admits the probe's ServiceAccount explicitly.
  const collectorArgs = get(find(objs, 'Deployment', 'netconform-collector'), 'spec', 'template', 'spec', 'containers', 0, 'args') as string[];
  t.true(collectorArgs.includes('--probe-service-account=netconform:netconform-probe'));
});

function promtool(args: readonly string[]): { code: number; out: string } {
  try {
    return { code: 0, out: execFileSync('promtool', [...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }) };
  } catch (err) {
    const e = err as { status?: number; stdout?: string; stderr?: string };
    return { code: e.status ?? 1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

test('promtool accepts the alert rules and every dashboard expression', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'nc-rules-'));
  try {
    writeFileSync(join(dir, 'alerts.yaml'), stringify(ruleFileSpec()));
    const alerts = promtool(['check', 'rules', join(dir, 'alerts.yaml')]);
    t.is(alerts.code, 0, alerts.out);
    t.regex(alerts.out, new RegExp(`SUCCESS: ${alertQueries().length} rules found`));
    // Dashboard expressions, checked as recording rules (same PromQL parser).
    const recording = { groups: [{ name: 'dashboard', rules: dashboardQueries().map((q, i) => ({ record: `netconform:dashboard_query_${i}`, expr: q.expr })) }] };
    writeFileSync(join(dir, 'dashboard.yaml'), stringify(recording));
    const dash = promtool(['check', 'rules', join(dir, 'dashboard.yaml')]);
    t.is(dash.code, 0, dash.out);
    // And a broken expression is refused (so the passes above mean something).
    writeFileSync(join(dir, 'bad.yaml'), stringify({ groups: [{ name: 'x', rules: [{ alert: 'X', expr: 'sum by (node (netconform_findings)' }] }] }));
    t.not(promtool(['check', 'rules', join(dir, 'bad.yaml')]).code, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** The metrics the collector exports (the contract with collector/metrics). */
const EXPORTED_METRICS = [
  'netconform_agent_connected', 'netconform_agent_last_report_timestamp_seconds', 'netconform_check_status',
  'netconform_findings', 'netconform_collector_reports_received_total', 'netconform_psa_violations_total',
  'netconform_psa_control_violations_total', 'netconform_psa_exemptions_total', 'netconform_psa_namespace_mode',
  'netconform_psa_namespace_ready', 'netconform_audit_events_received_total', 'netconform_audit_events_rejected_total',
  'netconform_audit_last_event_timestamp_seconds', 'netconform_node_info',
  // The probe mesh's, from their one declaration (the RTT histogram is read through its buckets).
  ...Object.values(PROBE_METRICS).map((n) => (n === PROBE_METRICS.rtt ? `${n}_bucket` : n)),
];
const CHECK_IDS = [
  'pod-network.bridge', 'pod-network.pod-cidr', 'pod-network.cidr-capacity', 'pod-network.routes', 'pod-network.sysctl',
  'cni.config', 'service-routing.clusterip', 'service-routing.nodeport', 'service-routing.stale-rules', 'service-routing.mode',
  'no-nat.pod-to-pod', 'no-nat.observed', 'psa.namespace-labels',
];

test('alerts and dashboard use only exported metrics and real check ids, and cover what the issue asks', (t) => {
  const queries = manifestQueries();
  t.true(queries.length >= 20);
  const used = new Set<string>();
  for (const q of queries) {
    for (const m of q.expr.match(/netconform_[a-z_]+/g) ?? []) {
      t.true(EXPORTED_METRICS.includes(m), `${q.source}: unknown metric ${m}`);
      used.add(m);
    }
    for (const c of q.expr.match(/check(=~|=)"([^"]+)"/g) ?? []) {
      const value = c.replace(/^check(=~|=)"/, '').replace(/"$/, '').replace(/\\\\/g, '\\');
      const re = new RegExp(`^(?:${value})$`);
      t.true(CHECK_IDS.some((id) => re.test(id)), `${q.source}: check matcher ${value} matches no check id`);
    }
  }
  t.deepEqual([...used].sort(), [...EXPORTED_METRICS].sort(), 'every exported metric is shown or alerted on');
  t.deepEqual(alertQueries().map((q) => q.source).sort(), [
    'alert NetconformAgentNotReporting', 'alert NetconformAuditPipelineSilent', 'alert NetconformNodeNonConformant',
    'alert NetconformPodSecurityEnforceDenials', 'alert NetconformPodSourceIPRewritten', 'alert NetconformPodToPodNAT', 'alert NetconformServiceRoutedWrongly',
  ]);
  const titles = (function collect(ps: unknown): string[] {
    return Array.isArray(ps) ? ps.filter(isObj).flatMap((p) => [String(p['title']), ...collect(p['panels'])]) : [];
  })(dashboard()['panels']);
  for (const want of ['Nodes conformant', 'Nodes × checks (current status)', 'Non-passing results by node and status', 'Agents connected', 'Report age',
    'PSA violations by namespace and level', 'PSA violations by control', 'Namespace readiness per level', 'Audit events ingested', 'Audit lag (since the last event)',
    'Migration', 'Nodes per CNI family', 'Nodes per kube-proxy mode', 'Failing checks by CNI family',
    'kube-proxy mode by CNI family', 'Nodes between two kube-proxy modes (service-routing.mode)',
    'Pod source rewritten, by node (no-nat.observed)', 'Source mismatches by path and kind', 'Probe RTT (answered probes)', 'Probe connection breaks by node',
    'Probes between CNI families', 'Connection breaks by CNI family (cutover)']) {
    t.true(titles.includes(want), `dashboard panel "${want}"`);
  }
});

test('the dashboard ConfigMap is labelled for the Grafana sidecar and carries the JSON file', (t) => {
  const cm = find(kustomize('monitoring'), 'ConfigMap', 'netconform-grafana-dashboard');
  t.is((meta(cm)['labels'] as Obj)['grafana_dashboard'], '1');
  const data = cm['data'] as Record<string, string>;
  t.deepEqual(JSON.parse(data['netconform-dashboard.json']!), dashboard());
});

test('audit policy keeps pods, ephemeral containers and namespaces at Metadata, drops the rest', (t) => {
  const [policy] = parseYamlDocs(readFileSync(join(MANIFESTS, 'audit', 'audit-policy.yaml'), 'utf8'), 'audit-policy.yaml');
  if (!policy) throw new Error('empty policy');
  t.is(policy['apiVersion'], 'audit.k8s.io/v1');
  t.is(policy['kind'], 'Policy');
  t.deepEqual(policy['omitStages'], ['RequestReceived']);
  const rules = asArray(policy['rules']);
  const LEVELS = ['None', 'Metadata', 'Request', 'RequestResponse'];
  const RULE_FIELDS = ['level', 'users', 'userGroups', 'verbs', 'resources', 'namespaces', 'nonResourceURLs', 'omitStages', 'omitManagedFields'];
  for (const r of rules) {
    t.true(LEVELS.includes(String(r['level'])));
    for (const k of Object.keys(r)) t.true(RULE_FIELDS.includes(k), `rule field ${k}`);
  }
  // First match wins: what level does a request get?
  const levelFor = (verb: string, group: string, resource: string): string => {
    for (const r of rules) {
      if (Array.isArray(r['verbs']) && !(r['verbs'] as string[]).includes(verb)) continue;
      if (Array.isArray(r['resources']) && !asArray(r['resources']).some((g) => g['group'] === group && (g['resources'] as string[]).includes(resource))) continue;
      return String(r['level']);
    }
    return 'None';
  };
  t.is(levelFor('create', '', 'pods'), 'Metadata');
  t.is(levelFor('patch', '', 'pods/ephemeralcontainers'), 'Metadata');
  t.is(levelFor('update', '', 'pods'), 'Metadata');
  t.is(levelFor('patch', '', 'namespaces'), 'Metadata');
  t.is(levelFor('create', 'apps', 'deployments'), 'Metadata');
  t.is(levelFor('get', '', 'pods'), 'None');
  t.is(levelFor('create', '', 'secrets'), 'None');
  t.is(levelFor('update', '', 'configmaps'), 'None');
  t.is(rules.at(-1)?.['level'], 'None');
  t.is(Object.keys(rules.at(-1) ?? {}).length, 1, 'catch-all last');
});

test('the audit webhook kubeconfig loads and points at the collector audit port', (t) => {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(join(MANIFESTS, 'audit', 'audit-webhook-kubeconfig.yaml'));
  const server = new URL(kc.getCurrentCluster()?.server ?? '');
  const svc = find(kustomize('base'), 'Service', 'netconform-collector');
  const audit = asArray(get(svc, 'spec', 'ports')).find((p) => p['name'] === 'audit');
  t.is(server.hostname, `${nameOf(svc)}.${String(meta(svc)['namespace'])}.svc`);
  t.is(server.port, String(audit?.['port']));
  t.is(server.pathname, '/audit/webhook');
  const readme = readFileSync(join(MANIFESTS, 'audit', 'README.md'), 'utf8');
  for (const flag of ['--audit-policy-file', '--audit-webhook-config-file', '--audit-webhook-batch-max-size', '--audit-webhook-mode']) t.true(readme.includes(flag), flag);
});

test('the policy-reports component adds the flag and exactly the report RBAC to the collector', (t) => {
  const objs = kustomize('examples/policy-reports');
  const args = get(find(objs, 'Deployment', 'netconform-collector'), 'spec', 'template', 'spec', 'containers', 0, 'args') as string[];
  t.is(args.filter((a) => a.startsWith('--policy-reports')).join(' '), '--policy-reports=wgpolicyk8s');
  const help = execFileSync(process.execPath, ['--import=tsx', join(ROOT, 'collector/main.ts'), '--help'], { encoding: 'utf8' });
  t.regex(help, /--policy-reports FLAVOUR +keep results in the cluster as PolicyReports: wgpolicyk8s/);
  t.deepEqual(get(find(objs, 'ClusterRole', 'netconform-policy-reports'), 'rules'), [
    { apiGroups: ['wgpolicyk8s.io'], resources: ['clusterpolicyreports', 'policyreports'], verbs: ['get', 'list', 'create', 'patch', 'delete'] },
    { apiGroups: ['openreports.io'], resources: ['clusterreports', 'reports'], verbs: ['get', 'list', 'create', 'patch', 'delete'] },
  ]);
  t.deepEqual(get(find(objs, 'ClusterRoleBinding', 'netconform-policy-reports'), 'subjects'), [{ kind: 'ServiceAccount', name: 'netconform-collector', namespace: 'netconform' }]);
  // The base alone writes no reports and holds no report RBAC.
  const base = kustomize('base');
  t.false(base.some((o) => nameOf(o) === 'netconform-policy-reports'));
  t.false((get(find(base, 'Deployment', 'netconform-collector'), 'spec', 'template', 'spec', 'containers', 0, 'args') as string[]).some((a) => a.startsWith('--policy-reports')));
});

test('the agent probes run the health command on the file the agent writes', (t) => {
  const c = get(find(kustomize('base'), 'DaemonSet', 'netconform-agent'), 'spec', 'template', 'spec', 'containers', 0) as Obj;
  const args = c['args'] as string[];
  const file = args.find((a) => a.startsWith('--health-file='))!.slice('--health-file='.length);
  t.is(file, '/run/netconform/agent-health.json');
  const mounts = asArray(c['volumeMounts']).map((m) => String(m['mountPath']));
  t.true(mounts.some((m) => file.startsWith(`${m}/`)), 'the health file lies on a writable mount');
  t.deepEqual(get(c, 'livenessProbe', 'exec', 'command'), ['netconform-agent', 'health', `--health-file=${file}`, '--max-age=3m']);
  t.deepEqual(get(c, 'readinessProbe', 'exec', 'command'), ['netconform-agent', 'health', `--health-file=${file}`, '--max-age=3m', '--require-ack']);
});
