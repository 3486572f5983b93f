// Trust end to end: real TLS on loopback with certificates made here by openssl, a real
// collector process authenticating through the fake API server's TokenReview and
// SubjectAccessReview (the client under test is the real @kubernetes/client-node), real
// gRPC clients and the real agent and CLI.
import test from 'ava';
import * as grpc from '@grpc/grpc-js';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadContract } from '../common/proto.js';
import { bearerMetadata } from '../common/tls.js';
import { reportToWire } from '../common/wire.js';
import type { AgentServiceClient } from '../gen/proto/netconform/v1/AgentService.js';
import { FakeApiServer } from './kube/fake-apiserver.js';
import { makePki } from './support/pki.js';
import { createLabNode } from './lab/lab.js';
import { eventually, runProgram, sample, startCollectorProcess, startProgram } from './support/processes.js';
import { httpsGet } from './support/net.js';

const AGENT_SA = 'system:serviceaccount:netconform:netconform-agent';
const AUD = ['netconform-collector'];

async function setup(t: import('ava').ExecutionContext, pki: 'good' | 'rogue' = 'good', extraArgs: readonly string[] = []) {
  const dir = mkdtempSync(join(tmpdir(), 'nc-trust-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const good = makePki(dir, 'good');
  const served = pki === 'good' ? good : makePki(dir, 'rogue');
  const api = await FakeApiServer.start();
  t.teardown(() => api.close());
  const kubeconfig = api.writeKubeconfig(join(dir, 'kubeconfig'));
  const tokenFile = (name: string, token: string): string => {
    const f = join(dir, `${name}.token`);
    writeFileSync(f, `${token}\n`);
    return f;
  };
  const collector = await startCollectorProcess(['--tls-cert', served.cert, '--tls-key', served.key, '--kubeconfig', kubeconfig, '--no-kube', '--log-level', 'debug', ...extraArgs]);
  t.teardown(() => collector.stop('SIGKILL'));
  return { dir, ca: good.ca, api, collector, tokenFile };
}

function agentClient(address: string, caFile: string): AgentServiceClient {
  return new (loadContract().AgentService)(address, grpc.credentials.createSsl(readFileSync(caFile)));
}

/** Opens a stream with `token`, says Hello as `node`, sends one report; resolves with the acks and the final status. */
function streamAs(client: AgentServiceClient, token: string | undefined, node: string): Promise<{ acks: number[]; status: grpc.StatusObject }> {
  return new Promise((resolve) => {
    const acks: number[] = [];
    const call = client.Connect(bearerMetadata(token));
    call.on('data', (m: { ack?: { sequence: string } }) => {
      if (m.ack) {
        acks.push(Number(m.ack.sequence));
        call.end();
      }
    });
    call.on('error', () => undefined);
    call.on('status', (status) => resolve({ acks, status }));
    call.write({ hello: { node, agentVersion: 'test', capabilities: ['report'], bootId: 'b1' } });
    call.write({ report: reportToWire({ sequence: 1, bootId: 'b1', scannedAt: new Date().toISOString(), proxyMode: 'iptables', cni: 'bridge', checks: [], findings: [] }) });
  });
}


test('a stream is bound to the node in its token: node-b may report as node-b only; no token or a token for another audience is refused', async (t) => {
  const { api, collector, ca } = await setup(t);
  api.addToken('agent-b', { username: AGENT_SA, audiences: AUD, extra: { 'authentication.kubernetes.io/node-name': ['node-b'] } });
  api.addToken('api-audience', { username: AGENT_SA, extra: { 'authentication.kubernetes.io/node-name': ['node-b'] } });
  api.addToken('other-sa', { username: 'system:serviceaccount:default:default', audiences: AUD, extra: { 'authentication.kubernetes.io/node-name': ['node-b'] } });
  api.addToken('prometheus', { username: 'system:serviceaccount:monitoring:prometheus' });
  api.grant({ subject: 'system:serviceaccount:monitoring:prometheus', verb: 'get', path: '/metrics' });
  const client = agentClient(collector.address, ca);
  t.teardown(() => client.close());

  const forged = await streamAs(client, 'agent-b', 'node-c');
  t.is(forged.status.code, grpc.status.PERMISSION_DENIED);
  t.is(forged.status.details, "this stream's token is for node node-b, not node-c");
  t.deepEqual(forged.acks, []);

  const anonymous = await streamAs(client, undefined, 'node-b');
  t.is(anonymous.status.code, grpc.status.UNAUTHENTICATED);
  t.regex(anonymous.status.details, /no bearer token/);
  const wrongAudience = await streamAs(client, 'api-audience', 'node-b');
  t.is(wrongAudience.status.code, grpc.status.UNAUTHENTICATED);
  const otherSa = await streamAs(client, 'other-sa', 'node-b');
  t.is(otherSa.status.code, grpc.status.PERMISSION_DENIED);
  t.regex(otherSa.status.details, /is not the agent's ServiceAccount \(netconform:netconform-agent\)/);

  const own = await streamAs(client, 'agent-b', 'node-b');
  t.deepEqual(own.acks, [1]);
  t.is(own.status.code, grpc.status.OK);

  // Each refusal counted once, by reason; /metrics itself needs a token allowed get /metrics.
  t.is((await httpsGet(collector.httpPort, '/metrics', ca)).status, 401);
  const m = await httpsGet(collector.httpPort, '/metrics', ca, 'prometheus');
  t.is(m.status, 200);
  const count = (reason: string): number | undefined => sample(m.body, 'netconform_collector_rejected_streams_total', { reason });
  t.deepEqual(['wrong_node', 'no_token', 'invalid_token', 'not_agent', 'superseded'].map(count), [1, 1, 1, 1, 0]);
  t.is(sample(m.body, 'netconform_collector_rejected_requests_total', { api: 'metrics', reason: 'no_token' }), 1);
  t.is(sample(m.body, 'netconform_collector_reports_received_total'), 1);
  // The token was reviewed with the collector's audience; no token text reached the log.
  const review = api.reviews.find((r) => (r['spec'] as { token?: string }).token === 'agent-b');
  t.deepEqual((review?.['spec'] as { audiences?: string[] }).audiences, AUD);
  t.false(collector.stderr().includes('agent-b'));
  t.is((await httpsGet(collector.httpPort, '/healthz', ca)).status, 200);
});

test('a real agent on a lab node proves its node through the Pod claim and its report is readable only with RBAC', async (t) => {
  const lab = await createLabNode({ pods: 1 });
  t.teardown(() => lab.destroy());
  const { api, collector, ca, tokenFile } = await setup(t);
  // An older cluster: the token names the Pod only; the collector reads the Pod for its node.
  api.upsert({ kind: 'Pod', metadata: { name: 'netconform-agent-x1', namespace: 'netconform' }, spec: { nodeName: lab.nodeName } });
  // The uid is stamped by the fake server; the token carries it as the real one would.
  const uid = (await (await fetch(`${api.url}/api/v1/namespaces/netconform/pods/netconform-agent-x1`, { headers: { authorization: `Bearer ${api.token}` } })).json() as { metadata: { uid: string } }).metadata.uid;
  api.addToken('agent-lab', { username: AGENT_SA, audiences: AUD, extra: { 'authentication.kubernetes.io/pod-name': ['netconform-agent-x1'], 'authentication.kubernetes.io/pod-uid': [uid] } });
  api.addToken('reader', { username: 'alice', groups: ['netconform-readers'] });
  api.addToken('stranger', { username: 'mallory' });
  api.grant({ subject: 'netconform-readers', verb: 'get', group: 'netconform.io', resource: 'findings' });

  const agent = startProgram('agent', ['run', '--collector', collector.address, '--collector-ca', ca, '--token-file', tokenFile('agent', 'agent-lab'),
    '--netns', lab.netns, '--node', lab.nodeName, '--interval', '1h', '--log-level', 'debug']);
  t.teardown(() => agent.stop('SIGKILL'));
  await agent.waitForLog((l) => l.msg === 'report acknowledged' && l['sequence'] === 1, 60_000, 'ack of report 1');

  const noKube = { KUBECONFIG: join(tmpdir(), 'nc-no-kubeconfig') };
  const nodes = await runProgram('cli', ['nodes', '--collector', collector.address, '--ca', ca, '--token-file', tokenFile('reader', 'reader'), '--output', 'json'], noKube);
  t.is(nodes.code, 0, nodes.stderr);
  t.deepEqual((JSON.parse(nodes.stdout) as { nodes: Array<{ node: string; connected: boolean }> }).nodes.map((n) => [n.node, n.connected]), [[lab.nodeName, true]]);

  const denied = await runProgram('cli', ['findings', '--collector', collector.address, '--ca', ca, '--token-file', tokenFile('stranger', 'stranger')], noKube);
  t.is(denied.code, 2);
  t.is(denied.stderr.trim(), `netconform: collector at ${collector.address}: PERMISSION_DENIED: mallory may not get findings.netconform.io (bind the ClusterRole netconform-reader)`);
  const anonymous = await runProgram('cli', ['nodes', '--collector', collector.address, '--ca', ca], noKube);
  t.is(anonymous.code, 2);
  t.regex(anonymous.stderr, /refused the credentials \(UNAUTHENTICATED\): no bearer token/);
  // Pod Security data is a separate permission alice was not given.
  const psa = await runProgram('cli', ['psa', 'namespaces', '--collector', collector.address, '--ca', ca, '--token-file', tokenFile('reader', 'reader')], noKube);
  t.is(psa.code, 2);
  t.regex(psa.stderr, /alice may not get podsecurity\.netconform\.io/);
  // The migration inventory (the cluster's layout) is a third: alice may not, bob (granted it alone) may.
  const migration = await runProgram('cli', ['migrate', 'check', '--to', 'calico', '--collector', collector.address, '--ca', ca, '--token-file', tokenFile('reader', 'reader')], noKube);
  t.is(migration.code, 2);
  t.is(migration.stderr.trim(), `netconform: collector at ${collector.address}: PERMISSION_DENIED: alice may not get migration.netconform.io (bind the ClusterRole netconform-reader)`);
  api.addToken('planner', { username: 'bob', groups: ['netconform-planners'] });
  api.grant({ subject: 'netconform-planners', verb: 'get', group: 'netconform.io', resource: 'migration' });
  const planned = await runProgram('cli', ['migrate', 'check', '--to', 'calico', '--collector', collector.address, '--ca', ca, '--token-file', tokenFile('planner', 'planner'), '--format', 'json'], noKube);
  t.is(planned.code, 0, planned.stderr);
  t.deepEqual((JSON.parse(planned.stdout) as { nodes: { node: string }[] }).nodes.map((n) => n.node), [lab.nodeName]);
  t.regex(planned.stderr, /the collector watches no cluster, so NetworkPolicies, CIDRs, pods and DaemonSets are not judged/);
  t.is(api.requests.filter((r) => r.path === '/api/v1/namespaces/netconform/pods/netconform-agent-x1').length, 2, 'the test read the Pod once, the collector once');
});

test('the agent refuses a collector whose certificate its --collector-ca did not sign', async (t) => {
  const { api, collector, ca, tokenFile } = await setup(t, 'rogue');
  api.addToken('agent-b', { username: AGENT_SA, audiences: AUD, extra: { 'authentication.kubernetes.io/node-name': ['node-b'] } });
  const lab = await createLabNode({ pods: 0 });
  t.teardown(() => lab.destroy());
  const agent = startProgram('agent', ['run', '--collector', collector.address, '--collector-ca', ca, '--token-file', tokenFile('agent', 'agent-b'),
    '--netns', lab.netns, '--node', 'node-b', '--interval', '1h']);
  t.teardown(() => agent.stop('SIGKILL'));
  const closed = await agent.waitForLog((l) => l.msg === 'collector stream closed; retrying', 60_000, 'the TLS failure');
  t.is(closed['code'], 'UNAVAILABLE');
  t.regex(String(closed['detail']), /certificate|self[- ]signed|unable to verify/i);
  t.false(agent.logs.some((l) => l.msg === 'connected to collector'));
  t.is(api.reviews.length, 0, 'no token ever reached the rogue collector');
  await eventually(() => collector.logs.some((l) => l.msg === 'collector listening') || undefined);
});

test('stream limits: excess reports wait (the newest wins), a second stream for a node replaces the first, streams beyond the maximum are refused; each counted', async (t) => {
  const { api, collector, ca } = await setup(t, 'good', ['--max-reports-per-minute', '1', '--max-agent-streams', '2']);
  for (const n of ['node-b', 'node-d']) api.addToken(n, { username: AGENT_SA, audiences: AUD, extra: { 'authentication.kubernetes.io/node-name': [n] } });
  api.addToken('prometheus', { username: 'prom' });
  api.grant({ subject: 'prom', verb: 'get', path: '/metrics' });
  const client = agentClient(collector.address, ca);
  t.teardown(() => client.close());
  const report = (sequence: number) => ({ report: reportToWire({ sequence, bootId: 'b1', scannedAt: new Date().toISOString(), proxyMode: 'iptables', cni: 'bridge', checks: [], findings: [] }) });
  const open = (token: string, node: string) => {
    const acks: number[] = [];
    const call = client.Connect(bearerMetadata(token));
    const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
    call.on('error', () => undefined);
    call.on('data', (m: { ack?: { sequence: string } }) => { if (m.ack) acks.push(Number(m.ack.sequence)); });
    call.write({ hello: { node, agentVersion: 'test', capabilities: ['report'], bootId: 'b1' } });
    return { call, acks, status };
  };
  const first = open('node-b', 'node-b');
  for (const seq of [1, 2, 3]) first.call.write(report(seq));
  await eventually(() => first.acks.length === 1 || undefined, 45_000, 'the first ack'); // TokenReview + commit on a loaded CI machine
  await new Promise((r) => setTimeout(r, 1000));
  t.deepEqual(first.acks, [1], 'reports 2 and 3 wait for the bucket (one a minute)');

  const other = open('node-d', 'node-d');
  await eventually(async () => sample((await httpsGet(collector.httpPort, '/metrics', ca, 'prometheus')).body, 'netconform_agent_connected', { node: 'node-d' }) === 1 || undefined, 15_000, 'node-d connected');
  const third = open('node-d', 'node-d');
  t.is((await third.status).code, grpc.status.RESOURCE_EXHAUSTED, 'two streams open: a third is refused before anything else');
  other.call.end();
  await other.status;

  const second = open('node-b', 'node-b');
  const old = await first.status;
  t.is(old.code, grpc.status.ABORTED);
  t.is(old.details, 'a newer stream for node node-b replaced this one');
  second.call.end();
  await second.status;
  const m = (await httpsGet(collector.httpPort, '/metrics', ca, 'prometheus')).body;
  t.is(sample(m, 'netconform_collector_reports_rate_limited_total'), 1, 'report 2 was replaced by report 3 while waiting');
  t.is(sample(m, 'netconform_collector_rejected_streams_total', { reason: 'superseded' }), 1);
  t.is(sample(m, 'netconform_collector_rejected_streams_total', { reason: 'too_many_streams' }), 1);
  t.is(sample(m, 'netconform_collector_reports_received_total'), 3);
});

test('a message above the 16 MiB receive limit ends the stream with RESOURCE_EXHAUSTED and is counted', async (t) => {
  const { api, collector, ca } = await setup(t);
  api.addToken('node-b', { username: AGENT_SA, audiences: AUD, extra: { 'authentication.kubernetes.io/node-name': ['node-b'] } });
  api.addToken('prometheus', { username: 'prom' });
  api.grant({ subject: 'prom', verb: 'get', path: '/metrics' });
  const client = agentClient(collector.address, ca);
  t.teardown(() => client.close());
  const call = client.Connect(bearerMetadata('node-b'));
  const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
  call.on('error', () => undefined);
  call.write({ hello: { node: 'node-b', agentVersion: 'test', capabilities: ['report'], bootId: 'b1' } });
  const huge = { check: 'service-routing.clusterip', status: 'fail' as const, severity: 'high' as const, subject: 'x', message: 'm'.repeat(17 * 1024 * 1024), evidence: {} };
  call.write({ report: reportToWire({ sequence: 1, bootId: 'b1', scannedAt: new Date().toISOString(), proxyMode: 'iptables', cni: 'bridge', checks: [], findings: [huge] }) });
  const s = await status;
  t.is(s.code, grpc.status.RESOURCE_EXHAUSTED);
  t.regex(s.details, /larger than max/);
  const m = (await httpsGet(collector.httpPort, '/metrics', ca, 'prometheus')).body;
  t.is(sample(m, 'netconform_collector_oversized_messages_total'), 1);
  t.is(sample(m, 'netconform_collector_reports_received_total'), 0, 'the oversized report never reached the handler');
});
