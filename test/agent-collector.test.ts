import test from 'ava';
import { createLabNode } from './lab/lab.js';
import { eventually, runProgram, sample, scrape, startCollectorProcess, startProgram } from './support/processes.js';
import { freePort } from './support/net.js';


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

/** The collector's current findings of one check on one node, as `subject status` lines. */
async function findingsOf(address: string, node: string, check: string): Promise<string[]> {
  const r = await runProgram('cli', ['findings', '--node', node, '--check', check, '--collector', address, '--output', 'json']);
  if (r.code !== 0) throw new Error(r.stderr);
  return (JSON.parse(r.stdout) as { findings: Array<{ subject: string; status: string }> }).findings.map((f) => `${f.subject} ${f.status}`).sort();
}

test('run --kubeconfig: the agent lists and watches the real API itself as its ServiceAccount, rescans on a change; the collector sends no context', async (t) => {
  t.timeout(300_000);
  const { ControlPlane } = await import('./lab/control-plane.js');
  const { applyFixture } = await import('./lab/apply-fixture.js');
  const { AGENT_SA, NETCONFORM_NS, createPod, installNetconformRbac, podToken } = await import('./lab/netconform-identity.js');
  const { endpointSlice, namespace, node, service, WEB_PORTS } = await import('./kube/fixtures.js');
  const lab = await createLabNode({ pods: 1 });
  t.teardown(() => lab.destroy());
  const cp = await ControlPlane.start();
  t.teardown(() => cp.stop());
  await installNetconformRbac(cp);
  for (const o of [node(lab.nodeName, '10.244.1.0/24', '192.0.2.10'), namespace('shop'), service('shop', 'web', '10.96.0.10', WEB_PORTS),
    endpointSlice('shop', 'web', 'web-1', [{ ip: '10.244.1.10', node: lab.nodeName }], WEB_PORTS)]) await applyFixture(cp, o);
  // The agent's identity, as its DaemonSet Pod on this node has it.
  const agentPod = await createPod(cp, { namespace: NETCONFORM_NS, name: 'netconform-agent-lab', node: lab.nodeName, serviceAccount: AGENT_SA });
  const kubeconfig = cp.kubeconfig('agent', { token: await podToken(cp, agentPod, AGENT_SA) });
  // The collector has no cluster source at all: whatever the agent knows, it got itself.
  const collector = await startCollectorProcess(['--no-kube']);
  t.teardown(() => collector.stop('SIGKILL'));
  const agent = startProgram('agent', ['run', '--collector', collector.address, '--netns', lab.netns, '--node', lab.nodeName, '--interval', '1h', '--log-level', 'debug',
    '--kubeconfig', kubeconfig, '--service-cidr', '10.96.0.0/12',
    // No kube-proxy here: a change is scanned when the settle window ends, not at once.
    '--settle', '2s']);
  t.teardown(() => agent.stop('SIGKILL'));

  const synced = await agent.waitForLog((l) => l.msg === 'cluster context synced', 60_000, 'the first context');
  t.is(synced['services'], 2, 'shop/web and the API server\'s own default/kubernetes');
  t.is(synced['nodes'], 1);
  const first = await agent.waitForLog((l) => l.msg === 'scan complete', 60_000, 'the first scan');
  t.is(first['why'], 'cluster context synced', 'the first scan waits for the context');
  t.is(agent.logs.filter((l) => l.msg === 'scan complete').length, 1);
  await agent.waitForLog((l) => l.msg === 'report acknowledged' && l['sequence'] === 1, 60_000, 'ack 1');
  const before = await findingsOf(collector.address, lab.nodeName, 'service-routing.clusterip');
  t.true(before.some((f) => f.startsWith('shop/web:')) && !before.some((f) => f.startsWith('shop/cart:')), before.join('; '));

  await applyFixture(cp, service('shop', 'cart', '10.96.0.11', WEB_PORTS));
  const changed = await agent.waitForLog((l) => l.msg === 'cluster context changed', 60_000, 'the change');
  t.is(changed['services'], 3);
  t.is(changed['changedServices'], 1);
  await agent.waitForLog((l) => l.msg === 'report acknowledged' && l['sequence'] === 2, 60_000, 'ack 2');
  const after = await findingsOf(collector.address, lab.nodeName, 'service-routing.clusterip');
  t.true(after.some((f) => f.startsWith('shop/cart:')), after.join('; '));
  // Everything the agent asked of the API server was within its ClusterRole (a refusal
  // would be retried and logged), and nothing came from the collector.
  t.deepEqual(agent.logs.filter((l) => l.msg === 'list/watch failed; retrying').map((l) => l['error']), []);
  t.false(agent.logs.some((l) => String(l.msg).includes('context received')));
});

test('run --cluster FILE: the agent scans with the file\'s context itself, no API and no push', async (t) => {
  const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const lab = await createLabNode({ pods: 1 });
  t.teardown(() => lab.destroy());
  const dir = mkdtempSync(join(tmpdir(), 'nc-ctx-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'cluster.yaml');
  writeFileSync(file, [
    'apiVersion: v1', 'kind: List', 'items:',
    '- apiVersion: v1', '  kind: Node', `  metadata: { name: ${lab.nodeName} }`, '  spec: { podCIDR: 10.244.1.0/24, podCIDRs: [10.244.1.0/24] }',
    '- apiVersion: v1', '  kind: Service', '  metadata: { name: web, namespace: shop }', '  spec: { clusterIP: 10.96.0.10, ports: [{ name: http, port: 80, protocol: TCP }], selector: { app: web } }',
  ].join('\n') + '\n');
  const collector = await startCollectorProcess(['--no-kube']);
  t.teardown(() => collector.stop('SIGKILL'));
  const agent = startProgram('agent', ['run', '--collector', collector.address, '--netns', lab.netns, '--node', lab.nodeName, '--interval', '1h', '--log-level', 'debug', '--cluster', file]);
  t.teardown(() => agent.stop('SIGKILL'));
  const starting = await agent.waitForLog((l) => l.msg === 'agent starting', 30_000, 'start');
  t.is(starting['cluster'], 'file');
  const scan = await agent.waitForLog((l) => l.msg === 'scan complete', 30_000, 'the scan');
  t.is(scan['why'], 'start');
  await agent.waitForLog((l) => l.msg === 'report acknowledged' && l['sequence'] === 1, 30_000, 'ack 1');
  t.deepEqual(await findingsOf(collector.address, lab.nodeName, 'service-routing.clusterip'), ['shop/web:80/TCP fail']);
});
