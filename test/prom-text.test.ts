// The Prometheus text parser on a realistic kube-proxy scrape (test/fixtures/kube-proxy,
// see its README) and on the format's corners: escapes, ±Inf/NaN, timestamps, comments,
// and errors that name the line and column.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { parsePromText, PromParseError } from '../common/prom-text.js';
import { InputError } from '../common/errors.js';
import { kubeProxyMetricsFrom } from '../agent/inspect/kube-proxy.js';

const FIXTURE = readFileSync(new URL('./fixtures/kube-proxy/metrics.txt', import.meta.url), 'utf8');

test('a kube-proxy scrape parses into typed families, histograms grouped with their series', (t) => {
  const fams = parsePromText(FIXTURE, 'metrics.txt');
  t.is(fams.size, 21); // one per # TYPE line
  const hist = fams.get('kubeproxy_sync_proxy_rules_duration_seconds')!;
  t.is(hist.type, 'histogram');
  t.is(hist.help, '[ALPHA] SyncProxyRules latency in seconds');
  t.is(hist.samples.length, 18); // 16 buckets + _sum + _count
  t.deepEqual(hist.samples.at(-3)!.labels, { le: '+Inf' });
  t.is(hist.samples.at(-1)!.name, 'kubeproxy_sync_proxy_rules_duration_seconds_count');
  t.is(hist.samples.at(-1)!.value, 3081);
  const gc = fams.get('go_gc_duration_seconds')!;
  t.is(gc.type, 'summary');
  t.is(gc.samples.length, 7);
  t.is(fams.get('kubeproxy_sync_proxy_rules_last_timestamp_seconds')!.samples[0]!.value, 1.7646879684417653e9);
  t.deepEqual(fams.get('rest_client_requests_total')!.samples[2]!.labels, { code: '<error>', host: '10.0.0.1:6443', method: 'GET' });
  t.false(fams.has('kubeproxy_sync_proxy_rules_duration_seconds_bucket'));
});

test('kube-proxy values are read from the scrape', (t) => {
  const m = kubeProxyMetricsFrom(parsePromText(FIXTURE, 'metrics.txt'), '2026-12-02T15:06:10.000Z');
  t.deepEqual(m, {
    scrapedAt: '2026-12-02T15:06:10.000Z',
    lastSyncSeconds: 1.7646879684417653e9,
    lastQueuedSeconds: 1.764687968e9,
    endpointChangesPending: 0,
    serviceChangesPending: 0,
    syncDuration: { count: 3081, sumSeconds: 61.62 },
    processStartSeconds: 1.76460152132e9,
  });
});

test('label escapes, trailing commas, blanks, +Inf/-Inf/NaN, timestamps and comments', (t) => {
  const text = [
    '# a comment line',
    '#HELP not_metadata because no blank after the hash',
    '# HELP esc Line one\\nwith a \\\\ backslash',
    '# TYPE esc gauge',
    'esc{path="C:\\\\tmp",quote="say \\"hi\\"",nl="a\\nb",} 1 1700000000000',
    'esc{ a = "x" }\t+Inf',
    'esc{b="y"} -Inf',
    'esc{c="z"} NaN -5',
    'untyped_thing 1.5e-3',
    '',
    '   ',
  ].join('\r\n');
  const f = parsePromText(text, 't');
  t.is(f.size, 2);
  const esc = f.get('esc')!;
  t.is(esc.help, 'Line one\nwith a \\ backslash');
  t.deepEqual(esc.samples[0], { name: 'esc', labels: { path: 'C:\\tmp', quote: 'say "hi"', nl: 'a\nb' }, value: 1, timestampMs: 1700000000000, line: 5 });
  t.is(esc.samples[1]!.value, Infinity);
  t.deepEqual(esc.samples[1]!.labels, { a: 'x' });
  t.is(esc.samples[2]!.value, -Infinity);
  t.true(Number.isNaN(esc.samples[3]!.value));
  t.is(esc.samples[3]!.timestampMs, -5);
  t.is(f.get('untyped_thing')!.type, 'untyped');
  t.is(f.get('untyped_thing')!.samples[0]!.value, 0.0015);
});

const bad: ReadonlyArray<[string, string]> = [
  ['ok 1\nbad{a="x} 1\n', 'scrape:2:12: unterminated label value (missing closing ")'],
  ['x{a="\\t"} 1', 'scrape:1:6: invalid escape "\\t" in label value (only \\\\, \\" and \\n)'],
  ['x{a="1",a="2"} 1', 'scrape:1:9: label "a" appears twice'],
  ['x{1a="1"} 1', 'scrape:1:3: expected a label name, found "1"'],
  ['x one', 'scrape:1:3: invalid sample value "one"'],
  ['x', 'scrape:1:2: missing sample value'],
  ['x 1 12.5', 'scrape:1:5: invalid timestamp "12.5" (integer milliseconds)'],
  ['x 1 2 3', 'scrape:1:7: unexpected text after the timestamp: "3"'],
  ['# TYPE x widget', 'scrape:1:10: unknown metric type "widget" (counter, gauge, histogram, summary, untyped)'],
  ['x 1\n# TYPE x gauge', 'scrape:2:15: TYPE line for x after its samples (line 1)'],
  ['# TYPE x gauge\n# TYPE x counter', 'scrape:2:17: second TYPE line for x (first on line 1)'],
  ['# TYPE h histogram\nh_bucket 1', 'scrape:2:11: histogram bucket h_bucket without an "le" label'],
  ['x{a="1"}1', 'scrape:1:9: expected a blank before the value, found "1"'],
];
for (const [text, message] of bad) {
  test(`a malformed exposition names the line: ${JSON.stringify(text)}`, (t) => {
    const e = t.throws(() => parsePromText(text, 'scrape'), { instanceOf: PromParseError })!;
    t.true(e instanceof InputError);
    t.is(e.message, message);
  });
}

test('a sync queued after its IP family\'s last successful sync is read as unsynced (kube-proxy zeroes the pending gauges when a sync starts, also a failing one)', (t) => {
  const scrape = (v4q: number, v4s: number, v6q: number, v6s: number): string => [
    '# TYPE kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds gauge',
    `kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds{ip_family="IPv4"} ${v4q}`,
    `kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds{ip_family="IPv6"} ${v6q}`,
    '# TYPE kubeproxy_sync_proxy_rules_last_timestamp_seconds gauge',
    `kubeproxy_sync_proxy_rules_last_timestamp_seconds{ip_family="IPv4"} ${v4s}`,
    `kubeproxy_sync_proxy_rules_last_timestamp_seconds{ip_family="IPv6"} ${v6s}`,
    '# TYPE kubeproxy_sync_proxy_rules_endpoint_changes_pending gauge',
    'kubeproxy_sync_proxy_rules_endpoint_changes_pending 0',
    '',
  ].join('\n');
  const read = (text: string) => kubeProxyMetricsFrom(parsePromText(text, 'm'), '2026-12-02T15:06:10.000Z');
  // Both families synced after their last request: nothing waits.
  t.is(read(scrape(100, 101, 100, 102)).unsyncedSinceSeconds, undefined);
  // IPv6 was asked at 150 and has not synced since 120 (IPv4's later sync does not cover it).
  const m = read(scrape(100, 200, 150, 120));
  t.is(m.unsyncedSinceSeconds, 150);
  t.is(m.unsyncedLastSyncSeconds, 120);
  // The last sync is the newest family's: a dual-stack kube-proxy resyncs only the family a change concerns.
  t.is(m.lastSyncSeconds, 200);
  t.is(m.endpointChangesPending, 0);
  // Unlabelled series (older releases) compare with each other.
  t.is(read(scrape(100, 101, 100, 102).replace(/\{ip_family="IPv\d"\}/g, '').split('\n').filter((l, i) => i !== 2 && i !== 5).join('\n')).unsyncedSinceSeconds, undefined);
});
