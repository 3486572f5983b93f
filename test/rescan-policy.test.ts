// When the agent rescans after a cluster context change: the pure decision, and the
// scheduler polling a real kube-proxy-shaped metrics endpoint over HTTP.
import test from 'ava';
import { decideRescan, RescanScheduler } from '../agent/rescan-policy.js';
import { kubeProxyLastSyncMs } from '../agent/inspect/kube-proxy.js';
import { kubeProxyMetricsText, serveOnHost } from './support/kube-proxy-metrics.js';

const T = 1_764_688_000_000;

test('decideRescan: waits for kube-proxy to sync past the latest change, bounded by the settle window from the first', (t) => {
  const w = { firstChangeMs: T, lastChangeMs: T + 4000 };
  t.deepEqual(decideRescan(w, T + 5000, 30_000, T + 3999), { action: 'wait', ms: 1500 });
  t.deepEqual(decideRescan(w, T + 5000, 30_000, T + 4000), { action: 'scan', why: 'kube-proxy synced after the cluster context changed' });
  t.deepEqual(decideRescan(w, T + 5000, 30_000, undefined), { action: 'wait', ms: 1500 });
  t.deepEqual(decideRescan(w, T + 29_500, 30_000, undefined), { action: 'wait', ms: 500 });
  t.deepEqual(decideRescan(w, T + 30_000, 30_000, T - 1), { action: 'scan', why: 'settle window after the cluster context change ended' });
  t.deepEqual(decideRescan(w, T + 1000, 30_000, T + 1000, 250), { action: 'wait', ms: 250 });
});

test('the scheduler scans once, after the served sync timestamp moves past the change', async (t) => {
  let lastSyncMs = Date.now() - 10_000;
  const server = await serveOnHost(() => kubeProxyMetricsText({ lastSyncMs, endpointsPending: 1, servicesPending: 0 }));
  t.teardown(() => server.close());
  const scans: { why: string; at: number }[] = [];
  const s = new RescanScheduler({ settleMs: 20_000, pollMs: 100, lastSync: () => kubeProxyLastSyncMs(server.url), scan: (why) => scans.push({ why, at: Date.now() }) });
  t.teardown(() => s.stop());
  const changed = Date.now();
  s.scheduleAfterContextChange(changed);
  s.scheduleAfterContextChange(changed + 1); // a burst: still one scan
  await new Promise((r) => setTimeout(r, 600));
  t.deepEqual(scans, []);
  t.true(s.pending);
  t.true(server.requests() >= 3, `polled ${server.requests()} times`);
  const syncedAt = Date.now();
  lastSyncMs = syncedAt;
  await new Promise((r) => setTimeout(r, 600));
  t.is(scans.length, 1);
  t.is(scans[0]!.why, 'kube-proxy synced after the cluster context changed');
  t.true(scans[0]!.at >= syncedAt);
  t.false(s.pending);
});

test('without reachable metrics the scheduler scans when the settle window ends', async (t) => {
  const server = await serveOnHost(() => '');
  const url = server.url;
  await server.close(); // nothing listens there any more
  const scans: string[] = [];
  const s = new RescanScheduler({ settleMs: 700, pollMs: 100, lastSync: () => kubeProxyLastSyncMs(url), scan: (why) => scans.push(why) });
  t.teardown(() => s.stop());
  const started = Date.now();
  s.scheduleAfterContextChange(started);
  await new Promise((r) => setTimeout(r, 400));
  t.deepEqual(scans, []);
  await new Promise((r) => setTimeout(r, 900));
  t.deepEqual(scans, ['settle window after the cluster context change ended']);
});
