import test from 'ava';
import { formatScanJson, scanJsonChunks } from '../agent/report/format.js';
import type { ScanResult } from '../agent/scan.js';

const finding = (i: number) => ({
  check: 'service-routing.clusterip', status: i % 3 ? 'pass' : 'fail', severity: 'high', subject: `ns/svc-${i}:80/TCP`,
  message: `line "${i}"\nwith \\ escapes`, evidence: { expected: [`10.0.${i}.1:8080`], nested: { deep: [1, { x: null }] } },
});

test('scanJsonChunks yields exactly the text of formatScanJson, in pieces', (t) => {
  for (const n of [0, 1, 2, 500]) {
    const result = {
      node: 'n1', scannedAt: '2026-01-01T00:00:00.000Z', proxyMode: 'iptables', cni: '', missing: undefined,
      checks: [{ id: 'a', status: 'pass', passed: 1, failed: 0, warned: 0, skipped: 0 }],
      findings: Array.from({ length: n }, (_, i) => finding(i)),
    } as unknown as ScanResult;
    const parts = [...scanJsonChunks(result, 1000)];
    t.is(parts.join(''), formatScanJson(result));
    if (n === 500) t.true(parts.length > 10);
  }
});
