// The convergence rule's corners (agent/dataplane/convergence.ts), as pure data; the lab
// test (kube-proxy-convergence.test.ts) proves it on a real node.
import test from 'ava';
import { convergence, formatAge } from '../agent/dataplane/convergence.js';
import type { KubeProxyFacts } from '../agent/inspect/kube-proxy.js';

const NOW = Date.parse('2026-12-02T15:00:00.000Z');
const facts = (metrics: KubeProxyFacts['metrics']): KubeProxyFacts => ({ source: 'http://127.0.0.1:10249/metrics', settleMs: 30_000, stallMs: 300_000, metrics });

test('no facet: never converging (a bundle without kube-proxy-metrics.txt is judged as always)', (t) => {
  t.deepEqual(convergence(undefined, NOW - 1000, NOW), { converging: false });
});

test('kube-proxy has never synced: a change is converging, and says so', (t) => {
  const c = convergence(facts({ scrapedAt: '', endpointChangesPending: 0, serviceChangesPending: 0 }), NOW - 2000, NOW);
  t.true(c.converging);
  t.is(c.converging && c.reason, 'the Service changed 2s ago, and kube-proxy has completed no sync since it started');
});

test('a scrape without sync metrics falls back to the settle window', (t) => {
  const c = convergence(facts({ scrapedAt: '' }), NOW - 29_000, NOW);
  t.is(c.converging && c.reason, 'the Service changed 29s ago, within the 30s settle window, and kube-proxy\'s metrics are unavailable (http://127.0.0.1:10249/metrics has no sync metrics)');
  t.deepEqual(convergence(facts({ scrapedAt: '' }), NOW - 30_000, NOW), { converging: false });
});

test('pending without a change time is converging; a change exactly at the sync is not', (t) => {
  const m = { scrapedAt: '', lastSyncSeconds: (NOW - 61_000) / 1000, endpointChangesPending: 0, serviceChangesPending: 1 };
  const c = convergence(facts(m), undefined, NOW);
  t.is(c.converging && c.reason, 'kube-proxy reports 0 endpoint changes and 1 service change pending, last sync 1m1s ago');
  const synced = convergence(facts({ ...m, serviceChangesPending: 0 }), NOW - 61_000, NOW);
  t.false(synced.converging);
  t.deepEqual(synced.evidence, {
    kubeProxy: { source: 'http://127.0.0.1:10249/metrics', endpointChangesPending: 0, serviceChangesPending: 0, lastSync: '2026-12-02T14:58:59.000Z', lastSyncAgeSeconds: 61 },
    serviceChangedAt: '2026-12-02T14:58:59.000Z', serviceChangedAgeSeconds: 61,
  });
});

test('formatAge', (t) => {
  t.deepEqual([0, 999, 59_400, 60_000, 125_000, 3_600_000, 3_780_000].map(formatAge), ['0s', '1s', '59s', '1m', '2m5s', '1h', '1h3m']);
});
