// The report store commits a batch per event-loop turn and the Ack waits for that commit;
// agents bound their reports and the collector keeps the counts of what was left out. Real
// SQLite files, a real collector and the agent's real Reporter over gRPC on 127.0.0.1.
import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openStore } from '../collector/store/store.js';
import { ReportStore } from '../collector/store/reports.js';
import { NodeRegistry, type NodeReport } from '../collector/nodes.js';
import { startCollector } from '../collector/collector.js';
import { Reporter } from '../agent/reporter.js';
import { boundFindings, MAX_REPORT_FINDINGS } from '../agent/report/bound.js';
import { createLogger } from '../common/log.js';
import type { Finding } from '../common/findings.js';
import { sample, scrape } from './support/processes.js';

const log = createLogger({ component: 'test' }, 'silent');

function tmpDb(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'netconform-batch-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'netconform.db');
}

const fnd = (check: string, subject: string, status: Finding['status'], severity: Finding['severity']): Finding => ({ check, status, severity, subject, message: `${check} ${subject}` });
const report = (node: string, sequence: number, findings: Finding[]): NodeReport => ({
  node, sequence, bootId: 'boot-1', scannedAt: '2026-12-01T10:00:00.000Z', receivedAt: '2026-12-01T10:00:01.000Z', proxyMode: 'iptables', cni: 'bridge', agentVersion: '0.1.0',
  checks: [{ id: 'service-routing.clusterip', status: findings.length ? 'fail' : 'pass', passed: 3, failed: findings.length, warned: 0, skipped: 0, errored: 0 }], findings,
});

test('reports queued in one turn commit in one transaction, and each resolves only once committed', async (t) => {
  const path = tmpDb(t);
  const store = openStore(path);
  t.teardown(() => store.close());
  const rs = new ReportStore(store);
  const done = Array.from({ length: 50 }, (_, i) => rs.reportAccepted(report(`n${i}`, 1, [fnd('service-routing.clusterip', `shop/a${i}:80/TCP`, 'fail', 'high')])));
  // Nothing is committed before the turn ends (one transaction for the batch): another connection sees no row yet.
  const reader = new Database(path, { readonly: true });
  t.teardown(() => reader.close());
  t.is((reader.prepare('SELECT count(*) AS n FROM node_reports').get() as { n: number }).n, 0);
  await Promise.all(done);
  t.is((reader.prepare('SELECT count(*) AS n FROM node_reports').get() as { n: number }).n, 50);
  t.is((reader.prepare('SELECT count(*) AS n FROM current_findings').get() as { n: number }).n, 50);
  t.is(rs.history('n7')[0]!.subject, 'shop/a7:80/TCP');
  // Two reports of one node in the same batch: history follows both, in order.
  await Promise.all([
    rs.reportAccepted(report('n1', 2, [fnd('service-routing.clusterip', 'shop/b:80/TCP', 'fail', 'high')])),
    rs.reportAccepted(report('n1', 3, [])),
  ]);
  t.deepEqual(rs.history('n1').map((h) => [h.subject, h.closedAt !== null]), [['shop/b:80/TCP', true], ['shop/a1:80/TCP', true]]);
  t.is((reader.prepare('SELECT sequence FROM node_reports WHERE node = ?').get('n1') as { sequence: number }).sequence, 3);
  t.is(Number(store.db.pragma('synchronous', { simple: true })), 2, 'the connection is back at synchronous=FULL for other writers');
});

test('a report the store cannot write is rejected and forgotten, so the resend is stored', async (t) => {
  const path = tmpDb(t);
  const store = openStore(path);
  t.teardown(() => store.close());
  const rs = new ReportStore(store);
  const reg = new NodeRegistry();
  reg.addSink(rs);
  t.is(await reg.acceptAndStore(report('n1', 1, [])), 'accepted');
  store.db.exec('ALTER TABLE current_findings RENAME TO gone');
  const err = await t.throwsAsync(reg.acceptAndStore(report('n1', 2, [fnd('service-routing.clusterip', 'shop/a:80/TCP', 'fail', 'high')])));
  t.regex(err!.message, /no such table: current_findings/);
  t.is(reg.get('n1')!.report!.sequence, 1, 'the registry forgot the unstored report');
  store.db.exec('ALTER TABLE gone RENAME TO current_findings');
  t.is(await reg.acceptAndStore(report('n1', 2, [fnd('service-routing.clusterip', 'shop/a:80/TCP', 'fail', 'high')])), 'accepted');
  t.is(rs.loadReports()[0]!.sequence, 2);
});

test('boundFindings keeps the worst findings, lets every check take turns, and counts the rest', (t) => {
  const many = Array.from({ length: 1000 }, (_, i) => fnd('service-routing.clusterip', `shop/s${i}:80/TCP`, 'fail', 'high'));
  const others = [fnd('service-routing.nodeport', 'shop/np:30080/TCP', 'fail', 'high'), fnd('cni.config', '/etc/cni/net.d/10.conf', 'warn', 'low'),
    fnd('pod-network.sysctl', 'net.ipv4.ip_forward', 'fail', 'critical'), fnd('pod-network.routes', 'x', 'pass', 'info')];
  const b = boundFindings([...many.slice(0, 500), ...others, ...many.slice(500)], 10);
  t.deepEqual(b.findings.map((f) => f.subject), [
    'shop/s0:80/TCP', 'shop/s1:80/TCP', 'shop/s2:80/TCP', 'shop/s3:80/TCP', 'shop/s4:80/TCP', 'shop/s5:80/TCP', 'shop/s6:80/TCP', 'shop/s7:80/TCP',
    'shop/np:30080/TCP', 'net.ipv4.ip_forward',
  ]);
  t.deepEqual(b.omitted, [
    { check: 'cni.config', status: 'warn', severity: 'low', count: 1 },
    { check: 'service-routing.clusterip', status: 'fail', severity: 'high', count: 992 },
  ]);
  const small = boundFindings(others);
  t.deepEqual([small.findings.length, small.omitted], [3, []]);
  t.is(MAX_REPORT_FINDINGS, 500);
});

test('a bounded report travels over gRPC: the collector stores the findings sent and the counts of the rest, and Acks after the commit', async (t) => {
  const path = tmpDb(t);
  const store = openStore(path);
  const rs = new ReportStore(store);
  const collector = await startCollector({ grpcListen: '127.0.0.1:0', httpListen: '127.0.0.1:0', log, nodeRetentionMs: 3_600_000, sinks: [rs], history: rs, metricsDetail: true });
  t.teardown(async () => {
    await collector.stop();
    store.close();
  });
  const acked: number[] = [];
  const reporter = new Reporter(`127.0.0.1:${collector.grpcPort}`, 'big-node', 'test', log, { onAck: (s) => void acked.push(s) });
  t.teardown(() => reporter.stop());
  reporter.start();
  const findings = Array.from({ length: 1200 }, (_, i) => fnd('service-routing.clusterip', `shop/s${i}:80/TCP`, 'fail', i % 2 ? 'high' : 'medium'));
  const bounded = boundFindings(findings);
  reporter.submit({ scannedAt: '2026-12-01T10:00:00.000Z', proxyMode: 'iptables', cni: 'bridge', checks: [{ id: 'service-routing.clusterip', status: 'fail', passed: 7, failed: 1200, warned: 0, skipped: 0, errored: 0 }], ...bounded });
  const deadline = Date.now() + 15_000;
  while (acked.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  t.deepEqual(acked, [1]);
  // Acked means on disk: a separate connection reads it.
  const reader = new Database(path, { readonly: true });
  t.is((reader.prepare('SELECT count(*) AS n FROM current_findings WHERE node = ?').get('big-node') as { n: number }).n, 500);
  t.deepEqual(JSON.parse((reader.prepare('SELECT omitted_json FROM node_reports WHERE node = ?').get('big-node') as { omitted_json: string }).omitted_json),
    [{ check: 'service-routing.clusterip', status: 'fail', severity: 'high', count: 100 }, { check: 'service-routing.clusterip', status: 'fail', severity: 'medium', count: 600 }]);
  reader.close();
  t.deepEqual(rs.loadReports()[0]!.omitted, [{ check: 'service-routing.clusterip', status: 'fail', severity: 'high', count: 100 }, { check: 'service-routing.clusterip', status: 'fail', severity: 'medium', count: 600 }]);
  // Metrics count every failure, sent or counted.
  const m = await scrape(collector.httpPort);
  t.is(sample(m, 'netconform_findings', { node: 'big-node', check: 'service-routing.clusterip', status: 'fail', severity: 'high' }), 600);
  t.is(sample(m, 'netconform_findings', { node: 'big-node', check: 'service-routing.clusterip', status: 'fail', severity: 'medium' }), 600);
  t.is(sample(m, 'netconform_check_status', { node: 'big-node', check: 'service-routing.clusterip' }), 4);
});
