// The collector's PolicyReport writer against the real kube-apiserver with the upstream
// PolicyReport CRDs installed (test/fixtures/policyreport/crds: wgpolicyk8s.io v1alpha2 and
// openreports.io v1alpha1), as the collector's ServiceAccount holding exactly the
// policy-reports component's ClusterRole: server-side apply under netconform's field
// manager accepted by the CRDs' real schema (nothing pruned: what is stored is what the
// writer built), updates without field-manager conflicts, one ClusterPolicyReport per node,
// one PolicyReport per namespace, deletes when a node is forgotten or a namespace is clean,
// and retries until the CRDs are installed.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { validateOpenApi } from './support/openapi-schema.js';
import { loadKubeConfig } from '../kube/config.js';
import { createLogger } from '../common/log.js';
import { createMetricsRegistry } from '../collector/metrics.js';
import { PolicyReportWriter, POLICY_REPORT_FIELD_MANAGER } from '../collector/policy-reports/writer.js';
import { namespaceFindings, PSA_ADMISSION_CHECK } from '../collector/policy-reports/psa-findings.js';
import { lintNamespaces } from '../collector/psa-labels/lint.js';
import { nodePolicyReport } from '../common/policy-report.js';
import type { NodeReport } from '../collector/nodes.js';
import type { Finding } from '../common/findings.js';
import type { KubeConfig } from '@kubernetes/client-node';
import { ControlPlane, type KubeObject } from './lab/control-plane.js';
import { COLLECTOR_SA, NETCONFORM_NS, createPod, installNetconformRbac, podToken } from './lab/netconform-identity.js';

const SCHEMA: unknown = JSON.parse(readFileSync(new URL('./fixtures/policyreport/clusterpolicyreport.schema.json', import.meta.url), 'utf8'));
const CRDS = new URL('./fixtures/policyreport/crds/', import.meta.url).pathname;
const log = createLogger({ component: 'test' }, 'error');

let cp: ControlPlane;
/** The collector's identity: its ServiceAccount's token, bound to its Pod. */
let kubeConfig: KubeConfig;

test.before(async () => {
  cp = await ControlPlane.start();
  await installNetconformRbac(cp, { policyReports: true });
  // wgpolicyk8s.io as Kyverno installs it; openreports.io only in the test that waits for it.
  installCrds('wgpolicyk8s.io');
  const pod = await createPod(cp, { namespace: NETCONFORM_NS, name: 'netconform-collector-0', node: 'node-cp', serviceAccount: COLLECTOR_SA });
  kubeConfig = loadKubeConfig(cp.kubeconfig('collector', { token: await podToken(cp, pod, COLLECTOR_SA) }));
});
test.after.always(async () => { await cp?.stop(); });

function installCrds(group: string): void {
  const files = group === 'wgpolicyk8s.io' ? ['wgpolicyk8s.io_clusterpolicyreports.yaml', 'wgpolicyk8s.io_policyreports.yaml'] : ['openreports.io_clusterreports.yaml', 'openreports.io_reports.yaml'];
  cp.kubectl(['apply', '--server-side', ...files.flatMap((f) => ['-f', `${CRDS}${f}`])]);
  cp.kubectl(['wait', '--for=condition=Established', '--timeout=60s', ...files.map((f) => `crd/${f.replace(/^([^_]+)_(.+)\.yaml$/, '$2.$1')}`)]);
}

/** The stored objects of a collection, by name (namespaced: ns/name). */
async function stored(path: string): Promise<Map<string, KubeObject>> {
  const list = await cp.must<{ items: KubeObject[] }>('GET', path);
  return new Map(list.items.map((o) => {
    const m = o['metadata'] as { name: string; namespace?: string };
    return [m.namespace ? `${m.namespace}/${m.name}` : m.name, o];
  }));
}

/** What the writer sent, as stored: the object without the server's metadata. */
function asWritten(o: KubeObject): KubeObject {
  const { metadata, ...rest } = o as { metadata: Record<string, unknown> };
  return { ...rest, metadata: Object.fromEntries(Object.entries(metadata).filter(([k]) => ['name', 'namespace', 'labels'].includes(k))) };
}

function managers(o: KubeObject): string[] {
  return ((o['metadata'] as { managedFields?: { manager: string; operation: string }[] }).managedFields ?? []).map((f) => `${f.manager} ${f.operation}`).sort();
}

function nodeReport(node: string, findings: Finding[]): NodeReport {
  return {
    node, sequence: 1, bootId: 'b', scannedAt: '2026-12-02T10:00:00Z', receivedAt: '2026-12-02T10:00:01Z',
    proxyMode: 'iptables', cni: 'bridge', agentVersion: '0.1.0',
    checks: [
      { id: 'pod-network.sysctl', status: 'fail', passed: 3, failed: 1, warned: 0, skipped: 0, errored: 0 },
      { id: 'service-routing.clusterip', status: 'pass', passed: 42, failed: 0, warned: 0, skipped: 0, errored: 0 },
    ],
    findings,
  };
}

const ipForward: Finding = { check: 'pod-network.sysctl', status: 'fail', severity: 'critical', subject: 'net.ipv4.ip_forward', message: 'net.ipv4.ip_forward is 0', evidence: { observed: '0' } };

const NODES = '/apis/wgpolicyk8s.io/v1alpha2/clusterpolicyreports';

test.serial('a node report is applied server-side as a ClusterPolicyReport, updated without conflicts and deleted when the node is forgotten', async (t) => {
  const metricsRegistry = createMetricsRegistry();
  const writer = new PolicyReportWriter({ kubeConfig, flavour: 'wgpolicyk8s', log, metricsRegistry });
  t.teardown(() => writer.stop());
  writer.reportAccepted(nodeReport('node-a', [ipForward]));
  writer.reportAccepted(nodeReport('node-b', []));
  await writer.flush();
  const reports = await stored(NODES);
  t.deepEqual([...reports.keys()], ['netconform-node-node-a', 'netconform-node-node-b']);
  const a = reports.get('netconform-node-node-a')!;
  t.deepEqual(validateOpenApi(SCHEMA, a), []);
  // Accepted by the CRD's schema and nothing pruned: stored is exactly what was built.
  t.deepEqual(asWritten(a), nodePolicyReport({ node: 'node-a', scannedAt: '2026-12-02T10:00:00Z', checks: nodeReport('node-a', []).checks, findings: [ipForward] }) as unknown as KubeObject);
  t.deepEqual(a['summary'], { pass: 2, fail: 1, warn: 0, error: 0, skip: 0 });
  t.deepEqual((a['results'] as { policy: string; result: string; rule: string }[]).map((r) => `${r.policy} ${r.result} ${r.rule}`), [
    'pod-network.sysctl fail net.ipv4.ip_forward',
    'pod-network.sysctl pass pod-network.sysctl',
    'service-routing.clusterip pass service-routing.clusterip',
  ]);
  t.deepEqual(managers(a), [`${POLICY_REPORT_FIELD_MANAGER} Apply`], 'written by server-side apply under netconform\'s field manager only');
  t.is((a['metadata'] as { generation: number }).generation, 1);

  // Someone else edits a field netconform owns and adds one of their own (a label): the
  // next apply takes its field back without a conflict and leaves theirs alone.
  await cp.must('PATCH', `${NODES}/netconform-node-node-a?fieldManager=someone-else`, { metadata: { labels: { team: 'net' } }, summary: { fail: 99 } }, { contentType: 'application/merge-patch+json' });
  // Three reports in a burst for one node are one write of the newest.
  writer.reportAccepted(nodeReport('node-a', []));
  writer.reportAccepted(nodeReport('node-a', [ipForward, { ...ipForward, subject: 'net.ipv4.conf.all.forwarding' }]));
  await writer.flush();
  const updated = (await stored(NODES)).get('netconform-node-node-a')!;
  t.deepEqual((updated['summary'] as { fail: number }).fail, 2);
  t.is((updated['metadata'] as { labels: Record<string, string> }).labels['team'], 'net', 'a field of another manager survives');
  t.is((updated['metadata'] as { generation: number }).generation, 3, 'the other edit, then one write of the newest');
  writer.nodeRemoved('node-b');
  await writer.flush();
  t.deepEqual([...(await stored(NODES)).keys()], ['netconform-node-node-a']);
  // Forgetting a node twice (its report already gone) is not a failure.
  writer.nodeRemoved('node-b');
  await writer.flush();
  const text = await metricsRegistry.metrics();
  t.regex(text, /netconform_collector_policy_report_writes_total\{kind="node",result="applied"\} 3/);
  t.regex(text, /netconform_collector_policy_report_writes_total\{kind="node",result="deleted"\} 2/);
  t.notRegex(text, /result="failed"\} [1-9]/);
});

test.serial('namespace PolicyReports hold the labels lint and recorded admission results, and go when clean', async (t) => {
  await cp.createNamespace('shop', { 'pod-security.kubernetes.io/enforce': 'baseline' });
  const lints = lintNamespaces([
    { name: 'shop', labels: { 'pod-security.kubernetes.io/enforce': 'baseline' } },
    { name: 'kube-system', labels: {} },
  ]);
  let controls = [{ namespace: 'shop', mode: 'enforce' as const, level: 'restricted', control: 'runAsNonRoot', reason: 'runAsNonRoot != true', count: 3 }];
  let clean = false;
  const writer = new PolicyReportWriter({
    kubeConfig, flavour: 'wgpolicyk8s', log, refreshMs: 60_000,
    namespaceFindings: () => (clean ? new Map() : namespaceFindings(lints, controls, '24h')),
  });
  t.teardown(() => writer.stop());
  writer.start();
  await writer.flush();
  const reports = await stored('/apis/wgpolicyk8s.io/v1alpha2/policyreports');
  const shop = reports.get('shop/netconform-pod-security')!;
  t.truthy(shop, 'the shop namespace has a report');
  t.deepEqual(validateOpenApi(SCHEMA, shop), []);
  t.deepEqual(managers(shop), [`${POLICY_REPORT_FIELD_MANAGER} Apply`]);
  t.deepEqual([...reports.keys()], ['shop/netconform-pod-security'], 'kube-system is exempt');
  const results = shop['results'] as { policy: string; result: string; severity: string; category: string; message: string; rule: string }[];
  t.deepEqual(results.map((r) => [r.policy, r.rule, r.result, r.category]), [
    ['psa.namespace-labels', 'shop', lints.find((l) => l.namespace === 'shop')!.finding.status, 'pod-security'],
    [PSA_ADMISSION_CHECK, 'shop/runAsNonRoot', 'fail', 'pod-security'],
  ]);
  t.is(results[1]!.message, '3 pod requests denied restricted control runAsNonRoot (enforce) in the last 24h: runAsNonRoot != true');
  controls = [];
  clean = true;
  // The periodic refresh, run now: nothing left to say about shop, so its report goes.
  (writer as unknown as { queueNamespaces(): void }).queueNamespaces();
  await writer.flush();
  t.deepEqual([...(await stored('/apis/wgpolicyk8s.io/v1alpha2/policyreports')).keys()], []);
});

test.serial('openreports flavour: writes are refused until the CRDs are installed, retried, and land as ClusterReports', async (t) => {
  const metricsRegistry = createMetricsRegistry();
  const writer = new PolicyReportWriter({ kubeConfig, flavour: 'openreports', log, backoffMaxMs: 200, debounceMs: 10, metricsRegistry });
  t.teardown(() => writer.stop());
  writer.reportAccepted(nodeReport('node-a', [ipForward]));
  const failed = async (): Promise<number> => Number(/writes_total\{kind="node",result="failed"\} (\d+)/.exec(await metricsRegistry.metrics())?.[1] ?? 0);
  let deadline = Date.now() + 15_000;
  while ((await failed()) < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  t.true((await failed()) >= 2, 'refused while openreports.io is not served');
  installCrds('openreports.io');
  deadline = Date.now() + 20_000;
  let r: KubeObject | undefined;
  while (!r && Date.now() < deadline) {
    r = (await cp.request<KubeObject>('GET', '/apis/openreports.io/v1alpha1/clusterreports/netconform-node-node-a')).status === 200
      ? await cp.must<KubeObject>('GET', '/apis/openreports.io/v1alpha1/clusterreports/netconform-node-node-a') : undefined;
    if (!r) await new Promise((res) => setTimeout(res, 100));
  }
  t.truthy(r, 'written once the CRDs were installed');
  t.is(r!['apiVersion'], 'openreports.io/v1alpha1');
  t.is(r!['source'], 'netconform');
  t.deepEqual(validateOpenApi(SCHEMA, r), []);
  t.deepEqual(asWritten(r!), nodePolicyReport({ node: 'node-a', scannedAt: '2026-12-02T10:00:00Z', checks: nodeReport('node-a', []).checks, findings: [ipForward] }, 'openreports') as unknown as KubeObject);
  t.true(isDeepStrictEqual(managers(r!), [`${POLICY_REPORT_FIELD_MANAGER} Apply`]));
});
