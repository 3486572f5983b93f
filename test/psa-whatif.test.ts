// Namespace label semantics, the what-if report on a cluster file, and the two CLI commands.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseClusterObjects, parseClusterText } from '../common/cluster.js';
import { readNamespacePolicy, formatLevelVersion } from '../psa/namespace-labels.js';
import { whatIf } from '../psa/whatif.js';

const P = 'pod-security.kubernetes.io/';
const CLUSTER = 'test/fixtures/psa/cluster.yaml';

function cli(args: string[], input?: string): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args], { encoding: 'utf8', input });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('namespace labels: defaults, warn follows a valid enforce, invalid values fail closed/open', (t) => {
  const fmt = (labels: Record<string, string>): string => {
    const p = readNamespacePolicy(labels);
    return `${formatLevelVersion(p.enforce)} ${formatLevelVersion(p.audit)} ${formatLevelVersion(p.warn)}`;
  };
  t.is(fmt({}), 'privileged:latest privileged:latest privileged:latest');
  t.is(fmt({ [`${P}enforce`]: 'baseline', [`${P}enforce-version`]: 'v1.22' }), 'baseline:v1.22 privileged:latest baseline:v1.22');
  t.is(fmt({ [`${P}enforce`]: 'baseline', [`${P}warn-version`]: 'v1.23' }), 'baseline:latest privileged:latest baseline:v1.23');
  t.is(fmt({ [`${P}enforce`]: 'baseline', [`${P}warn`]: 'privileged' }), 'baseline:latest privileged:latest privileged:latest');
  t.is(fmt({ [`${P}enforce`]: 'foo' }), 'restricted:latest privileged:latest privileged:latest');
  t.is(fmt({ [`${P}enforce`]: 'baseline', [`${P}warn`]: 'foo', [`${P}audit`]: 'Restricted' }), 'baseline:latest privileged:latest privileged:latest');
  const p = readNamespacePolicy({ [`${P}audit-version`]: 'v1.025', [`${P}enforce`]: 'bogus' });
  t.deepEqual(p.errors.map((e) => e.message), [
    'metadata.labels[pod-security.kubernetes.io/enforce]: Invalid value: "bogus": must be one of privileged, baseline, restricted',
    'metadata.labels[pod-security.kubernetes.io/audit-version]: Invalid value: "v1.025": must be "latest" or "v1.x"',
  ]);
  for (const bad of ['1.25', 'v1.25.3', 'v2.0', 'V1.25', '']) t.is(readNamespacePolicy({ [`${P}enforce-version`]: bad }).errors.length, 1, bad);
});

test('whatIf on a cluster file: per namespace, grouped by top-level owner, recommendations pinned', (t) => {
  const ctx = parseClusterObjects(parseClusterText(readFileSync(CLUSTER, 'utf8'), CLUSTER));
  const report = whatIf({ namespaces: ctx.namespaces, objects: ctx.workloads }, { level: 'restricted', version: 'latest', kubernetesMinor: 33 });
  t.deepEqual(report.proposed, { level: 'restricted', version: 'latest', evaluatedVersion: 'v1.33' });
  t.deepEqual(report.namespaces.map((n) => [n.namespace, n.pods, n.rejectedPods, n.workloads, n.rejectedWorkloads]), [
    ['batch', 1, 0, 1, 0],
    ['legacy', 1, 1, 1, 1],
    ['shop', 3, 3, 2, 2],
  ]);
  const shop = report.namespaces.find((n) => n.namespace === 'shop')!;
  t.deepEqual(shop.current, { enforce: 'baseline:latest', audit: 'privileged:latest', warn: 'baseline:latest' });
  t.deepEqual(shop.rejected.map((w) => [w.kind, w.name, w.pods, w.rejectedPods, w.templateRejected]), [
    ['Deployment', 'web', 2, 2, true],
    ['Pod', 'debug', 1, 1, undefined],
  ]);
  const web = shop.rejected[0]!.rejections;
  t.is(web.length, 1);
  t.is(web[0]!.pods, 2);
  t.true(web[0]!.template);
  t.is(web[0]!.example, 'web-7d4b9c8f6-a8c2m');
  t.is(web[0]!.message, 'violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false (container "nginx" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "nginx" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or container "nginx" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container "nginx" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")');
  t.deepEqual(shop.passes, { privileged: true, baseline: false, restricted: false });
  const batch = report.namespaces.find((n) => n.namespace === 'batch')!;
  t.deepEqual(batch.recommended, {
    [`${P}enforce`]: 'restricted', [`${P}enforce-version`]: 'v1.33',
    [`${P}audit`]: 'restricted', [`${P}audit-version`]: 'v1.33',
    [`${P}warn`]: 'restricted', [`${P}warn-version`]: 'v1.33',
  });
  const legacy = report.namespaces.find((n) => n.namespace === 'legacy')!;
  t.is(legacy.current.enforce, 'restricted:latest');
  t.is(legacy.labelErrors.length, 1);
  t.is(legacy.recommended[`${P}enforce`], 'privileged');
  t.is(legacy.recommended[`${P}audit`], 'baseline');
  // Without the web pods' failing reasons at baseline, shop would be baseline-ready: only debug blocks it.
  const base = whatIf({ namespaces: ctx.namespaces, objects: ctx.workloads }, { level: 'baseline', version: 30, namespace: 'shop' });
  t.deepEqual(base.namespaces.map((n) => n.rejected.map((w) => `${w.kind}/${w.name}`)), [['Pod/debug']]);
  t.is(base.namespaces[0]!.rejected[0]!.rejections[0]!.message, 'violates PodSecurity "baseline:v1.30": host namespaces (hostNetwork=true)');
});

test('psa check: table, JSON, exit codes', (t) => {
  const table = cli(['psa', 'check', '--level', 'baseline', 'test/fixtures/psa/workloads.yaml']);
  t.is(table.code, 0, table.stderr);
  t.regex(table.stdout, /2 evaluated at baseline:latest \(policy v1\.37 on Kubernetes 1\.37\): 2 allowed, 0 rejected; 1 other objects ignored/);
  const json = cli(['psa', 'check', '--level', 'restricted', '--version', 'v1.24', '--output', 'json', 'test/fixtures/psa/workloads.yaml']);
  t.is(json.code, 1, json.stderr);
  const out = JSON.parse(json.stdout) as { results: { kind: string; name: string; allowed: boolean; violations: { control: string }[]; message: string | null }[] };
  t.deepEqual(out.results.map((r) => [r.kind, r.name, r.allowed]), [['Pod', 'good', true], ['Deployment', 'api', false]]);
  t.is(out.results[0]!.message, null);
  t.deepEqual(out.results[1]!.violations.map((v) => v.control), ['allowPrivilegeEscalation', 'capabilities_restricted', 'runAsNonRoot', 'seccompProfile_restricted']);
  t.is(out.results[1]!.message, 'violates PodSecurity "restricted:v1.24": allowPrivilegeEscalation != false (containers "migrate", "api", "sidecar" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (containers "migrate", "api", "sidecar" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or containers "migrate", "api", "sidecar" must set securityContext.runAsNonRoot=true), seccompProfile (pod or containers "migrate", "api", "sidecar" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")');
  const stdin = cli(['psa', 'check', '--level', 'baseline', '-'], '{"kind":"List","items":[{"kind":"Pod","metadata":{"name":"x"},"spec":{"hostIPC":true,"containers":[{"name":"a"}]}}]}');
  t.is(stdin.code, 1);
  t.regex(stdin.stdout, /Pod +x +no +host namespaces \(hostIPC=true\)/);
});

test('psa check: unreadable input names the file and position; usage errors exit 2', (t) => {
  const yaml = cli(['psa', 'check', '--level', 'baseline', '-'], 'kind: Pod\nmetadata: {name: x\nspec: {}\n');
  t.is(yaml.code, 2);
  t.regex(yaml.stderr, /^netconform: <stdin>:\d+:\d+: invalid YAML/);
  const field = cli(['psa', 'check', '--level', 'baseline', '-'], 'kind: Pod\nmetadata: {name: x, namespace: n}\nspec: {hostPID: "yes", containers: []}\n');
  t.is(field.code, 2);
  t.is(field.stderr, 'netconform: <stdin>: Pod n/x: spec.hostPID: must be true or false\n');
  t.is(cli(['psa', 'check', '--level', 'strict', 'x.yaml']).code, 2);
  t.is(cli(['psa', 'check', '--level', 'baseline', '--version', '1.30', 'x.yaml']).stderr, 'netconform: --version: "1.30" must be "latest" or "v1.N" (as in the namespace label)\n');
  t.regex(cli(['psa', 'check', '--level', 'baseline', 'missing.yaml']).stderr, /missing\.yaml: cannot read: ENOENT/);
});

test('psa whatif on a cluster file: table and JSON', (t) => {
  const table = cli(['psa', 'whatif', '--level', 'restricted', '--version', 'v1.30', '--cluster', CLUSTER, '--namespace', 'shop']);
  t.is(table.code, 1, table.stderr);
  t.regex(table.stdout, /restricted:v1\.30 would reject 3 of 3 pods, 2 of 2 workloads/);
  t.regex(table.stdout, /Deployment\/web +2\/2 +2 pods \+ template +allowPrivilegeEscalation != false/);
  t.regex(table.stdout, /recommended  enforce=privileged:v1\.30 audit=baseline:v1\.30 warn=baseline:v1\.30/);
  const json = cli(['psa', 'whatif', '--level', 'baseline', '--cluster', CLUSTER, '--namespace', 'batch', '--output', 'json']);
  t.is(json.code, 0, json.stderr);
  const report = JSON.parse(json.stdout) as { namespaces: { namespace: string; rejected: unknown[] }[] };
  t.deepEqual(report.namespaces.map((n) => [n.namespace, n.rejected.length]), [['batch', 0]]);
});
