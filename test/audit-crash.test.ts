// Crash safety with real processes: what the collector acknowledged (an audit batch's 200,
// an agent report's Ack) is on disk when the collector is SIGKILLed, and the restarted
// collector serves it — events through `netconform psa`, findings (stale) through
// `netconform findings`.
import test from 'ava';
import * as grpc from '@grpc/grpc-js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadContract } from '../common/proto.js';
import { reportToWire } from '../common/wire.js';
import type { CollectorMessage__Output } from '../gen/proto/netconform/v1/CollectorMessage.js';
import { runProgram, sample, scrape, startCollectorProcess } from './support/processes.js';
import { fixtureText, makeTls, post, type Tls } from './fixtures/audit/helpers.js';

let tls: Tls;
let dir: string;
test.before(() => {
  tls = makeTls();
  dir = mkdtempSync(join(tmpdir(), 'netconform-crash-'));
});
test.after.always(() => {
  if (tls) rmSync(tls.dir, { recursive: true, force: true });
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const NAMESPACES = `apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Namespace
  metadata:
    name: prod
    labels:
      kubernetes.io/metadata.name: prod
      pod-security.kubernetes.io/enforce: baseline
      pod-security.kubernetes.io/enforce-version: v1.30
      pod-security.kubernetes.io/audit: restricted
      pod-security.kubernetes.io/audit-version: v1.30
      pod-security.kubernetes.io/warn: restricted
      pod-security.kubernetes.io/warn-version: v1.30
- apiVersion: v1
  kind: Namespace
  metadata:
    name: default
    labels:
      kubernetes.io/metadata.name: default
- apiVersion: v1
  kind: Namespace
  metadata:
    name: shop
    labels:
      pod-security.kubernetes.io/enforce: strict
- apiVersion: v1
  kind: Namespace
  metadata:
    name: kube-system
`;

async function startWithStore(db: string, extra: readonly string[] = []) {
  const c = await startCollectorProcess(['--db', db, '--audit-listen', '127.0.0.1:0', '--audit-tls-cert', tls.serverCert, '--audit-tls-key', tls.serverKey, ...extra]);
  const l = await c.waitForLog((x) => x.msg === 'audit webhook listening', 10_000, 'audit webhook');
  return Object.assign(c, { auditUrl: String(l['url']) });
}

/** A real AgentService client: Hello, one Report, and the collector's Ack. */
function reportOnce(address: string, node: string): Promise<void> {
  const contract = loadContract();
  const client = new contract.AgentService(address, grpc.credentials.createInsecure());
  const call = client.Connect();
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no Ack within 10 s')), 10_000);
    call.on('data', (m: CollectorMessage__Output) => {
      if (m.ack?.sequence === '1') {
        clearTimeout(timer);
        call.end();
        client.close();
        resolve();
      }
    });
    call.on('error', (err: Error) => {
      if (!/CANCELLED|Cancelled/.test(err.message)) reject(err);
    });
    call.write({ hello: { node, agentVersion: 'test-0', capabilities: [], bootId: 'boot-a' } });
    call.write({
      report: reportToWire({
        sequence: 1, bootId: 'boot-a', scannedAt: '2026-11-29T09:00:00.000Z', proxyMode: 'iptables', cni: 'bridge',
        checks: [{ id: 'no-nat.pod-to-pod', status: 'fail', passed: 0, failed: 1, warned: 0, skipped: 0, errored: 0 }],
        findings: [{ check: 'no-nat.pod-to-pod', status: 'fail', severity: 'high', subject: '10.244.1.0/24', message: 'pod-to-pod traffic is masqueraded', evidence: { rule: '-A POSTROUTING -j MASQUERADE' } }],
      }),
    });
  });
}

test('acknowledged audit events and reports survive SIGKILL; the restarted collector serves them (findings stale)', async (t) => {
  const db = join(dir, 'state', 'netconform.db');
  const nsFile = join(dir, 'namespaces.yaml');
  writeFileSync(nsFile, NAMESPACES);

  const first = await startWithStore(db, ['--cluster', nsFile]);
  t.teardown(() => first.stop('SIGKILL'));
  await reportOnce(first.address, 'node-a');
  const res = await post(first.auditUrl, fixtureText('eventlist-psa.json'), { tls });
  t.is(res.status, 200, res.body);
  t.is(JSON.parse(res.body).stored, 7);
  const killed = await first.stop('SIGKILL');
  t.is(killed.signal, 'SIGKILL');

  const second = await startWithStore(db);
  t.teardown(() => second.stop('SIGKILL'));

  const psa = await runProgram('cli', ['psa', '--collector', second.address, '--output', 'json']);
  t.is(psa.code, 0, psa.stderr);
  const summary = JSON.parse(psa.stdout) as {
    eventsStored: number;
    namespaces: { namespace: string; auditViolations: number; enforceDenials: number; exemptions: number }[];
    recent: { auditId: string; mode: string; pod: string }[];
    modes: { namespace: string; enforce: string; enforceVersion: string }[];
  };
  t.is(summary.eventsStored, 7);
  t.deepEqual(summary.namespaces.map((n) => [n.namespace, n.auditViolations, n.enforceDenials, n.exemptions]), [
    ['default', 2, 0, 0], ['kube-system', 0, 0, 1], ['prod', 1, 1, 0], ['shop', 1, 0, 0],
  ]);
  t.true(summary.recent.some((e) => e.auditId === '5e2a1f0c-1b7e-4c2a-9d0e-000000000002' && e.mode === 'enforce' && e.pod === 'nginx'));
  // Namespace labels were remembered from the first run's --cluster file.
  t.deepEqual(summary.modes.find((m) => m.namespace === 'prod'), { namespace: 'prod', enforce: 'baseline', enforceVersion: 'v1.30', audit: 'restricted', auditVersion: 'v1.30', warn: 'restricted', warnVersion: 'v1.30', warnFollowsEnforce: false, labelErrors: [] });

  const table = await runProgram('cli', ['psa', '--collector', second.address, '--namespace', 'prod']);
  t.is(table.code, 0, table.stderr);
  t.regex(table.stdout, /prod\s+baseline:v1\.30\s+restricted:v1\.30\s+restricted:v1\.30\s+1\s+1\s+0/);
  t.regex(table.stdout, /nginx\s+alice@example\.com\s+denied\s+baseline:v1\.30\s+privileged, hostNamespaces/);

  const findings = await runProgram('cli', ['findings', '--collector', second.address, '--output', 'json']);
  t.is(findings.code, 0, findings.stderr);
  const rows = (JSON.parse(findings.stdout) as { findings: { node: string; stale: boolean; subject: string; since: string; check: string }[] }).findings;
  t.is(rows.length, 1);
  t.like(rows[0], { node: 'node-a', stale: true, check: 'no-nat.pod-to-pod', subject: '10.244.1.0/24' });
  t.truthy(rows[0]!.since);
  const nodes = await runProgram('cli', ['nodes', '--collector', second.address]);
  t.regex(nodes.stdout, /node-a\s+no \(stale\)/);

  // The counters restart from 0 in the new process (Prometheus semantics); the store keeps the events.
  const m = await scrape(second.httpPort);
  t.is(sample(m, 'netconform_audit_events_received_total', { source: 'webhook' }), undefined);
  t.is(sample(m, 'netconform_psa_namespace_mode', { namespace: 'prod', mode: 'enforce', level: 'baseline', version: 'v1.30' }), 1);
  // Retried after the restart: still deduplicated against the store.
  const retry = await post(second.auditUrl, fixtureText('eventlist-psa.json'), { tls });
  t.deepEqual(JSON.parse(retry.body), { stored: 0, duplicates: 7, rejected: 0 });
});

test('netconform psa namespaces prints the label lint from a real collector and exits 1 on an invalid label', async (t) => {
  const nsFile = join(dir, 'namespaces-lint.yaml');
  writeFileSync(nsFile, NAMESPACES);
  const c = await startCollectorProcess(['--cluster', nsFile, '--psa-exempt-namespace', 'kube-system']);
  t.teardown(() => c.stop('SIGKILL'));
  const json = await runProgram('cli', ['psa', 'namespaces', '--collector', c.address, '--output', 'json']);
  t.is(json.code, 1, json.stderr);
  const out = JSON.parse(json.stdout) as { fromCluster: boolean; namespaces: { namespace: string; exempt: boolean; finding: { status: string; severity: string } }[] };
  t.true(out.fromCluster);
  t.deepEqual(out.namespaces.map((n) => [n.namespace, n.finding.status, n.finding.severity, n.exempt]), [
    ['default', 'warn', 'info', false], ['kube-system', 'skip', 'info', true], ['prod', 'pass', 'info', false], ['shop', 'fail', 'medium', false],
  ]);
  const table = await runProgram('cli', ['psa', 'namespaces', '--collector', c.address]);
  t.regex(table.stdout, /shop\s+restricted:latest\s+privileged:latest\s+privileged:latest\s+FAIL\s+medium\s+metadata\.labels\[pod-security\.kubernetes\.io\/enforce\]: Invalid value: "strict"/);
  const m = await scrape(c.httpPort);
  t.is(sample(m, 'netconform_psa_namespace_mode', { namespace: 'shop', mode: 'enforce', level: 'restricted', version: 'latest' }), 1);
});

test('bad audit flags are usage errors naming the flag', async (t) => {
  const r = await runProgram('collector', ['--db', ':memory:', '--audit-listen', '127.0.0.1:0', '--grpc-listen', '127.0.0.1:0', '--http-listen', '127.0.0.1:0']);
  t.is(r.code, 2);
  t.regex(r.stderr, /--audit-listen: needs --audit-tls-cert and --audit-tls-key \(or --audit-insecure for plain HTTP\)/);
  const size = await runProgram('collector', ['--db', ':memory:', '--audit-listen', '127.0.0.1:0', '--audit-insecure', '--audit-max-body', '12 parsecs']);
  t.is(size.code, 2);
  t.regex(size.stderr, /--audit-max-body: invalid size "12 parsecs"/);
});

test('a bad --policy-report-interval is a usage error also when PolicyReports are off', async (t) => {
  const r = await runProgram('collector', ['--insecure', '--no-kube', '--db', ':memory:', '--grpc-listen', '127.0.0.1:0', '--http-listen', '127.0.0.1:0', '--policy-report-interval', 'forever']);
  t.is(r.code, 2);
  t.regex(r.stderr, /^netconform-collector: --policy-report-interval: invalid duration "forever" \(use forms like 500ms, 30s, 5m, 1h, 30d\)$/m);
  const short = await runProgram('collector', ['--insecure', '--no-kube', '--db', ':memory:', '--grpc-listen', '127.0.0.1:0', '--http-listen', '127.0.0.1:0', '--policy-report-interval', '10ms']);
  t.is(short.code, 2);
  t.regex(short.stderr, /--policy-report-interval: "10ms" is below 1s/);
});
