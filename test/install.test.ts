// Both installs — the kustomize manifests and the Helm chart generated from them — against the
// real tools and the real API server: the committed chart is the generator's output, `helm
// template` gives kustomize's objects for each matching value set, the values schema refuses
// bad values, every overlay passes a server-side dry run with the prometheus-operator and
// cert-manager CRDs installed, the pod templates meet the Pod Security level they claim, the
// service accounts can do exactly what they need, and `helm install` lands in the real server.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ControlPlane, type KubeObject } from './lab/control-plane.js';
import { k8sBin } from './lab/k8s-bins.js';
import { ROOT } from './support/processes.js';

const CHART = join(ROOT, 'charts/netconform');
const NS = 'netconform';
type Obj = KubeObject & { kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> } };

function run(bin: string, args: readonly string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(bin, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
function must(bin: string, args: readonly string[]): string {
  const r = run(bin, args);
  if (r.status !== 0) throw new Error(`${bin.split('/').pop()} ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return r.stdout;
}
const parse = (text: string): Obj[] => parseAllDocuments(text).map((d) => d.toJS() as Obj | null).filter((o): o is Obj => o !== null);
const id = (o: Obj) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
const byId = (objs: readonly Obj[]) => new Map(objs.map((o) => [id(o), o]));
const kustomize = (overlay: string) => parse(must(k8sBin('kubectl'), ['kustomize', join(ROOT, 'manifests', overlay)]));
const helmTemplate = (...set: string[]) => parse(must(k8sBin('helm'), ['template', 'netconform', CHART, '-n', NS, ...set.flatMap((s) => ['--set', s])]));

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? filesUnder(join(dir, n)) : [join(dir, n)]));
}

test('the committed chart is what scripts/gen-helm-chart.mjs makes of the manifests (regenerate after changing them)', (t) => {
  const out = mkdtempSync(join(tmpdir(), 'netconform-chart-'));
  t.teardown(() => rmSync(out, { recursive: true, force: true }));
  must(process.execPath, [join(ROOT, 'scripts/gen-helm-chart.mjs'), '--kubectl', k8sBin('kubectl'), '--out', out]);
  const generated = filesUnder(out).map((f) => relative(out, f)).sort();
  const committed = filesUnder(CHART).map((f) => relative(CHART, f)).filter((f) => f !== 'values.schema.json').sort();
  t.deepEqual(committed, generated);
  for (const f of generated) t.is(readFileSync(join(CHART, f), 'utf8'), readFileSync(join(out, f), 'utf8'), `charts/netconform/${f} is stale: node scripts/gen-helm-chart.mjs`);
});

test('helm lint passes', (t) => {
  const r = run(k8sBin('helm'), ['lint', CHART]);
  t.is(r.status, 0, r.stdout + r.stderr);
  t.regex(r.stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
});

const EQUIVALENT: readonly { readonly values: readonly string[]; readonly overlay: string; readonly drop?: (o: Obj) => boolean }[] = [
  { values: [], overlay: 'base', drop: (o) => o.kind === 'Namespace' },
  { values: ['namespace.create=true'], overlay: 'base' },
  { values: ['namespace.create=true', 'monitoring.serviceMonitor.enabled=true', 'monitoring.prometheusRule.enabled=true', 'grafana.dashboard.enabled=true'], overlay: '.' },
  { values: ['namespace.create=true', 'tls.certManager.enabled=true'], overlay: 'with-cert-manager' },
  { values: ['namespace.create=true', 'policyReports.enabled=true'], overlay: 'examples/policy-reports' },
];
for (const { values, overlay, drop } of EQUIVALENT) {
  test(`helm template ${values.length ? values.join(' ') : '(defaults)'} gives the objects of kubectl kustomize manifests/${overlay}`, (t) => {
    const fromHelm = byId(helmTemplate(...values));
    const fromKustomize = byId(kustomize(overlay).filter((o) => !drop?.(o)));
    t.deepEqual([...fromHelm.keys()].sort(), [...fromKustomize.keys()].sort());
    for (const [k, o] of fromKustomize) t.deepEqual(fromHelm.get(k), o, k);
  });
}

test('chart values reach the objects they name', (t) => {
  const objs = byId(helmTemplate('image.repository=registry.example/netconform', 'image.tag=1.2.3', 'logLevel=debug', 'agent.interval=10s',
    'agent.nodeSelector.pool=infra', 'agent.priorityClassName=system-node-critical', 'collector.tolerations[0].operator=Exists',
    'agent.resources.requests.memory=96Mi', 'probe.enabled=false', 'networkPolicy.enabled=false', 'tls.secretName=my-tls'));
  const agent = objs.get(`DaemonSet/${NS}/netconform-agent`) as unknown as { spec: { template: { spec: { nodeSelector: unknown; priorityClassName: string; containers: { image: string; args: string[]; env: { name: string; value?: string }[]; resources: { requests: { memory: string } } }[]; volumes: { name: string; secret?: { secretName: string } }[] } } } };
  const pod = agent.spec.template.spec;
  t.is(pod.containers[0]!.image, 'registry.example/netconform:1.2.3');
  t.true(pod.containers[0]!.args.includes('--interval=10s'));
  t.is(pod.containers[0]!.env.find((e) => e.name === 'NETCONFORM_LOG_LEVEL')?.value, 'debug');
  t.deepEqual(pod.nodeSelector, { pool: 'infra' });
  t.is(pod.priorityClassName, 'system-node-critical');
  t.is(pod.containers[0]!.resources.requests.memory, '96Mi');
  t.is(pod.volumes.find((v) => v.name === 'collector-ca')?.secret?.secretName, 'my-tls');
  const collector = objs.get(`Deployment/${NS}/netconform-collector`) as unknown as { spec: { template: { spec: { tolerations: unknown } } } };
  t.deepEqual(collector.spec.template.spec.tolerations, [{ operator: 'Exists' }]);
  t.false([...objs.keys()].some((k) => k.includes('netconform-probe') && !k.startsWith('ClusterRole')), 'probe.enabled=false leaves no probe object');
  t.false([...objs.keys()].some((k) => k.startsWith('NetworkPolicy/')));
});

test('values.schema.json refuses bad values, naming the value and what it may be', (t) => {
  const cases: readonly [string, RegExp][] = [
    ['logLevel=verbose', /at '\/logLevel': value must be one of 'debug', 'info', 'warn', 'error'/],
    ['agent.interval=30 seconds', /at '\/agent\/interval': '30 seconds' does not match pattern/],
    ['agnet.interval=30s', /additional properties 'agnet' not allowed/],
    ['policyReports.flavour=kyverno', /at '\/policyReports\/flavour': value must be one of 'wgpolicyk8s', 'openreports'/],
  ];
  for (const [set, message] of cases) {
    const r = run(k8sBin('helm'), ['template', 'netconform', CHART, '-n', NS, '--set', set]);
    t.not(r.status, 0, set);
    t.regex(r.stderr, message, set);
  }
});

// The API server part: one real control plane for the dry runs and the install.
let cp: ControlPlane;
test.before(async () => {
  cp = await ControlPlane.start();
  cp.kubectl(['apply', '--server-side', '-f', join(ROOT, 'test/fixtures/crds'), '-f', join(ROOT, 'test/fixtures/policyreport/crds')]);
  cp.kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/servicemonitors.monitoring.coreos.com', 'crd/prometheusrules.monitoring.coreos.com', 'crd/certificates.cert-manager.io', 'crd/issuers.cert-manager.io', 'crd/clusterpolicyreports.wgpolicyk8s.io']);
  cp.kubectl(['apply', '--server-side', '-f', join(ROOT, 'manifests/base/namespace.yaml')]);
});
test.after.always(async () => { await cp?.stop(); });

/** kubectl's "Warning: …" lines, without the kubectl prefix. */
const warnings = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('Warning: ')).map((l) => l.slice('Warning: '.length)).sort();
const AGENT_WARNING = /^would violate PodSecurity "restricted:v1\.33": host namespaces \(hostNetwork=true\), /;

test.serial('every kustomize overlay passes a server-side dry run; only the agent is warned about by the restricted audit/warn labels', (t) => {
  for (const overlay of ['base', '.', 'monitoring', 'with-cert-manager', 'examples/policy-reports']) {
    const r = run(k8sBin('kubectl'), ['--kubeconfig', cp.adminKubeconfig, 'apply', '--server-side', '--dry-run=server', '-k', join(ROOT, 'manifests', overlay)]);
    t.is(r.status, 0, `manifests/${overlay}: ${r.stderr}`);
    const w = warnings(r.stderr);
    if (overlay === 'monitoring') t.deepEqual(w, [], overlay);
    else { t.is(w.length, 1, `${overlay}: ${w.join('\n')}`); t.regex(w[0] ?? '', AGENT_WARNING); }
  }
});

test.serial('pod templates meet the level they claim: collector and probe are admitted under restricted, the agent only under privileged', async (t) => {
  const pods = kustomize('base').filter((o) => o.kind === 'Deployment' || o.kind === 'DaemonSet');
  await cp.createNamespace('claims-restricted', { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/enforce-version': 'v1.33' });
  await cp.createNamespace('claims-baseline', { 'pod-security.kubernetes.io/enforce': 'baseline', 'pod-security.kubernetes.io/enforce-version': 'v1.33' });
  // The install's own namespace labels, on a namespace of this test's (helm install needs
  // `netconform` free of objects it did not make).
  const installLabels = (parse(readFileSync(join(ROOT, 'manifests/base/namespace.yaml'), 'utf8'))[0]!.metadata.labels) ?? {};
  await cp.createNamespace('claims-install', installLabels);
  // A Pod needs its ServiceAccount to exist (no controller makes them here).
  for (const ns of ['claims-install', 'claims-restricted', 'claims-baseline']) cp.kubectl(['apply', '--server-side', '-n', ns, '-f', join(ROOT, 'manifests/base/serviceaccounts.yaml')]);
  for (const w of pods) {
    const template = (w as unknown as { spec: { template: { metadata: KubeObject; spec: KubeObject } } }).spec.template;
    const asPod = (ns: string) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { ...template.metadata, name: w.metadata.name, namespace: ns }, spec: template.spec });
    for (const ns of ['claims-install', 'claims-restricted', 'claims-baseline']) {
      const r = await cp.request<{ message?: string }>('POST', `/api/v1/namespaces/${ns}/pods?dryRun=All`, asPod(ns));
      const admitted = ns === 'claims-install' || w.metadata.name !== 'netconform-agent';
      t.is(r.status, admitted ? 201 : 403, `${w.metadata.name} in ${ns}: ${r.body.message ?? ''}`);
      if (ns === 'claims-baseline' && !admitted) {
        t.is(r.body.message, 'pods "netconform-agent" is forbidden: violates PodSecurity "baseline:v1.33": non-default capabilities (container "agent" must not include "BPF", "NET_ADMIN", "SYS_ADMIN", "SYS_PTRACE" in securityContext.capabilities.add), host namespaces (hostNetwork=true), hostPath volumes (volumes "cni-conf", "cni-bin", "bpffs", "host-proc")');
      } else if (!admitted) {
        t.regex(r.body.message ?? '', /^pods "netconform-agent" is forbidden: violates PodSecurity "restricted:v1\.33": .*host namespaces \(hostNetwork=true\)/);
      }
    }
  }
});

test.serial('helm install lands every object in the real API server, and the service accounts can do exactly what they need', (t) => {
  const r = run(k8sBin('helm'), ['--kubeconfig', cp.adminKubeconfig, 'install', 'netconform', CHART, '-n', NS,
    '--set', 'monitoring.serviceMonitor.enabled=true', '--set', 'monitoring.prometheusRule.enabled=true', '--set', 'grafana.dashboard.enabled=true',
    '--set', 'tls.certManager.enabled=true', '--set', 'policyReports.enabled=true']);
  t.is(r.status, 0, r.stderr);
  t.regex(r.stdout, /STATUS: deployed/);
  const listed = JSON.parse(cp.kubectl(['get', 'daemonsets,deployments,services,servicemonitors,prometheusrules,certificates,issuers,configmaps,networkpolicies', '-n', NS, '-o', 'json'])) as { items: Obj[] };
  const names = listed.items.map((o) => `${o.kind}/${o.metadata.name}`).filter((n) => n !== 'ConfigMap/kube-root-ca.crt').sort();
  t.deepEqual(names, ['Certificate/netconform-apiserver-audit-client', 'Certificate/netconform-ca', 'Certificate/netconform-collector-tls',
    'ConfigMap/netconform-grafana-dashboard', 'DaemonSet/netconform-agent', 'DaemonSet/netconform-probe', 'Deployment/netconform-collector',
    'Issuer/netconform-ca', 'Issuer/netconform-selfsigned', 'NetworkPolicy/netconform-collector', 'NetworkPolicy/netconform-probe',
    'PrometheusRule/netconform', 'Service/netconform-collector', 'Service/netconform-probe', 'ServiceMonitor/netconform-collector'].sort());
  // What each identity may do, as the real RBAC authorizer answers it.
  const can = (sa: string, verb: string, resource: string) =>
    run(k8sBin('kubectl'), ['--kubeconfig', cp.adminKubeconfig, 'auth', 'can-i', verb, resource, '-A', `--as=system:serviceaccount:${NS}:${sa}`]).stdout.trim();
  const expectations: readonly [string, string, string, 'yes' | 'no'][] = [
    ['netconform-agent', 'watch', 'endpointslices.discovery.k8s.io', 'yes'],
    ['netconform-agent', 'list', 'services', 'yes'],
    ['netconform-agent', 'get', 'secrets', 'no'],
    ['netconform-agent', 'create', 'pods', 'no'],
    ['netconform-agent', 'create', 'clusterrolebindings.rbac.authorization.k8s.io', 'no'],
    ['netconform-collector', 'create', 'tokenreviews.authentication.k8s.io', 'yes'],
    ['netconform-collector', 'create', 'subjectaccessreviews.authorization.k8s.io', 'yes'],
    ['netconform-collector', 'patch', 'clusterpolicyreports.wgpolicyk8s.io', 'yes'],
    ['netconform-collector', 'get', 'secrets', 'no'],
    ['netconform-probe', 'get', 'secrets', 'no'],
  ];
  for (const [sa, verb, resource, answer] of expectations) t.is(can(sa, verb, resource), answer, `${sa} ${verb} ${resource}`);
});
