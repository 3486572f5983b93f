import test from 'ava';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { openStore, StoreError } from '../collector/store/store.js';
import { MIGRATIONS } from '../collector/store/migrations.js';
import { ReportStore } from '../collector/store/reports.js';
import { AuditEventStore } from '../collector/store/audit-events.js';
import { startRetention } from '../collector/store/retention.js';
import { NodeRegistry, probeLayer, type NodeReport } from '../collector/nodes.js';
import { NO_NAT_OBSERVED } from '../common/probe.js';
import { createLogger } from '../common/log.js';
import { parseAuditEvent, type AuditRecord } from '../collector/audit/event.js';
import type { Finding } from '../common/findings.js';

const log = createLogger({ component: 'test' }, 'silent');

function tmpDb(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'netconform-store-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'sub', 'netconform.db');
}

const f = (check: string, subject: string, status: Finding['status'] = 'fail'): Finding => ({ check, status, severity: 'high', subject, message: `${check} ${subject}`, evidence: { rule: '-A X -j MASQUERADE' } });
const report = (node: string, sequence: number, findings: Finding[], receivedAt: string): NodeReport => ({
  node, sequence, bootId: 'boot-1', scannedAt: receivedAt, receivedAt, proxyMode: 'iptables', cni: 'bridge', agentVersion: '0.1.0',
  checks: [{ id: 'no-nat.pod-to-pod', status: 'fail', passed: 1, failed: findings.length, warned: 0, skipped: 0, errored: 0 }],
  findings,
});

test('opening creates the file, runs migrations once, and uses WAL with synchronous=FULL', (t) => {
  const path = tmpDb(t);
  const s = openStore(path);
  t.is(s.schemaVersion, MIGRATIONS.at(-1)!.version);
  t.is(String(s.db.pragma('journal_mode', { simple: true })), 'wal');
  t.is(Number(s.db.pragma('synchronous', { simple: true })), 2); // FULL
  s.close();
  const again = openStore(path);
  t.is(Number(again.db.pragma('user_version', { simple: true })), MIGRATIONS.at(-1)!.version);
  again.close();
});

test('a database from a newer collector is refused with a clear message', (t) => {
  const path = tmpDb(t);
  openStore(path).close();
  const raw = new Database(path);
  raw.pragma('user_version = 999');
  raw.close();
  const err = t.throws(() => openStore(path), { instanceOf: StoreError });
  t.regex(err!.message, /^--db .*: the database schema is version 999, newer than this collector understands/);
});

test('reports persist with their findings; history opens and closes per node+check+subject', async (t) => {
  const path = tmpDb(t);
  let s = openStore(path);
  let rs = new ReportStore(s);
  await rs.reportAccepted(report('n1', 1, [f('no-nat.pod-to-pod', 'a'), f('no-nat.pod-to-pod', 'b')], '2026-11-29T10:00:00.000Z'));
  t.is(rs.openedAt('n1', 'no-nat.pod-to-pod', 'a'), '2026-11-29T10:00:00.000Z');
  await rs.reportAccepted(report('n1', 2, [f('no-nat.pod-to-pod', 'b'), f('no-nat.pod-to-pod', 'c')], '2026-11-29T10:05:00.000Z'));
  t.is(rs.openedAt('n1', 'no-nat.pod-to-pod', 'a'), undefined); // closed
  t.is(rs.openedAt('n1', 'no-nat.pod-to-pod', 'b'), '2026-11-29T10:00:00.000Z'); // still open since the first report
  t.is(rs.openedAt('n1', 'no-nat.pod-to-pod', 'c'), '2026-11-29T10:05:00.000Z');
  s.close();

  // After a restart: same picture, from disk.
  s = openStore(path);
  rs = new ReportStore(s);
  t.is(rs.openedAt('n1', 'no-nat.pod-to-pod', 'b'), '2026-11-29T10:00:00.000Z');
  const [r] = rs.loadReports();
  t.is(r!.sequence, 2);
  t.deepEqual(r!.findings.map((x) => x.subject), ['b', 'c']);
  t.deepEqual(r!.findings[0]!.evidence, { rule: '-A X -j MASQUERADE' });
  t.deepEqual(r!.checks[0]!.id, 'no-nat.pod-to-pod');
  const h = rs.history('n1');
  t.deepEqual(h.map((x) => [x.subject, x.closedAt]).sort(), [['a', '2026-11-29T10:05:00.000Z'], ['b', null], ['c', null]]);

  // Restored into a registry, the node is stale until its agent reports again.
  const reg = new NodeRegistry();
  reg.restore(rs.loadReports());
  t.true(reg.get('n1')!.stale);
  t.is(reg.acceptReport({ ...r!, receivedAt: new Date().toISOString() }), 'duplicate');
  t.false(reg.get('n1')!.stale);

  // A node the registry forgets is forgotten in the store too.
  rs.nodeRemoved('n1');
  t.deepEqual(rs.loadReports(), []);
  t.is(rs.openedAt('n1', 'no-nat.pod-to-pod', 'b'), undefined);
  s.close();
});

test('with the store keeping findings, the registry holds none: it reads them back, probe merges included, and lists them in one query', async (t) => {
  const s = openStore(tmpDb(t));
  const rs = new ReportStore(s);
  const reg = new NodeRegistry(rs);
  reg.addSink(rs);
  const seen: string[][] = [];
  reg.addSink({ reportAccepted: (r) => void seen.push(r.findings.map((x) => `${x.check}/${x.subject}`)) });
  await reg.acceptAndStore(report('n2', 1, [f('cni.config', 'z')], '2026-11-29T10:00:00.000Z'));
  await reg.acceptAndStore(report('n1', 1, [f('no-nat.pod-to-pod', 'a'), f('pod-network.bridge', 'cbr0', 'warn')], '2026-11-29T10:00:00.000Z'));
  t.deepEqual(reg.get('n1')!.report!.findings.map((x) => x.subject), ['a', 'cbr0']);
  // What the registry answers is what the store has: gone from the table, gone from the registry.
  s.db.prepare("DELETE FROM current_findings WHERE node = 'n1' AND subject = 'a'").run();
  t.deepEqual(reg.get('n1')!.report!.findings.map((x) => x.subject), ['cbr0']);
  // A probe round merges into the agent's findings read back from the store.
  await reg.acceptProbe('n1', probeLayer({ bootId: 'p', sequence: 1, observedAt: '2026-11-29T10:01:00.000Z', receivedAt: '2026-11-29T10:01:00.000Z' },
    [{ check: NO_NAT_OBSERVED, status: 'fail', severity: 'critical', subject: 'node-b', message: 'masqueraded', evidence: { seen: '10.0.0.1' } }]));
  t.deepEqual(seen.at(-1), ['pod-network.bridge/cbr0', 'no-nat.observed/node-b']);
  t.deepEqual(reg.get('n1')!.report!.findings.map((x) => x.check), ['pod-network.bridge', NO_NAT_OBSERVED]);
  // The next agent report keeps the probe's part; its own findings replace the stored ones.
  await reg.acceptAndStore(report('n1', 2, [f('no-nat.pod-to-pod', 'b')], '2026-11-29T10:02:00.000Z'));
  t.deepEqual(reg.get('n1')!.report!.findings.map((x) => `${x.check}/${x.subject}`), ['no-nat.pod-to-pod/b', 'no-nat.observed/node-b']);
  // One query lists them, with the evidence as stored text and when each opened (a probe's
  // part opens at the receipt of the agent report it was merged into).
  const listed = rs.listFindings({ status: 'fail' });
  t.deepEqual(listed.map((x) => [x.node, x.subject, x.since]), [
    ['n1', 'b', '2026-11-29T10:02:00.000Z'], ['n1', 'node-b', '2026-11-29T10:00:00.000Z'], ['n2', 'z', '2026-11-29T10:00:00.000Z'],
  ]);
  t.is(listed[1]!.evidenceJson, '{"seen":"10.0.0.1"}');
  t.deepEqual(rs.listFindings({ node: 'n2', check: 'cni.config' }).map((x) => x.subject), ['z']);
  t.deepEqual(rs.listFindings({ node: 'n2', check: 'no-nat.pod-to-pod' }), []);
  s.close();
});

function rec(id: string, stage: string, ns: string, timeMs: number): AuditRecord {
  const r = parseAuditEvent({
    auditID: id, stage, verb: 'create', objectRef: { resource: 'pods', namespace: ns, name: `p-${id}` },
    user: { username: 'u' }, responseStatus: { code: 201 }, stageTimestamp: new Date(timeMs).toISOString(),
    annotations: { 'pod-security.kubernetes.io/audit-violations': 'would violate PodSecurity "restricted:v1.30": runAsUser=0 (pod must not set runAsUser=0)' },
  });
  if (!r.ok) throw new Error(r.message);
  return r.record;
}

test('audit events dedupe on auditID+stage across and inside batches', (t) => {
  const s = openStore(':memory:');
  t.teardown(() => s.close());
  const ev = new AuditEventStore(s);
  const now = Date.now();
  t.is(ev.insertBatch([rec('a', 'ResponseComplete', 'x', now), rec('a', 'RequestReceived', 'x', now), rec('a', 'ResponseComplete', 'x', now)], 'webhook').length, 2);
  t.is(ev.insertBatch([rec('a', 'ResponseComplete', 'x', now), rec('b', 'ResponseComplete', 'x', now)], 'webhook').length, 1);
  t.is(ev.count(), 3);
  const sum = ev.summary();
  t.deepEqual(sum.namespaces.map((n) => [n.namespace, n.auditViolations]), [['x', 2]]);
  t.deepEqual(sum.controls.map((c) => [c.control, c.count]), [['runAsUser', 2]]);
});

test('retention prunes old events and closed history in small chunks, keeps the rest', async (t) => {
  const s = openStore(':memory:');
  t.teardown(() => s.close());
  const ev = new AuditEventStore(s);
  const now = Date.now();
  const day = 86_400_000;
  const old = Array.from({ length: 25 }, (_, i) => rec(`old-${i}`, 'ResponseComplete', 'x', now - 40 * day));
  ev.insertBatch([...old, rec('new', 'ResponseComplete', 'x', now - day)], 'log');
  const rs = new ReportStore(s);
  await rs.reportAccepted(report('n1', 1, [f('c', 'a')], new Date(now - 45 * day).toISOString()));
  await rs.reportAccepted(report('n1', 2, [], new Date(now - 44 * day).toISOString()));
  const r = startRetention({ store: s, events: ev, retentionMs: 30 * day, log, chunk: 10 });
  t.teardown(() => r.stop());
  t.deepEqual(await r.pruneNow(now), { events: 25, history: 1 });
  t.is(ev.count(), 1);
  t.true(ev.has('new', 'ResponseComplete'));
  t.deepEqual(ev.summary().controls.map((c) => [c.control, c.count]), [['runAsUser', 1]]);
});

test('a report\'s fingerprint is stored with it and restored; a schema-2 database gains the column, its reports without one', async (t) => {
  const path = tmpDb(t);
  // A database as the collector before fingerprints left it: schema 2, one report.
  const old = openStore(path);
  old.close();
  const raw = new Database(path);
  raw.exec("ALTER TABLE node_reports DROP COLUMN fingerprint_json");
  raw.pragma('user_version = 2');
  raw.prepare("INSERT INTO node_reports (node, sequence, boot_id, scanned_at, received_at, proxy_mode, cni, agent_version, checks_json) VALUES ('old', 1, 'b', 't', 't', 'iptables', 'bridge', '0.1.0', '[]')").run();
  raw.close();

  let s = openStore(path);
  t.is(s.schemaVersion, MIGRATIONS.at(-1)!.version);
  let rs = new ReportStore(s);
  t.deepEqual(rs.loadReports().map((r) => [r.node, r.fingerprintJson]), [['old', undefined]]);
  const fingerprintJson = JSON.stringify({ node: 'n1', cni: { family: 'flannel' } });
  await rs.reportAccepted({ ...report('n1', 1, [], '2026-01-01T00:00:00.000Z'), fingerprintJson });
  s.close();
  s = openStore(path);
  rs = new ReportStore(s);
  t.deepEqual(rs.loadReports().map((r) => [r.node, r.fingerprintJson]), [['n1', fingerprintJson], ['old', undefined]]);
  s.close();
});
