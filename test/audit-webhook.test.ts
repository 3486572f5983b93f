import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from 'prom-client';
import { createLogger } from '../common/log.js';
import { openStore } from '../collector/store/store.js';
import { AuditEventStore } from '../collector/store/audit-events.js';
import { PsaMetrics } from '../collector/audit/metrics.js';
import { AuditIngest } from '../collector/audit/ingest.js';
import { startAuditWebhook, type AuditWebhook } from '../collector/audit/webhook.js';
import { replayAuditLog } from '../collector/audit/replay.js';
import { sample } from './support/processes.js';
import { eventList, fixtureText, makeTls, podEvent, post, type Tls } from './fixtures/audit/helpers.js';

const log = createLogger({ component: 'test' }, 'silent');

interface Rig {
  readonly hook: AuditWebhook;
  readonly events: AuditEventStore;
  readonly ingest: AuditIngest;
  readonly metrics: PsaMetrics;
  readonly scrape: () => Promise<string>;
}

let tls: Tls;
test.before(() => {
  tls = makeTls();
});
test.after.always(() => {
  if (tls) rmSync(tls.dir, { recursive: true, force: true });
});

async function rig(t: { teardown(fn: () => void | Promise<void>): void }, opts: { maxBodyBytes?: number; mtls?: boolean } = {}): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), 'netconform-audit-'));
  const store = openStore(join(dir, 'netconform.db'));
  const registry = new Registry();
  const metrics = new PsaMetrics(registry);
  const events = new AuditEventStore(store);
  const ingest = new AuditIngest(events, metrics, log);
  const hook = await startAuditWebhook({
    listen: { host: '127.0.0.1', port: 0 }, tlsCert: tls.serverCert, tlsKey: tls.serverKey,
    ...(opts.mtls ? { clientCA: tls.caCert } : {}), ...(opts.maxBodyBytes ? { maxBodyBytes: opts.maxBodyBytes } : {}),
    ingest, metrics, registry, log,
  });
  t.teardown(async () => {
    await hook.close();
    store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { hook, events, ingest, metrics, scrape: () => registry.metrics() };
}

test('a real-shaped EventList over HTTPS with a client certificate is stored and counted once', async (t) => {
  const r = await rig(t, { mtls: true });
  t.regex(r.hook.url, /^https:\/\/127\.0\.0\.1:\d+\/audit\/webhook$/);
  const body = fixtureText('eventlist-psa.json');
  const first = await post(r.hook.url, body, { tls, clientCert: true });
  t.is(first.status, 200, first.body);
  t.deepEqual(JSON.parse(first.body), { stored: 7, duplicates: 0, rejected: 0 });
  t.is(r.events.count(), 7);

  const check = async (): Promise<void> => {
    const m = await r.scrape();
    t.is(sample(m, 'netconform_audit_events_received_total', { source: 'webhook' }), 7);
    t.is(sample(m, 'netconform_psa_violations_total', { namespace: 'default', level: 'restricted', version: 'latest', mode: 'audit' }), 2);
    t.is(sample(m, 'netconform_psa_violations_total', { namespace: 'prod', level: 'baseline', version: 'v1.30', mode: 'enforce' }), 1);
    t.is(sample(m, 'netconform_psa_violations_total', { namespace: 'prod', level: 'restricted', version: 'v1.30', mode: 'audit' }), 1);
    // Deployments carry audit-violations too, but only pods are counted (no double count per workload).
    t.is(sample(m, 'netconform_psa_violations_total', { namespace: 'shop', level: 'restricted', version: 'v1.29', mode: 'audit' }), 1);
    t.is(sample(m, 'netconform_psa_control_violations_total', { namespace: 'default', level: 'restricted', control: 'allowPrivilegeEscalation' }), 2);
    t.is(sample(m, 'netconform_psa_control_violations_total', { namespace: 'prod', level: 'baseline', control: 'privileged' }), 1);
    t.is(sample(m, 'netconform_psa_control_violations_total', { namespace: 'prod', level: 'restricted', control: 'hostNamespaces' }), 1);
    t.is(sample(m, 'netconform_psa_exemptions_total', { namespace: 'kube-system' }), 1);
    t.is(sample(m, 'netconform_audit_last_event_timestamp_seconds'), Date.parse('2026-11-29T10:04:00.020Z') / 1000);
  };
  await check();

  // The API server retries a batch it thinks failed: 200 again, nothing counted twice.
  const retry = await post(r.hook.url, body, { tls, clientCert: true });
  t.is(retry.status, 200);
  t.deepEqual(JSON.parse(retry.body), { stored: 0, duplicates: 7, rejected: 0 });
  t.is(r.events.count(), 7);
  await check();

  const sum = r.events.summary({ namespace: 'shop' });
  t.deepEqual(sum.recent.map((e) => [e.pod, e.user, e.mode, e.level, e.version]), [
    ['web-7d9c5b6f4-', 'system:serviceaccount:kube-system:replicaset-controller', 'audit', 'restricted', 'v1.29'],
  ]);
  const prod = r.events.summary({ namespace: 'prod' });
  t.is(prod.recent[0]!.mode, 'enforce');
  t.deepEqual(prod.recent[0]!.controls, ['privileged', 'hostNamespaces']);
});

test('without a client certificate the mTLS listener refuses the connection', async (t) => {
  const r = await rig(t, { mtls: true });
  await t.throwsAsync(post(r.hook.url, eventList([podEvent('x1')]), { tls, clientCert: false }));
  t.is(r.events.count(), 0);
});

test('a body that is not an EventList gets 400 with a message, and loses nothing stored before', async (t) => {
  const r = await rig(t);
  t.is((await post(r.hook.url, eventList([podEvent('keep-1'), podEvent('keep-2')]), { tls })).status, 200);
  const notJson = await post(r.hook.url, '{"kind":"EventList", items: [', { tls });
  t.is(notJson.status, 400);
  t.regex(JSON.parse(notJson.body).error, /^body is not JSON: /);
  const pod = await post(r.hook.url, JSON.stringify({ kind: 'Pod', apiVersion: 'v1', metadata: { name: 'x' } }), { tls });
  t.is(pod.status, 400);
  t.is(JSON.parse(pod.body).error, 'not an audit.k8s.io/v1 EventList: kind is "Pod", expected "EventList"');
  const wrongVersion = await post(r.hook.url, JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v2', items: [] }), { tls });
  t.is(wrongVersion.status, 400);
  t.regex(JSON.parse(wrongVersion.body).error, /apiVersion is "audit\.k8s\.io\/v2"/);
  const itemsNotArray = await post(r.hook.url, JSON.stringify({ kind: 'EventList', apiVersion: 'audit.k8s.io/v1', items: {} }), { tls });
  t.is(itemsNotArray.status, 400);
  t.is(r.events.count(), 2);
  const m = await r.scrape();
  t.is(sample(m, 'netconform_audit_events_rejected_total', { reason: 'invalid_json' }), 1);
  t.is(sample(m, 'netconform_audit_events_rejected_total', { reason: 'not_event_list' }), 3);
});

test('a body above --audit-max-body gets 413 and stores nothing', async (t) => {
  const r = await rig(t, { maxBodyBytes: 64 * 1024 });
  const items = Array.from({ length: 100 }, (_, i) => podEvent(`big-${i}`));
  const body = eventList(items);
  t.true(body.length > 64 * 1024);
  const res = await post(r.hook.url, body, { tls });
  t.is(res.status, 413);
  t.regex(JSON.parse(res.body).error, /above the limit of 65536 \(--audit-max-body\)/);
  t.is(r.events.count(), 0);
  t.is(sample(await r.scrape(), 'netconform_audit_events_rejected_total', { reason: 'body_too_large' }), 1);
  // The listener keeps serving.
  t.is((await post(r.hook.url, eventList(items.slice(0, 5)), { tls })).status, 200);
  t.is(r.events.count(), 5);
});

test('one broken event inside a good batch: 200, the rest recorded, the bad one counted', async (t) => {
  const r = await rig(t);
  const items = [
    podEvent('ok-1'), 42, { stage: 'ResponseComplete' }, { ...podEvent('bad-time'), stageTimestamp: 'yesterday', requestReceivedTimestamp: undefined },
    { ...podEvent('bad-code'), responseStatus: { code: '201' } }, podEvent('ok-2'),
  ];
  const res = await post(r.hook.url, eventList(items), { tls });
  t.is(res.status, 200);
  const body = JSON.parse(res.body) as { stored: number; rejected: number; errors: string[] };
  t.is(body.stored, 2);
  t.is(body.rejected, 4);
  t.deepEqual(body.errors, [
    'items[1]: event is not a JSON object',
    'items[2]: event has no auditID',
    'items[3]: event bad-time: no valid stageTimestamp or requestReceivedTimestamp',
    'items[4]: event bad-code: responseStatus.code is not an integer',
  ]);
  const m = await r.scrape();
  t.is(sample(m, 'netconform_audit_events_rejected_total', { reason: 'not_an_object' }), 1);
  t.is(sample(m, 'netconform_audit_events_rejected_total', { reason: 'missing_field' }), 1);
  t.is(sample(m, 'netconform_audit_events_rejected_total', { reason: 'invalid_field' }), 2);
  t.is(sample(m, 'netconform_audit_events_received_total', { source: 'webhook' }), 2);
});

test('method, path and content type are checked', async (t) => {
  const r = await rig(t);
  t.is((await post(r.hook.url, eventList([]), { tls, contentType: 'text/plain' })).status, 415);
  t.is((await post(r.hook.url.replace('/audit/webhook', '/other'), eventList([]), { tls })).status, 404);
  t.is((await post(r.hook.url, eventList([]), { tls, contentType: 'application/json; charset=utf-8' })).status, 200);
});

test('concurrent posters with overlapping retries: every event stored and counted exactly once', async (t) => {
  const r = await rig(t);
  const posters = 4, batches = 10, perBatch = 50;
  const batchBodies = Array.from({ length: batches }, (_, b) => eventList(Array.from({ length: perBatch }, (_, i) => podEvent(`c-${b}-${i}`, { variant: i, namespace: `ns-${i % 3}` }))));
  // Every poster sends every batch (as if each were a retry of the others), in a different order.
  const results = await Promise.all(Array.from({ length: posters }, async (_, p) => {
    const order = batchBodies.map((_, i) => (i + p * 3) % batches);
    const out: number[] = [];
    for (const i of order) out.push((await post(r.hook.url, batchBodies[i]!, { tls })).status);
    return out;
  }));
  t.true(results.flat().every((s) => s === 200));
  t.is(r.events.count(), batches * perBatch);
  const m = await r.scrape();
  t.is(sample(m, 'netconform_audit_events_received_total', { source: 'webhook' }), batches * perBatch);
  const total = [0, 1, 2].reduce((acc, i) => acc
    + (sample(m, 'netconform_psa_violations_total', { namespace: `ns-${i}`, level: 'restricted', version: 'latest', mode: 'audit' }) ?? 0)
    + (sample(m, 'netconform_psa_violations_total', { namespace: `ns-${i}`, level: 'restricted', version: 'v1.30', mode: 'audit' }) ?? 0)
    + (sample(m, 'netconform_psa_violations_total', { namespace: `ns-${i}`, level: 'baseline', version: 'v1.30', mode: 'audit' }) ?? 0), 0);
  t.is(total, batches * perBatch);
});

test('--audit-log replays a JSON-lines log through the same path; a second replay adds nothing', async (t) => {
  const r = await rig(t);
  const dir = mkdtempSync(join(tmpdir(), 'netconform-auditlog-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'audit.log');
  const fixture = JSON.parse(fixtureText('eventlist-psa.json')) as { items: unknown[] };
  const lines = [...fixture.items.map((e) => JSON.stringify(e)), 'not json at all', '', JSON.stringify(podEvent('log-1'))];
  writeFileSync(file, lines.join('\n') + '\n');
  const first = await replayAuditLog(file, r.ingest, r.metrics, 3);
  t.is(first.inserted, 8);
  t.is(first.rejected, 1);
  t.deepEqual(first.errors, [`${file}:8: not JSON: ${(() => { try { JSON.parse('not json at all'); return ''; } catch (e) { return (e as Error).message; } })()}`]);
  const second = await replayAuditLog(file, r.ingest, r.metrics);
  t.is(second.inserted, 0);
  t.is(second.duplicates, 8);
  const m = await r.scrape();
  t.is(sample(m, 'netconform_audit_events_received_total', { source: 'log' }), 8);
  // The webhook then sees the same events: duplicates, not counted.
  const res = await post(r.hook.url, fixtureText('eventlist-psa.json'), { tls });
  t.deepEqual(JSON.parse(res.body), { stored: 0, duplicates: 7, rejected: 0 });
  await t.throwsAsync(replayAuditLog(join(dir, 'missing.log'), r.ingest, r.metrics), { message: /missing\.log: cannot read audit log: ENOENT/ });
});
