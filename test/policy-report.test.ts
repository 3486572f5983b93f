// PolicyReports: `scan --format policyreport` prints a ClusterPolicyReport that the CRD's
// schema accepts, with one result per non-passing finding and one per passing check.
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runProgram } from './support/processes.js';
import { validateOpenApi } from './support/openapi-schema.js';
import { namespacePolicyReport, nodePolicyReport, type PolicyReportObject } from '../common/policy-report.js';
import type { CheckSummary, Finding } from '../common/findings.js';

const SCHEMA: unknown = JSON.parse(readFileSync(new URL('./fixtures/policyreport/clusterpolicyreport.schema.json', import.meta.url), 'utf8'));

function bundle(t: { teardown(fn: () => void): void }, files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'nc-policyreport-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

const summed = (r: PolicyReportObject): number => r.summary.pass + r.summary.fail + r.summary.warn + r.summary.error + r.summary.skip;

test('scan --format policyreport prints a ClusterPolicyReport for the node that the CRD schema accepts', async (t) => {
  const dir = bundle(t, { 'node.txt': 'node-b\n', 'sysctl.txt': 'net.ipv4.ip_forward = 0\nnet.ipv4.conf.all.rp_filter = 0\n' });
  const r = await runProgram('agent', ['scan', '--from', dir, '--format', 'policyreport']);
  t.is(r.code, 1, r.stderr); // a failing finding still fails the exit code, whatever the format
  const report = JSON.parse(r.stdout) as PolicyReportObject;
  t.deepEqual(validateOpenApi(SCHEMA, report), []);
  t.is(report.apiVersion, 'wgpolicyk8s.io/v1alpha2');
  t.is(report.kind, 'ClusterPolicyReport');
  t.is(report.metadata.name, 'netconform-node-node-b');
  t.deepEqual(report.scope, { apiVersion: 'v1', kind: 'Node', name: 'node-b' });
  const fail = report.results.filter((x) => x.result === 'fail');
  t.is(fail.length, 1);
  t.like(fail[0], {
    source: 'netconform', policy: 'pod-network.sysctl', rule: 'net.ipv4.ip_forward', category: 'network',
    severity: 'critical', scored: true,
    properties: { node: 'node-b', subject: 'net.ipv4.ip_forward', evidence: '{"key":"net.ipv4.ip_forward","expected":"1","observed":"0"}' },
  });
  t.regex(fail[0]!.message, /^net\.ipv4\.ip_forward is 0; pods cannot reach other nodes or Services/);
  // Every check that did not run on this minimal bundle says so, unscored.
  const skips = report.results.filter((x) => x.result === 'skip');
  t.true(skips.length >= 9);
  t.true(skips.every((x) => x.scored === false && x.message.startsWith('skipped: ')));
  t.is(summed(report), report.results.length);
  t.is(report.summary.fail, 1);
  t.is(report.summary.skip, skips.length);
});

test('passing results are one per check, however many subjects passed', (t) => {
  const findings: Finding[] = [];
  for (let i = 0; i < 1000; i++) findings.push({ check: 'service-routing.clusterip', status: 'pass', severity: 'info', subject: `ns/svc-${i}:80/TCP`, message: 'ok' });
  findings.push({ check: 'service-routing.clusterip', status: 'fail', severity: 'high', subject: 'ns/broken:80/TCP', message: 'ClusterIP 10.96.0.9:80/TCP: stale endpoint 10.244.1.9:8080', evidence: { stale: ['10.244.1.9:8080'] } });
  const checks: CheckSummary[] = [{ id: 'service-routing.clusterip', status: 'fail', passed: 1000, failed: 1, warned: 0, skipped: 0, errored: 0 }];
  const report = nodePolicyReport({ node: 'n1', scannedAt: '2026-12-02T10:00:00.250Z', checks, findings });
  t.deepEqual(validateOpenApi(SCHEMA, report), []);
  t.is(report.results.length, 2);
  t.deepEqual(report.summary, { pass: 1, fail: 1, warn: 0, error: 0, skip: 0 });
  t.deepEqual(report.results[1], {
    source: 'netconform', policy: 'service-routing.clusterip', rule: 'service-routing.clusterip', category: 'network',
    result: 'pass', severity: 'info', scored: true, message: '1000 subjects pass',
    timestamp: { seconds: 1796205600, nanos: 250_000_000 }, properties: { node: 'n1', passed: '1000' },
  });
});

test('namespace reports carry Pod Security findings; openreports flavour has its kinds and source', (t) => {
  const f: Finding = { check: 'psa.namespace-labels', status: 'warn', severity: 'medium', subject: 'shop', message: 'enforce=baseline is not pinned to a version', evidence: { enforce: 'baseline' } };
  const ns = namespacePolicyReport('shop', '2026-12-02T10:00:00Z', [f]);
  t.deepEqual(validateOpenApi(SCHEMA, ns), []);
  t.is(ns.kind, 'PolicyReport');
  t.is(ns.metadata.namespace, 'shop');
  t.like(ns.results[0], { category: 'pod-security', policy: 'psa.namespace-labels', rule: 'shop', properties: { namespace: 'shop', subject: 'shop' } });
  const or = nodePolicyReport({ node: 'N_1', scannedAt: '2026-12-02T10:00:00Z', checks: [], findings: [] }, 'openreports');
  t.deepEqual(validateOpenApi(SCHEMA, or), []);
  t.is(or.apiVersion, 'openreports.io/v1alpha1');
  t.is(or.kind, 'ClusterReport');
  t.is(or.source, 'netconform');
  t.is(or.metadata.name, 'netconform-node-n-1');
});

test('the schema check fails on what the API server would refuse or prune', (t) => {
  const bad = {
    apiVersion: 'wgpolicyk8s.io/v1alpha2', kind: 'ClusterPolicyReport', metadata: { name: 'x' },
    results: [{ policy: 'p', severity: 'urgent', result: 'ok', timestamp: { seconds: 1 }, properties: { n: 1 }, colour: 'red' }],
  };
  t.deepEqual(validateOpenApi(SCHEMA, bad), [
    '$.results[0].severity: "urgent" is not one of critical, high, low, medium, info',
    '$.results[0].result: "ok" is not one of pass, fail, warn, error, skip',
    '$.results[0].timestamp.nanos: required',
    '$.results[0].properties.n: expected a string',
    '$.results[0].colour: unknown field',
  ]);
});
