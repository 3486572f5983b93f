// Probes reporting to a real collector over TLS with tokens the real kube-apiserver's
// TokenRequest API bound to their Pods, reviewed by its TokenReview: probe streams are bound
// to their node like agents' and admitted only for the probe ServiceAccount, and only for
// their Pod's IPs; cumulative counters add only their differences. The third test (real
// probe processes peering on loopback) keeps the fake server: see its comment.
// Everything on loopback.
import test from 'ava';
import * as grpc from '@grpc/grpc-js';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadContract } from '../common/proto.js';
import { bearerMetadata } from '../common/tls.js';
import { reportToWire } from '../common/wire.js';
import { PROBE_RTT_BUCKETS } from '../common/probe.js';
import type { AgentServiceClient } from '../gen/proto/netconform/v1/AgentService.js';
import type { ProbeReport } from '../gen/proto/netconform/v1/ProbeReport.js';
import { FakeApiServer } from './kube/fake-apiserver.js';
import { makePki } from './support/pki.js';
import { eventually, runProgram, sample, startCollectorProcess, startProgram } from './support/processes.js';
import { freePort, httpsGet } from './support/net.js';
import { ControlPlane } from './lab/control-plane.js';
import { AGENT_SA as AGENT_SA_NAME, COLLECTOR_AUDIENCE, COLLECTOR_SA, NETCONFORM_NS, PROBE_SA as PROBE_SA_NAME, createPod, installNetconformRbac, prometheusScraperToken, podToken, type BoundPod } from './lab/netconform-identity.js';

const AGENT_SA = 'system:serviceaccount:netconform:netconform-agent';
const PROBE_SA = 'system:serviceaccount:netconform:netconform-probe';
const AUD = [COLLECTOR_AUDIENCE];
const nodeClaim = (node: string) => ({ 'authentication.kubernetes.io/node-name': [node] });
/** A probe's projected token (Kubernetes ≥ 1.30): its node and its Pod. */
const probeClaims = (node: string, pod: { metadata: { name: string; uid: string } }) => ({
  ...nodeClaim(node), 'authentication.kubernetes.io/pod-name': [pod.metadata.name], 'authentication.kubernetes.io/pod-uid': [pod.metadata.uid],
});
/** A probe Pod as the fake API server stores it (the fake assigns the uid). */
function fakeProbePod(api: FakeApiServer, name: string, node: string, podIps: readonly string[], port = 7070) {
  return api.upsert({
    kind: 'Pod', metadata: { name, namespace: 'netconform', labels: { 'app.kubernetes.io/name': 'netconform-probe' } },
    spec: { nodeName: node, containers: [{ name: 'probe', ports: [{ name: 'echo', containerPort: port }] }] },
    status: { phase: 'Running', podIP: podIps[0], podIPs: podIps.map((ip) => ({ ip })), hostIP: '127.0.0.1' },
  }) as { metadata: { name: string; uid: string } };
}

let cp: ControlPlane;
let collectorKubeconfig: string;
let prometheus: string;

test.before(async () => {
  cp = await ControlPlane.start({
    // Which requests the collector makes for Pods, as the API server records them.
    auditPolicy: { apiVersion: 'audit.k8s.io/v1', kind: 'Policy', omitStages: ['RequestReceived'], rules: [
      { level: 'Metadata', users: [`system:serviceaccount:${NETCONFORM_NS}:${COLLECTOR_SA}`], resources: [{ group: '', resources: ['pods'] }] },
      { level: 'None' },
    ] },
    auditLog: true,
  });
  await installNetconformRbac(cp);
  prometheus = await prometheusScraperToken(cp);
  const pod = await createPod(cp, { namespace: NETCONFORM_NS, name: 'netconform-collector-0', node: 'node-cp', serviceAccount: COLLECTOR_SA });
  collectorKubeconfig = cp.kubeconfig('collector', { token: await podToken(cp, pod, COLLECTOR_SA) });
});
test.after.always(async () => { await cp?.stop(); });

/** A probe Pod (the probe ServiceAccount) on `node` with its IPs, and a token bound to it for the collector. */
async function probePod(name: string, node: string, podIPs: readonly string[]): Promise<{ pod: BoundPod; token: string }> {
  const pod = await createPod(cp, { namespace: NETCONFORM_NS, name, node, serviceAccount: PROBE_SA_NAME, podIPs, hostIP: '127.0.0.1', labels: { 'app.kubernetes.io/name': 'netconform-probe' } });
  return { pod, token: await podToken(cp, pod, PROBE_SA_NAME, { audiences: AUD }) };
}

/** GETs of one Pod by the collector, from the API server's audit log. */
function podReads(name: string): number {
  let text = '';
  try { text = readFileSync(cp.auditLogPath, 'utf8'); } catch { return 0; }
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { verb: string; stage: string; objectRef?: { name?: string } })
    .filter((e) => e.verb === 'get' && e.stage === 'ResponseComplete' && e.objectRef?.name === name).length;
}

async function setup(t: import('ava').ExecutionContext) {
  const dir = mkdtempSync(join(tmpdir(), 'nc-probe-coll-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const pki = makePki(dir, 'probe');
  const collector = await startCollectorProcess(['--tls-cert', pki.cert, '--tls-key', pki.key, '--kubeconfig', collectorKubeconfig, '--no-kube', '--log-level', 'debug']);
  t.teardown(() => collector.stop('SIGKILL'));
  const metrics = async (): Promise<string> => (await httpsGet(collector.httpPort, '/metrics', pki.ca, prometheus)).body;
  const client = new (loadContract().AgentService)(collector.address, grpc.credentials.createSsl(readFileSync(pki.ca))) as AgentServiceClient;
  t.teardown(() => client.close());
  // A stream on a channel still connecting fails fast: on a loaded machine the first one could.
  await new Promise<void>((resolve, reject) => client.waitForReady(Date.now() + 30_000, (err) => (err ? reject(err) : resolve())));
  return { dir, collector, ca: pki.ca, metrics, client };
}

/** The fake server's setup, for the one test that keeps it. */
async function fakeSetup(t: import('ava').ExecutionContext) {
  const dir = mkdtempSync(join(tmpdir(), 'nc-probe-coll-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const pki = makePki(dir, 'probe');
  const api = await FakeApiServer.start();
  t.teardown(() => api.close());
  const kubeconfig = api.writeKubeconfig(join(dir, 'kubeconfig'));
  const collector = await startCollectorProcess(['--tls-cert', pki.cert, '--tls-key', pki.key, '--kubeconfig', kubeconfig, '--no-kube', '--log-level', 'debug']);
  t.teardown(() => collector.stop('SIGKILL'));
  api.addToken('prometheus', { username: 'prom' });
  api.grant({ subject: 'prom', verb: 'get', path: '/metrics' });
  const tokenFile = (name: string, token: string): string => {
    const f = join(dir, `${name}.token`);
    writeFileSync(f, `${token}\n`);
    return f;
  };
  const metrics = async (): Promise<string> => (await httpsGet(collector.httpPort, '/metrics', pki.ca, 'prometheus')).body;
  const client = new (loadContract().AgentService)(collector.address, grpc.credentials.createSsl(readFileSync(pki.ca))) as AgentServiceClient;
  t.teardown(() => client.close());
  await new Promise<void>((resolve, reject) => client.waitForReady(Date.now() + 30_000, (err) => (err ? reject(err) : resolve())));
  return { dir, api, kubeconfig, collector, ca: pki.ca, tokenFile, metrics, client };
}

/**
 * A probe stream: Hello as a probe for `node`, then the given reports; resolves with acks and
 * the status. A stream refused as UNAVAILABLE before any Ack (the token review or the Pod read
 * did not get through on a loaded machine) is opened again, as the probe's reporter would.
 */
async function probeStream(client: AgentServiceClient, token: string, node: string, reports: ProbeReport[], podIp = '10.244.9.9'): Promise<{ acks: number[]; status: grpc.StatusObject }> {
  for (let attempt = 1; ; attempt++) {
    const r = await probeStreamOnce(client, token, node, reports, podIp);
    if (r.status.code !== grpc.status.UNAVAILABLE || r.acks.length > 0 || attempt === 5) return r;
    await new Promise((res) => setTimeout(res, 500 * attempt));
  }
}

function probeStreamOnce(client: AgentServiceClient, token: string, node: string, reports: ProbeReport[], podIp: string): Promise<{ acks: number[]; status: grpc.StatusObject }> {
  return new Promise((resolve) => {
    const acks: number[] = [];
    const call = client.Connect(bearerMetadata(token));
    call.on('data', (m: { ack?: { sequence: string } }) => {
      if (!m.ack) return;
      acks.push(Number(m.ack.sequence));
      if (acks.length === reports.length) call.end();
    });
    call.on('error', () => undefined);
    call.on('status', (status) => resolve({ acks, status }));
    call.write({ hello: { node, agentVersion: 'test', capabilities: ['report'], bootId: 'p1', role: 'probe', podIp } });
    for (const r of reports) call.write({ probeReport: r });
  });
}

const cumulative = (sequence: number, ok: number, bootId = 'boot-1'): ProbeReport => ({
  sequence: String(sequence), bootId, observedAt: new Date().toISOString(), podIp: '10.244.9.9', findings: [],
  attempts: [{ path: 'pod', key: 'ok', count: String(ok) }, { path: 'bogus', key: 'ok', count: '99' }],
  mismatches: [], peers: [],
  rtt: [{ path: 'pod', result: 'ok', buckets: PROBE_RTT_BUCKETS.map(() => String(ok)), sumSeconds: ok * 0.0001, count: String(ok) }],
  connections: { open: 2, breaks: String(sequence), longestGapSeconds: 1.5 },
});

test('probe streams: bound to the token\'s node and to the probe ServiceAccount; cumulative counters add only differences', async (t) => {
  const { client, metrics } = await setup(t);
  const probeD = (await probePod('netconform-probe-d', 'node-d', ['10.244.9.9'])).token;
  const agentPod = await createPod(cp, { namespace: NETCONFORM_NS, name: 'netconform-agent-d', node: 'node-d', serviceAccount: AGENT_SA_NAME });
  const agentD = await podToken(cp, agentPod, AGENT_SA_NAME, { audiences: AUD });

  const forged = await probeStream(client, probeD, 'node-c', [cumulative(1, 1)]);
  t.is(forged.status.code, grpc.status.PERMISSION_DENIED);
  t.is(forged.status.details, "this stream's token is for node node-d, not node-c");
  const agentAsProbe = await probeStream(client, agentD, 'node-d', [cumulative(1, 1)]);
  t.is(agentAsProbe.status.code, grpc.status.PERMISSION_DENIED);
  t.is(agentAsProbe.status.details, "this stream's token is the agent's ServiceAccount; it may not speak as a probe for node-d");

  // 5 attempts, the same report again, then 7 in total, then a restarted probe (new boot) with 2: 9.
  const own = await probeStream(client, probeD, 'node-d', [cumulative(1, 5), cumulative(1, 5), cumulative(2, 7), cumulative(1, 2, 'boot-2')]);
  t.deepEqual(own.acks, [1, 1, 2, 1]);
  const m = await metrics();
  t.is(sample(m, 'netconform_probe_attempts_total', { path: 'pod', result: 'ok' }), 9);
  t.is(sample(m, 'netconform_probe_rtt_seconds_count', { path: 'pod', result: 'ok' }), 9);
  t.is(sample(m, 'netconform_probe_rtt_seconds_bucket', { path: 'pod', result: 'ok', le: '0.00025' }), 9);
  t.is(sample(m, 'netconform_probe_connection_breaks_total', { node: 'node-d' }), 3, '1, then 2 (one more), then a new boot with 1');
  t.is(sample(m, 'netconform_probe_longest_gap_seconds', { node: 'node-d' }), 1.5);
  t.is(sample(m, 'netconform_collector_probe_values_dropped_total'), 3, 'the bogus path, once per new report');
  t.is(sample(m, 'netconform_collector_rejected_streams_total', { reason: 'wrong_node' }), 1);
  t.is(sample(m, 'netconform_collector_rejected_streams_total', { reason: 'wrong_role' }), 1);
  t.is(sample(m, 'netconform_agent_connected', { node: 'node-d' }), undefined, 'a probe stream is not the node\'s agent');
});

test('a probe\'s Hello may claim only its Pod\'s IPs; the Pod is read once per uid; a token without a Pod claim is refused', async (t) => {
  const { client, metrics } = await setup(t);
  const { pod: podE, token: probeE } = await probePod('netconform-probe-e', 'node-e', ['10.244.5.7', 'fd00:10:244:5::7']);
  // A token bound to the probe's node alone (TokenRequest can bind to a Node): no Pod claim.
  const nodeE = await cp.must<{ metadata: { uid: string } }>('GET', '/api/v1/nodes/node-e');
  const probeNoPod = (await cp.must<{ status: { token: string } }>('POST', `/api/v1/namespaces/${NETCONFORM_NS}/serviceaccounts/${PROBE_SA_NAME}/token`, {
    apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { audiences: AUD, expirationSeconds: 3600, boundObjectRef: { apiVersion: 'v1', kind: 'Node', name: 'node-e', uid: nodeE.metadata.uid } },
  })).status.token;
  // A token of a Pod deleted and created again under the same name (another uid).
  const { pod: old, token: probeStale } = await probePod('netconform-probe-old', 'node-e', ['10.244.5.8']);
  await cp.must('DELETE', `/api/v1/namespaces/${NETCONFORM_NS}/pods/${old.name}?gracePeriodSeconds=0`);
  const { pod: renewed } = await probePod('netconform-probe-old', 'node-e', ['10.244.5.8']);
  t.is(podE.name, 'netconform-probe-e');

  const v4 = await probeStream(client, probeE, 'node-e', [cumulative(1, 1)], '10.244.5.7');
  t.deepEqual(v4.acks, [1], `status ${v4.status.code}: ${v4.status.details}`);
  t.is(v4.status.code, grpc.status.OK);
  const readsForFirst = podReads('netconform-probe-e'); // 1, or more when a transient failure made the first stream retry
  t.true(readsForFirst >= 1);
  const v6 = await probeStream(client, probeE, 'node-e', [cumulative(2, 2)], 'fd00:10:244:5::7');
  t.deepEqual(v6.acks, [2], `status ${v6.status.code}: ${v6.status.details}`);
  const forged = await probeStream(client, probeE, 'node-e', [cumulative(3, 3)], '10.244.6.1');
  t.is(forged.status.code, grpc.status.PERMISSION_DENIED);
  t.is(forged.status.details, "this probe's Pod has IPs 10.244.5.7, fd00:10:244:5::7; it may not speak for pod IP 10.244.6.1 on node-e");
  t.deepEqual(forged.acks, []);
  t.is(podReads('netconform-probe-e'), readsForFirst, 'the next streams of one Pod uid read nothing: the Pod is cached');

  const noPod = await probeStream(client, probeNoPod, 'node-e', [cumulative(1, 1)], '10.244.5.7');
  t.is(noPod.status.code, grpc.status.PERMISSION_DENIED);
  t.is(noPod.status.details, "a probe's token must be bound to its Pod (a projected ServiceAccount token): its pod IP is checked against the Pod");
  // The real TokenReview already refuses a token whose Pod uid is gone, before the
  // collector's own uid check (which stays for API servers that do not).
  const stale = await probeStream(client, probeStale, 'node-e', [cumulative(1, 1)], '10.244.5.8');
  t.is(stale.status.code, grpc.status.UNAUTHENTICATED);
  t.is(stale.status.details, `token refused: [invalid bearer token, pod UID (${renewed.uid}) does not match service account pod ref claim (${old.uid})]`);
  t.is(podReads('netconform-probe-old'), 0, 'refused before any Pod read');

  const m = await metrics();
  t.is(sample(m, 'netconform_collector_rejected_streams_total', { reason: 'wrong_pod_ip' }), 1);
  t.is(sample(m, 'netconform_collector_rejected_streams_total', { reason: 'no_pod' }), 1);
  t.is(sample(m, 'netconform_collector_rejected_streams_total', { reason: 'invalid_token' }), 1);
  t.is(sample(m, 'netconform_probe_attempts_total', { path: 'pod', result: 'ok' }), 2, 'only the admitted streams\' reports count');
});

// Fake server: these probes reach each other and the probe Service on the host's loopback,
// so the Service's clusterIP must be 127.0.0.1; the real API server allocates ClusterIPs
// from its service range only, and nothing routes those here without kube-proxy.
// (test/probe-mesh.test.ts runs probes against the real API server in a two-node lab.)
test('real probes find their peers in the API server, report over TLS, and their no-nat.observed joins the agent\'s report for the node', async (t) => {
  const { api, kubeconfig, collector, ca, tokenFile, metrics, client } = await fakeSetup(t);
  const [portA, portB] = [await freePort(), await freePort()];
  const podA = fakeProbePod(api, 'netconform-probe-a', 'node-a', ['127.0.0.1'], portA);
  // node-b's probe pod has a second address no peer will ever see as a source (its peers
  // reach it at 127.0.0.1, and its own probes leave from 127.0.0.1, node-b's hostIP).
  const podB = fakeProbePod(api, 'netconform-probe-b', 'node-b', ['127.0.0.1', '192.0.2.10'], portB);
  // Same namespace, not a probe: never a peer.
  api.upsert({ kind: 'Pod', metadata: { name: 'netconform-agent-x', namespace: 'netconform', labels: { 'app.kubernetes.io/name': 'netconform-agent' } }, spec: { nodeName: 'node-a' }, status: { phase: 'Running', podIP: '127.0.0.1' } });
  api.upsert({ kind: 'Service', metadata: { name: 'netconform-probe', namespace: 'netconform' }, spec: { clusterIP: '127.0.0.1', ports: [{ port: portB, protocol: 'TCP' }] } });
  api.addToken('probe-a', { username: PROBE_SA, audiences: AUD, extra: probeClaims('node-a', podA) });
  api.addToken('probe-b', { username: PROBE_SA, audiences: AUD, extra: probeClaims('node-b', podB) });
  api.addToken('agent-a', { username: AGENT_SA, audiences: AUD, extra: nodeClaim('node-a') });
  api.addToken('reader', { username: 'alice' });
  api.grant({ subject: 'alice', verb: 'get', group: 'netconform.io', resource: 'findings' });

  // node-a's agent reports first (another check, its CNI); its probe's results must join, not replace.
  const agentCall = client.Connect(bearerMetadata('agent-a'));
  const acked = new Promise<void>((resolve) => agentCall.on('data', (m: { ack?: unknown }) => void (m.ack && resolve())));
  agentCall.on('error', () => undefined);
  agentCall.write({ hello: { node: 'node-a', agentVersion: 'test', capabilities: ['report'], bootId: 'a1' } });
  agentCall.write({ report: reportToWire({ sequence: 1, bootId: 'a1', scannedAt: new Date().toISOString(), proxyMode: 'iptables', cni: 'bridge',
    checks: [{ id: 'pod-network.bridge', status: 'fail', passed: 0, failed: 1, warned: 0, skipped: 0, errored: 0 }],
    findings: [{ check: 'pod-network.bridge', status: 'fail', severity: 'high', subject: 'cbr0', message: 'cbr0 is down' }] }) });
  await acked;
  t.teardown(() => agentCall.cancel());

  const probe = (name: string, node: string, port: number, podIp: string, token: string) => startProgram('agent', ['probe', '--pod-ip', podIp, '--node', node, '--pod-name', name,
    '--listen', `127.0.0.1:${port}`, '--kubeconfig', kubeconfig, '--namespace', 'netconform', '--interval', '1s', '--timeout', '1s',
    '--collector', collector.address, '--collector-ca', ca, '--token-file', tokenFile(name, token), '--log-level', 'debug']);
  const a = probe('netconform-probe-a', 'node-a', portA, '127.0.0.1', 'probe-a');
  t.teardown(() => a.stop('SIGKILL'));
  // node-b's probe says its pod IP is its second one (its Pod's, so admitted), which no peer sees: a rewrite to its node's address.
  const b = probe('netconform-probe-b', 'node-b', portB, '192.0.2.10', 'probe-b');
  t.teardown(() => b.stop('SIGKILL'));
  const peersA = await a.waitForLog((l) => l.msg === 'peers' && l['of'] === 2, 30_000, 'probe A to see both probe pods');
  t.like(peersA, { peers: 1, service: `127.0.0.1:${portB}` });

  const m = await eventually(async () => {
    const text = await metrics();
    return (sample(text, 'netconform_probe_attempts_total', { path: 'pod', result: 'mismatch' }) ?? 0) > 0 && (sample(text, 'netconform_probe_attempts_total', { path: 'pod', result: 'ok' }) ?? 0) > 0 ? text : undefined;
  }, 45_000, 'both probes to report');
  t.is(sample(m, 'netconform_check_status', { node: 'node-a', check: 'no-nat.observed' }), 0, 'pass');
  t.is(sample(m, 'netconform_check_status', { node: 'node-a', check: 'pod-network.bridge' }), 4, 'the agent\'s fail stays');
  t.is(sample(m, 'netconform_check_status', { node: 'node-b', check: 'no-nat.observed' }), 4, 'fail');
  t.true((sample(m, 'netconform_probe_source_mismatch_total', { path: 'pod', kind: 'sender-node' }) ?? 0) > 0);
  t.true((sample(m, 'netconform_probe_cni_pair_attempts_total', { src_cni: 'bridge', dst_cni: 'unknown', result: 'ok' }) ?? 0) > 0, 'node-a (bridge) → node-b (no agent)');
  t.true((sample(m, 'netconform_probe_cni_pair_attempts_total', { src_cni: 'unknown', dst_cni: 'bridge', result: 'mismatch' }) ?? 0) > 0);

  const noKube = { KUBECONFIG: join(tmpdir(), 'nc-no-kubeconfig') };
  const listed = await runProgram('cli', ['findings', '--collector', collector.address, '--ca', ca, '--token-file', tokenFile('reader', 'reader'), '--output', 'json'], noKube);
  t.is(listed.code, 0, listed.stderr);
  const rows = (JSON.parse(listed.stdout) as { findings: Array<{ node: string; check: string; subject: string; status: string; message: string }> }).findings;
  t.deepEqual(rows.map((f) => `${f.node} ${f.check} ${f.subject} ${f.status}`).sort(), ['node-a pod-network.bridge cbr0 fail', 'node-b no-nat.observed node-a fail'],
    'node-b\'s probes through the Service reach node-b itself (the Service is its port): hairpin answers prove nothing and are left out');
  t.regex(rows.find((f) => f.check === 'no-nat.observed')!.message, /arrived from 127\.0\.0\.1 \(this node's address: masqueraded on the way out\) instead of this pod's 192\.0\.2\.10/);

  // The agent's next report keeps the probe's result; SIGTERM stops a probe cleanly.
  agentCall.write({ report: reportToWire({ sequence: 2, bootId: 'a1', scannedAt: new Date().toISOString(), proxyMode: 'iptables', cni: 'bridge', checks: [], findings: [] }) });
  await eventually(async () => sample(await metrics(), 'netconform_check_status', { node: 'node-a', check: 'pod-network.bridge' }) === undefined || undefined, 15_000, 'agent report 2');
  t.is(sample(await metrics(), 'netconform_check_status', { node: 'node-a', check: 'no-nat.observed' }), 0);
  const stopped = await a.stop('SIGTERM');
  t.is(stopped.code, 0);
  t.true(stopped.ms < 4500, `stopped in ${stopped.ms} ms`);
  t.true(api.requests.some((r) => r.path === '/api/v1/namespaces/netconform/pods' && r.watch), 'pods watched in the namespace only');
  t.false(api.requests.some((r) => r.path === '/api/v1/pods'), 'never cluster-wide');
});

test('NodeRegistry merges a probe\'s no-nat.observed with the agent\'s report either way round, skips unchanged rounds and restores both parts', async (t) => {
  const { NodeRegistry, probeLayer } = await import('../collector/nodes.js');
  const registry = new NodeRegistry();
  const seen: Array<{ checks: string[]; findings: string[] }> = [];
  registry.addSink({ reportAccepted: (r) => void seen.push({ checks: r.checks.map((c) => `${c.id}:${c.status}`), findings: r.findings.map((f) => `${f.check}/${f.subject}`) }) });
  const meta = (sequence: number) => ({ bootId: 'p1', sequence, observedAt: '2026-01-01T00:00:00Z', receivedAt: '2026-01-01T00:00:01Z' });
  const pass = { check: 'no-nat.observed', status: 'pass' as const, severity: 'info' as const, subject: 'node-b', message: 'ok' };
  const fail = { ...pass, status: 'fail' as const, severity: 'high' as const, message: 'rewritten' };
  t.is(await registry.acceptProbe('node-a', probeLayer(meta(1), [pass])), 'accepted');
  t.is(await registry.acceptProbe('node-a', probeLayer(meta(1), [pass])), 'duplicate');
  t.is(await registry.acceptProbe('node-a', probeLayer(meta(2), [pass])), 'accepted', 'a new round with the same results');
  registry.acceptReport({ node: 'node-a', sequence: 1, bootId: 'a1', scannedAt: '', receivedAt: '2026-01-01T00:00:02Z', proxyMode: 'iptables', cni: 'bridge', agentVersion: 't',
    checks: [{ id: 'cni.config', status: 'warn', passed: 0, failed: 0, warned: 1, skipped: 0, errored: 0 }, { id: 'no-nat.observed', status: 'skip', passed: 0, failed: 0, warned: 0, skipped: 1, errored: 0 }],
    findings: [{ check: 'cni.config', status: 'warn', severity: 'low', subject: 'f', message: 'm' }] });
  t.is(await registry.acceptProbe('node-a', probeLayer(meta(3), [fail])), 'accepted');
  t.deepEqual(seen, [
    { checks: ['no-nat.observed:pass'], findings: [] },
    { checks: ['cni.config:warn', 'no-nat.observed:pass'], findings: ['cni.config/f'] },
    { checks: ['cni.config:warn', 'no-nat.observed:fail'], findings: ['cni.config/f', 'no-nat.observed/node-b'] },
  ], 'round 2 changed nothing and reached no sink; the agent\'s own no-nat.observed never replaces the probe\'s');

  // After a restart both parts come back: an agent report keeps the probe's failure, a probe round keeps the agent's warning.
  const restored = new NodeRegistry();
  restored.restore([registry.get('node-a')!.report!]);
  restored.acceptReport({ ...registry.get('node-a')!.report!, sequence: 2, checks: [], findings: [] });
  t.deepEqual(restored.get('node-a')!.report!.checks.map((c) => `${c.id}:${c.status}`), ['no-nat.observed:fail']);
  t.deepEqual(restored.get('node-a')!.report!.findings.map((f) => f.subject), ['node-b']);
});
