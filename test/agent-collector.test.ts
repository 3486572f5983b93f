import test from 'ava';
import { createServer } from 'node:net';
import { createLabNode } from './lab/lab.js';
import { eventually, runProgram, sample, scrape, startCollectorProcess, startProgram } from './support/processes.js';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

test('an agent reports a lab node to the collector; the report is acked and shows in metrics and queries', async (t) => {
  const lab = await createLabNode({ pods: 1, sysctls: { 'net.ipv4.ip_forward': '0' } });
  t.teardown(() => lab.destroy());
  const collector = await startCollectorProcess(['--metrics-detail']);
  t.teardown(() => collector.stop('SIGKILL'));
  const agent = startProgram('agent', ['run', '--collector', collector.address, '--netns', lab.netns, '--node', lab.nodeName, '--interval', '1h', '--log-level', 'debug']);
  t.teardown(() => agent.stop('SIGKILL'));

  await agent.waitForLog((l) => l.msg === 'report acknowledged' && l['sequence'] === 1, 30_000, 'ack of report 1');
  const metrics = await scrape(collector.httpPort);
  t.is(sample(metrics, 'netconform_agent_connected', { node: lab.nodeName }), 1);
  // The status as its rank (4 = fail); --metrics-detail counts findings per check and severity.
  t.is(sample(metrics, 'netconform_check_status', { node: lab.nodeName, check: 'pod-network.sysctl' }), 4);
  t.is(sample(metrics, 'netconform_findings', { node: lab.nodeName, check: 'pod-network.sysctl', status: 'fail', severity: 'critical' }), 1);
  t.is(sample(metrics, 'netconform_collector_reports_received_total'), 1);
  t.true((sample(metrics, 'netconform_agent_last_report_timestamp_seconds', { node: lab.nodeName }) ?? 0) > Date.now() / 1000 - 60);

  const nodes = await runProgram('cli', ['nodes', '--collector', collector.address, '--output', 'json']);
  t.is(nodes.code, 0, nodes.stderr);
  const n = (JSON.parse(nodes.stdout) as { nodes: Array<{ node: string; connected: boolean; counts: Record<string, number>; lastSequence: number }> }).nodes;
  t.deepEqual(n.map((x) => [x.node, x.connected, x.lastSequence]), [[lab.nodeName, true, 1]]);
  const findings = await runProgram('cli', ['findings', '--node', lab.nodeName, '--collector', collector.address]);
  t.regex(findings.stdout, new RegExp(`${lab.nodeName}\\s+FAIL\\s+critical\\s+pod-network\\.sysctl\\s+net\\.ipv4\\.ip_forward`));

  // The agent's SIGTERM is graceful and quick; the collector sees it leave.
  const stopped = await agent.stop('SIGTERM');
  t.is(stopped.code, 0);
  t.true(stopped.ms < 5000, `agent took ${stopped.ms} ms to stop`);
  await eventually(async () => sample(await scrape(collector.httpPort), 'netconform_agent_connected', { node: lab.nodeName }) === 0 || undefined, 10_000, 'connected=0');
  // Its other series stay until retention forgets the node.
  t.is(sample(await scrape(collector.httpPort), 'netconform_check_status', { node: lab.nodeName, check: 'pod-network.sysctl' }), 4);
  const c = await collector.stop('SIGTERM');
  t.is(c.code, 0);
  t.true(c.ms < 5000, `collector took ${c.ms} ms to stop`);
});

test('the agent rides out a collector restart and re-sends its latest report by itself', async (t) => {
  const lab = await createLabNode({ pods: 1 });
  t.teardown(() => lab.destroy());
  const port = await freePort();
  const first = await startCollectorProcess(['--grpc-listen', `127.0.0.1:${port}`]);
  const agent = startProgram('agent', ['run', '--collector', `127.0.0.1:${port}`, '--netns', lab.netns, '--node', lab.nodeName, '--interval', '1h', '--log-level', 'debug']);
  t.teardown(() => agent.stop('SIGKILL'));
  await agent.waitForLog((l) => l.msg === 'report acknowledged', 30_000, 'first ack');
  await first.stop('SIGKILL');
  await agent.waitForLog((l) => l.msg === 'collector stream closed; retrying', 15_000, 'agent to notice');

  // The agent keeps running while the collector is away.
  await new Promise((r) => setTimeout(r, 1500));
  t.is(agent.child.exitCode, null);

  const second = await startCollectorProcess(['--grpc-listen', `127.0.0.1:${port}`]);
  t.teardown(() => second.stop('SIGKILL'));
  await agent.waitForLog((l) => l.msg === 'reconnected to collector', 40_000, 'reconnect');
  const metrics = await eventually(async () => {
    const m = await scrape(second.httpPort);
    return sample(m, 'netconform_collector_reports_received_total') === 1 ? m : undefined;
  }, 20_000, 'the re-sent report');
  t.is(sample(metrics, 'netconform_agent_connected', { node: lab.nodeName }), 1);
  t.is(sample(metrics, 'netconform_check_status', { node: lab.nodeName, check: 'pod-network.sysctl' }), 0);
  // Default metrics: findings per node and status only, from the check summaries.
  t.is(sample(metrics, 'netconform_findings', { node: lab.nodeName, status: 'fail', check: 'pod-network.sysctl' }), undefined);
  t.true((sample(metrics, 'netconform_findings', { node: lab.nodeName, status: 'pass' }) ?? 0) > 0);
  // Nothing lost and nothing re-scanned: the new collector holds the report of sequence 1.
  const nodes = await runProgram('cli', ['nodes', '--collector', `127.0.0.1:${port}`, '--output', 'json']);
  t.deepEqual((JSON.parse(nodes.stdout) as { nodes: Array<{ node: string; lastSequence: number }> }).nodes.map((x) => [x.node, x.lastSequence]), [[lab.nodeName, 1]]);
});

test('the query CLI says clearly when no collector is listening', async (t) => {
  const port = await freePort();
  const r = await runProgram('cli', ['nodes', '--collector', `127.0.0.1:${port}`]);
  t.is(r.code, 2);
  t.regex(r.stderr, new RegExp(`^netconform: cannot reach the collector at 127\\.0\\.0\\.1:${port} \\((UNAVAILABLE|DEADLINE_EXCEEDED)\\); is it running\\?`));
});

test('the collector pushes its cluster context to a connecting agent, which rescans with it', async (t) => {
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const lab = await createLabNode({ pods: 1 });
  t.teardown(() => lab.destroy());
  const dir = mkdtempSync(join(tmpdir(), 'nc-ctx-'));
  const file = join(dir, 'cluster.yaml');
  writeFileSync(file, [
    'apiVersion: v1', 'kind: List', 'items:',
    '- apiVersion: v1', '  kind: Node', `  metadata: { name: ${lab.nodeName} }`, '  spec: { podCIDR: 10.244.1.0/24, podCIDRs: [10.244.1.0/24] }',
    '- apiVersion: v1', '  kind: Service', '  metadata: { name: web, namespace: shop }', '  spec: { clusterIP: 10.96.0.10, ports: [{ name: http, port: 80, protocol: TCP }], selector: { app: web } }',
  ].join('\n') + '\n');
  const collector = await startCollectorProcess(['--cluster', file, '--service-cidr', '10.96.0.0/12']);
  t.teardown(() => collector.stop('SIGKILL'));
  const agent = startProgram('agent', ['run', '--collector', collector.address, '--netns', lab.netns, '--node', lab.nodeName, '--interval', '1h']);
  t.teardown(() => agent.stop('SIGKILL'));
  const got = await agent.waitForLog((l) => l.msg === 'cluster context received', 30_000, 'context');
  t.is(got['services'], 1);
  t.is(got['nodes'], 1);
  await agent.waitForLog((l) => l.msg === 'scan complete' && l['why'] === 'cluster context changed' || (l.msg === 'scan complete' && l['why'] === 'coalesced trigger'), 30_000, 'rescan with context');
});

test('a 10,000-Service, 100,000-endpoint context reaches the agent whole, in messages far below the gRPC limit', async (t) => {
  t.timeout(180_000);
  const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { largeCluster, renderClusterJson } = await import('../agent/dataplane/testing/generate.js');
  const { readClusterFile } = await import('../common/cluster.js');
  const { contextToChunks } = await import('../common/wire.js');
  const { loadContract } = await import('../common/proto.js');

  const lab = await createLabNode({ pods: 0 });
  t.teardown(() => lab.destroy());
  const dir = mkdtempSync(join(tmpdir(), 'nc-big-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'cluster.json');
  writeFileSync(file, renderClusterJson(largeCluster(lab.nodeName, '192.0.2.10', 10_000, 10)));

  // The messages the collector will send, measured as the wire encodes them.
  const ctx = readClusterFile(file);
  t.is(ctx.services.length, 10_000);
  t.is(ctx.services.reduce((n, s) => n + s.ports[0]!.endpoints.length, 0), 100_000);
  const encode = loadContract().AgentService.service.Connect.responseSerialize;
  const sizes = contextToChunks(ctx, 1).map((c) => encode({ context: c }).length);
  t.is(sizes.length, 20);
  t.true(Math.max(...sizes) < 1024 * 1024, `largest chunk ${Math.max(...sizes)} bytes`);

  const collector = await startCollectorProcess(['--cluster', file]);
  t.teardown(() => collector.stop('SIGKILL'));
  const agent = startProgram('agent', ['run', '--collector', collector.address, '--netns', lab.netns, '--node', lab.nodeName, '--interval', '1h']);
  t.teardown(() => agent.stop('SIGKILL'));
  const got = await agent.waitForLog((l) => l.msg === 'cluster context received', 120_000, 'the large context');
  t.is(got['services'], 10_000);
});
