// Probes that mean something: the agent's health file follows its scans and acks (and
// `netconform-agent health` judges it), and the collector's /healthz names a wedged part.
import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLabNode } from './lab/lab.js';
import { eventually, runProgram, startCollectorProcess, startProgram } from './support/processes.js';
import { judgeHealth } from '../agent/health.js';
import { HealthChecks, grpcListenerProbe } from '../collector/health.js';

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'nc-health-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('judgeHealth: a recent scan is live; readiness also needs a recent ack; startup has a grace period', (t) => {
  const now = Date.parse('2026-12-02T12:00:00Z');
  const at = (s: number): string => new Date(now - s * 1000).toISOString();
  const max = 180_000;
  t.deepEqual(judgeHealth({ pid: 1, startedAt: at(600), lastScanAt: at(20), lastAckAt: at(19) }, now, max, true), { ok: true, message: 'ok: last scan 20s ago, last ack 19s ago' });
  t.deepEqual(judgeHealth({ pid: 1, startedAt: at(30) }, now, max, true), { ok: true, message: 'ok: starting' });
  t.deepEqual(judgeHealth({ pid: 1, startedAt: at(600) }, now, max, false), { ok: false, message: 'unhealthy: no scan completed since the start 600s ago (limit 180s)' });
  t.deepEqual(judgeHealth({ pid: 1, startedAt: at(900), lastScanAt: at(400), lastScanError: 'iptables-save timed out' }, now, max, false),
    { ok: false, message: 'unhealthy: last scan completed 400s ago (limit 180s); last error: iptables-save timed out' });
  // A collector outage: alive (no restart), not ready.
  const outage = { pid: 1, startedAt: at(900), lastScanAt: at(10), lastAckAt: at(500) };
  t.true(judgeHealth(outage, now, max, false).ok);
  t.deepEqual(judgeHealth(outage, now, max, true), { ok: false, message: 'not ready: last report acknowledged 500s ago (limit 180s); is the collector reachable?' });
});

test('a running agent keeps its health file current; health answers 0 while it reports and 1 when it is gone', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'health.json');
  const lab = await createLabNode({ pods: 1 });
  t.teardown(() => lab.destroy());
  const collector = await startCollectorProcess();
  t.teardown(() => collector.stop('SIGKILL'));
  const agent = startProgram('agent', ['run', '--collector', collector.address, '--netns', lab.netns, '--node', lab.nodeName, '--interval', '1h', '--health-file', file, '--log-level', 'debug']);
  t.teardown(() => agent.stop('SIGKILL'));
  await agent.waitForLog((l) => l.msg === 'report acknowledged', 30_000, 'first ack');
  const ready = await eventually(async () => {
    const r = await runProgram('agent', ['health', '--health-file', file, '--require-ack']);
    return r.code === 0 ? r : undefined;
  }, 10_000, 'health --require-ack to pass');
  t.regex(ready.stdout, /^ok: last scan \d+s ago, last ack \d+s ago\n$/);
  // The collector goes away: the agent is still alive, but no longer ready after max-age.
  await collector.stop('SIGKILL');
  await new Promise((r) => setTimeout(r, 2500));
  const live = await runProgram('agent', ['health', '--health-file', file, '--max-age', '2s']);
  t.is(live.code, 1, 'the scan is also older than 2s with a 1h interval');
  t.regex(live.stdout, /^unhealthy: last scan completed \d+s ago \(limit 2s\)\n$/);
  const lax = await runProgram('agent', ['health', '--health-file', file, '--max-age', '1h']);
  t.is(lax.code, 0);
  const notReady = await runProgram('agent', ['health', '--health-file', file, '--max-age', '2s', '--require-ack']);
  t.is(notReady.code, 1);
  await agent.stop('SIGTERM');
  const missing = await runProgram('agent', ['health', '--health-file', join(dir, 'nope.json')]);
  t.is(missing.code, 1);
  t.regex(missing.stdout, /^unhealthy: ENOENT: no such file or directory/);
  writeFileSync(join(dir, 'bad.json'), '{"pid": 3}\n');
  const bad = await runProgram('agent', ['health', '--health-file', join(dir, 'bad.json')]);
  t.is(bad.stdout, `unhealthy: ${join(dir, 'bad.json')}: not an agent health file (no startedAt)\n`);
});

test('collector /healthz reports each part and fails when the gRPC listener no longer answers', async (t) => {
  const collector = await startCollectorProcess();
  t.teardown(() => collector.stop('SIGKILL'));
  const res = await fetch(`http://127.0.0.1:${collector.httpPort}/healthz`);
  t.is(res.status, 200);
  const body = await res.text();
  t.regex(body, /^ok\nok store: .* answers\nok grpc: answers on 127\.0\.0\.1:\d+\n$/);
  // A listener that accepts connections but never answers (a wedged process) fails the probe.
  const accepted: Socket[] = [];
  const silent: Server = createServer((s) => void accepted.push(s));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  t.teardown(() => {
    for (const s of accepted) s.destroy();
    silent.close();
  });
  const port = (silent.address() as { port: number }).port;
  const health = new HealthChecks();
  health.add('grpc', grpcListenerProbe('127.0.0.1', port, 300));
  health.add('store', () => { throw new Error('SqliteError: database disk image is malformed'); });
  t.deepEqual(await health.run(), {
    ok: false,
    lines: [`FAIL grpc: no answer on 127.0.0.1:${port} within 300 ms`, 'FAIL store: SqliteError: database disk image is malformed'],
  });
  const hung = new HealthChecks();
  hung.add('store', () => new Promise(() => undefined));
  t.deepEqual(await hung.run(100), { ok: false, lines: ['FAIL store: store did not answer within 100 ms'] });
});
