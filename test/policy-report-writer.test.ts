// The collector's PolicyReport writer against the fake API server through the real client:
// server-side apply under netconform's field manager, one ClusterPolicyReport per node,
// one PolicyReport per namespace, deletes when a node is forgotten or a namespace is clean,
// and retries when the API server refuses.
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeApiServer } from './kube/fake-apiserver.js';
import { FakeCustomResources, type CustomKind } from './kube/fake-custom-resources.js';
import { validateOpenApi } from './support/openapi-schema.js';
import { loadKubeConfig } from '../kube/config.js';
import { createLogger } from '../common/log.js';
import { createMetricsRegistry } from '../collector/metrics.js';
import { PolicyReportWriter, POLICY_REPORT_FIELD_MANAGER } from '../collector/policy-reports/writer.js';
import { namespaceFindings, PSA_ADMISSION_CHECK } from '../collector/policy-reports/psa-findings.js';
import { lintNamespaces } from '../collector/psa-labels/lint.js';
import type { NodeReport } from '../collector/nodes.js';
import type { Finding } from '../common/findings.js';

const SCHEMA: unknown = JSON.parse(readFileSync(new URL('./fixtures/policyreport/clusterpolicyreport.schema.json', import.meta.url), 'utf8'));
const WG: CustomKind[] = [
  { group: 'wgpolicyk8s.io', version: 'v1alpha2', kind: 'ClusterPolicyReport', plural: 'clusterpolicyreports', namespaced: false },
  { group: 'wgpolicyk8s.io', version: 'v1alpha2', kind: 'PolicyReport', plural: 'policyreports', namespaced: true },
];
const OPENREPORTS: CustomKind[] = [
  { group: 'openreports.io', version: 'v1alpha1', kind: 'ClusterReport', plural: 'clusterreports', namespaced: false },
  { group: 'openreports.io', version: 'v1alpha1', kind: 'Report', plural: 'reports', namespaced: true },
];
const log = createLogger({ component: 'test' }, 'error');

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

type Teardown = { teardown(fn: () => Promise<void> | void): void };

async function fakeApi(t: Teardown): Promise<{ api: FakeApiServer; kubeconfig: string }> {
  const api = await FakeApiServer.start();
  const dir = mkdtempSync(join(tmpdir(), 'nc-policyreport-'));
  t.teardown(async () => {
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { api, kubeconfig: api.writeKubeconfig(join(dir, 'kubeconfig')) };
}

async function setup(t: Teardown, kinds: CustomKind[]) {
  const { api, kubeconfig } = await fakeApi(t);
  const crs = new FakeCustomResources(kinds);
  api.addHandler(crs.handler);
  return { api, crs, kubeConfig: loadKubeConfig(kubeconfig) };
}

test('a node report is applied server-side as a ClusterPolicyReport and deleted when the node is forgotten', async (t) => {
  const { crs, kubeConfig } = await setup(t, WG);
  const metricsRegistry = createMetricsRegistry();
  const writer = new PolicyReportWriter({ kubeConfig, flavour: 'wgpolicyk8s', log, metricsRegistry });
  t.teardown(() => writer.stop());
  writer.reportAccepted(nodeReport('node-a', [ipForward]));
  writer.reportAccepted(nodeReport('node-b', []));
  await writer.flush();
  const reports = crs.list('ClusterPolicyReport');
  t.deepEqual([...reports.keys()], ['netconform-node-node-a', 'netconform-node-node-b']);
  const a = reports.get('netconform-node-node-a')!;
  t.deepEqual(validateOpenApi(SCHEMA, a), []);
  t.deepEqual(a['summary'], { pass: 2, fail: 1, warn: 0, error: 0, skip: 0 });
  t.deepEqual((a['results'] as { policy: string; result: string; rule: string }[]).map((r) => `${r.policy} ${r.result} ${r.rule}`), [
    'pod-network.sysctl fail net.ipv4.ip_forward',
    'pod-network.sysctl pass pod-network.sysctl',
    'service-routing.clusterip pass service-routing.clusterip',
  ]);
  t.deepEqual(crs.writes.map((w) => [w.method, w.path, w.contentType, w.fieldManager, w.force, w.status]), [
    ['PATCH', '/apis/wgpolicyk8s.io/v1alpha2/clusterpolicyreports/netconform-node-node-a', 'application/apply-patch+yaml', POLICY_REPORT_FIELD_MANAGER, true, 201],
    ['PATCH', '/apis/wgpolicyk8s.io/v1alpha2/clusterpolicyreports/netconform-node-node-b', 'application/apply-patch+yaml', POLICY_REPORT_FIELD_MANAGER, true, 201],
  ]);
  // Three reports in a burst for one node are one write of the newest.
  writer.reportAccepted(nodeReport('node-a', []));
  writer.reportAccepted(nodeReport('node-a', [ipForward, { ...ipForward, subject: 'net.ipv4.conf.all.forwarding' }]));
  await writer.flush();
  t.is(crs.writes.length, 3);
  t.deepEqual((crs.list('ClusterPolicyReport').get('netconform-node-node-a')!['summary'] as { fail: number }).fail, 2);
  writer.nodeRemoved('node-b');
  await writer.flush();
  t.deepEqual([...crs.list('ClusterPolicyReport').keys()], ['netconform-node-node-a']);
  t.deepEqual(crs.writes.at(-1), { method: 'DELETE', path: '/apis/wgpolicyk8s.io/v1alpha2/clusterpolicyreports/netconform-node-node-b', contentType: '', fieldManager: '', force: false, status: 200 });
  const text = await metricsRegistry.metrics();
  t.regex(text, /netconform_collector_policy_report_writes_total\{kind="node",result="applied"\} 3/);
  t.regex(text, /netconform_collector_policy_report_writes_total\{kind="node",result="deleted"\} 1/);
});

test('namespace PolicyReports hold the labels lint and recorded admission results, and go when clean', async (t) => {
  const { crs, kubeConfig } = await setup(t, WG);
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
  const shop = crs.list('PolicyReport').get('shop/netconform-pod-security')!;
  t.truthy(shop, 'the shop namespace has a report');
  t.deepEqual(validateOpenApi(SCHEMA, shop), []);
  t.deepEqual([...crs.list('PolicyReport').keys()], ['shop/netconform-pod-security'], 'kube-system is exempt');
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
  t.deepEqual([...crs.list('PolicyReport').keys()], []);
});

test('openreports flavour writes ClusterReports; a refused write is retried until it lands', async (t) => {
  const { api, kubeconfig } = await fakeApi(t);
  const crs = new FakeCustomResources(OPENREPORTS);
  let refuse = 2;
  // The first two discovery requests fail as if the CRD were not installed yet.
  api.addHandler((req, res, url) => {
    if (url.pathname === '/apis/openreports.io/v1alpha1' && refuse > 0) {
      refuse--;
      res.writeHead(503, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code: 503, message: 'unavailable' }));
      return true;
    }
    return crs.handler(req, res, url);
  });
  const writer = new PolicyReportWriter({ kubeConfig: loadKubeConfig(kubeconfig), flavour: 'openreports', log, backoffMaxMs: 50 });
  t.teardown(() => writer.stop());
  writer.reportAccepted(nodeReport('node-a', [ipForward]));
  const deadline = Date.now() + 10_000;
  while (crs.list('ClusterReport').size === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const r = crs.list('ClusterReport').get('netconform-node-node-a');
  t.truthy(r, 'written after the API server recovered');
  t.is(r!['apiVersion'], 'openreports.io/v1alpha1');
  t.is(r!['source'], 'netconform');
  t.deepEqual(validateOpenApi(SCHEMA, r), []);
  t.is(refuse, 0);
});
