// Trust end to end against the real kube-apiserver: real TLS on loopback with certificates
// made here by openssl, a real collector process that authenticates with its own
// ServiceAccount's token and asks the real TokenReview and SubjectAccessReview APIs, agents
// whose tokens the TokenRequest API bound to their Pod (and so to its node), readers whose
// access is the real RBAC of manifests/base/rbac.yaml, real gRPC clients and the real agent
// and CLI. Readers who are people authenticate with static tokens (--token-auth-file), one
// of the API server's own authenticators, so TokenReview answers for them as for anyone.
import test from 'ava';
import * as grpc from '@grpc/grpc-js';
import { sign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { loadContract } from '../common/proto.js';
import { bearerMetadata } from '../common/tls.js';
import { reportToWire } from '../common/wire.js';
import type { AgentServiceClient } from '../gen/proto/netconform/v1/AgentService.js';
import { makePki } from './support/pki.js';
import { createLabNode } from './lab/lab.js';
import { ControlPlane, type KubeObject } from './lab/control-plane.js';
import { AGENT_SA, COLLECTOR_AUDIENCE, COLLECTOR_SA, NETCONFORM_NS, createPod, installNetconformRbac, prometheusScraperToken, jwtClaims, podToken, type BoundPod } from './lab/netconform-identity.js';
import { eventually, ROOT, runProgram, sample, startCollectorProcess, startProgram } from './support/processes.js';
import { httpsGet } from './support/net.js';

const AUD = [COLLECTOR_AUDIENCE];
/** People's static tokens: token,user,uid,"groups". */
const PEOPLE = { rita: 'token-rita', alice: 'token-alice', bob: 'token-bob', mallory: 'token-mallory' } as const;

let cp: ControlPlane;
let tokensDir: string;
/** The collector's kubeconfig: its ServiceAccount's token, bound to its Pod. */
let collectorKubeconfig: string;
/** A token of monitoring:prometheus, which the usual Prometheus ClusterRole lets get /metrics. */
let prometheus: string;

test.before(async () => {
  tokensDir = mkdtempSync(join(tmpdir(), 'nc-trust-tokens-'));
  const tokenCsv = join(tokensDir, 'tokens.csv');
  writeFileSync(tokenCsv, [
    `${PEOPLE.rita},rita,uid-rita,"netconform-readers"`,
    `${PEOPLE.alice},alice,uid-alice,"findings-readers"`,
    `${PEOPLE.bob},bob,uid-bob,"netconform-planners"`,
    `${PEOPLE.mallory},mallory,uid-mallory`,
  ].join('\n') + '\n');
  cp = await ControlPlane.start({ apiServerFlags: [`--token-auth-file=${tokenCsv}`] });
  await installNetconformRbac(cp);
  // rita holds the shipped netconform-reader role; alice and bob hold copies of it cut down to
  // one resource each, as the manifest says to give someone less; mallory holds nothing.
  const reader = parseAllDocuments(readFileSync(join(ROOT, 'manifests/base/rbac.yaml'), 'utf8')).map((d) => d.toJSON() as KubeObject)
    .find((o) => o['kind'] === 'ClusterRole' && (o['metadata'] as { name: string }).name === 'netconform-reader')!;
  const bind = async (name: string, role: string, group: string): Promise<void> => {
    await cp.create({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role }, subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: group }] });
  };
  await bind('netconform-readers', 'netconform-reader', 'netconform-readers');
  for (const [name, resource, group] of [['netconform-findings-reader', 'findings', 'findings-readers'], ['netconform-planner', 'migration', 'netconform-planners']] as const) {
    const rules = (reader['rules'] as { resources: string[] }[]).map((r) => ({ ...r, resources: r.resources.filter((x) => x === resource) }));
    await cp.create({ ...reader, metadata: { name }, rules });
    await bind(name, name, group);
  }
  prometheus = await prometheusScraperToken(cp);
  const collectorPod = await createPod(cp, { namespace: NETCONFORM_NS, name: 'netconform-collector-0', node: 'node-cp', serviceAccount: COLLECTOR_SA });
  collectorKubeconfig = cp.kubeconfig('collector', { token: await podToken(cp, collectorPod, COLLECTOR_SA) });
});
test.after.always(async () => {
  await cp?.stop();
  if (tokensDir) rmSync(tokensDir, { recursive: true, force: true });
});

let pods = 0;
/** An agent Pod on `node` and a token the TokenRequest API binds to it (for the collector's audience unless told). */
async function agentOn(node: string, audiences: readonly string[] | undefined = AUD): Promise<{ pod: BoundPod; token: string }> {
  const pod = await createPod(cp, { namespace: NETCONFORM_NS, name: `netconform-agent-${node}-${++pods}`, node, serviceAccount: AGENT_SA });
  return { pod, token: await podToken(cp, pod, AGENT_SA, audiences ? { audiences } : {}) };
}

async function setup(t: import('ava').ExecutionContext, pki: 'good' | 'rogue' = 'good', extraArgs: readonly string[] = []) {
  const dir = mkdtempSync(join(tmpdir(), 'nc-trust-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const good = makePki(dir, 'good');
  const served = pki === 'good' ? good : makePki(dir, 'rogue');
  const tokenFile = (name: string, token: string): string => {
    const f = join(dir, `${name}.token`);
    writeFileSync(f, `${token}\n`);
    return f;
  };
  const collector = await startCollectorProcess(['--tls-cert', served.cert, '--tls-key', served.key, '--kubeconfig', collectorKubeconfig, '--no-kube', '--log-level', 'debug', ...extraArgs]);
  t.teardown(() => collector.stop('SIGKILL'));
  return { dir, ca: good.ca, collector, tokenFile };
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


test.serial('a stream is bound to the node in its token: node-b may report as node-b only; no token, a token for another audience, an expired token or one whose Pod is gone is refused', async (t) => {
  t.timeout(240_000);
  const { collector, ca } = await setup(t);
  const agentB = await agentOn('node-b');
  // What the real TokenRequest API puts in a Pod-bound token: the Pod and, since 1.32, its node.
  const claims = jwtClaims(agentB.token)['kubernetes.io'] as { namespace: string; node: { name: string }; pod: { name: string; uid: string }; serviceaccount: { name: string } };
  t.deepEqual([claims.namespace, claims.serviceaccount.name, claims.pod.uid, claims.node.name], [NETCONFORM_NS, AGENT_SA, agentB.pod.uid, 'node-b']);
  t.deepEqual(jwtClaims(agentB.token)['aud'], AUD);
  const apiAudience = await podToken(cp, agentB.pod, AGENT_SA);
  await cp.create({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace: 'default' } });
  const stranger = await createPod(cp, { namespace: 'default', name: 'stranger', node: 'node-b', serviceAccount: 'default' });
  const otherSa = await podToken(cp, stranger, 'default', { audiences: AUD });
  const client = agentClient(collector.address, ca);
  t.teardown(() => client.close());

  const forged = await streamAs(client, agentB.token, 'node-c');
  t.is(forged.status.code, grpc.status.PERMISSION_DENIED);
  t.is(forged.status.details, "this stream's token is for node node-b, not node-c");
  t.deepEqual(forged.acks, []);

  const anonymous = await streamAs(client, undefined, 'node-b');
  t.is(anonymous.status.code, grpc.status.UNAUTHENTICATED);
  t.regex(anonymous.status.details, /no bearer token/);
  // The API server's own audience: the collector asks for its audience, so the review fails
  // (and the agent's token, for the collector's audience, passes: the review named it).
  const wrongAudience = await streamAs(client, apiAudience, 'node-b');
  t.is(wrongAudience.status.code, grpc.status.UNAUTHENTICATED);
  t.is(wrongAudience.status.details, 'token refused: [invalid bearer token, token audiences ["https://kubernetes.default.svc.cluster.local"] is invalid for the target audiences ["netconform-collector"]]');
  const otherSaStream = await streamAs(client, otherSa, 'node-b');
  t.is(otherSaStream.status.code, grpc.status.PERMISSION_DENIED);
  t.regex(otherSaStream.status.details, /^system:serviceaccount:default:default is not the agent's ServiceAccount \(netconform:netconform-agent\)/);

  const own = await streamAs(client, agentB.token, 'node-b');
  t.deepEqual(own.acks, [1]);
  t.is(own.status.code, grpc.status.OK);

  // The TokenRequest API issues no token shorter than 10 minutes: this one is the agent's
  // token as the issuer would have signed it an hour ago (the lab's own signing key).
  const expired = await streamAs(client, reissued(agentB.token, -3600), 'node-b');
  t.is(expired.status.code, grpc.status.UNAUTHENTICATED);
  t.is(expired.status.details, 'token refused: [invalid bearer token, service account token has expired]');
  // A bound token dies with its Pod. A Pod on a node is only Terminating after DELETE until
  // its kubelet confirms (and its token is still good meanwhile): grace 0 is that confirmation.
  const gone = await agentOn('node-b');
  await cp.must('DELETE', `/api/v1/namespaces/${NETCONFORM_NS}/pods/${gone.pod.name}`);
  t.is((await cp.request('GET', `/api/v1/namespaces/${NETCONFORM_NS}/pods/${gone.pod.name}`)).status, 200, 'still there, Terminating');
  await cp.must('DELETE', `/api/v1/namespaces/${NETCONFORM_NS}/pods/${gone.pod.name}?gracePeriodSeconds=0`);
  const deleted = await streamAs(client, gone.token, 'node-b');
  t.is(deleted.status.code, grpc.status.UNAUTHENTICATED);
  t.is(deleted.status.details, 'token refused: [invalid bearer token, service account token has been invalidated]');

  // Each refusal counted once, by reason; /metrics itself needs a token allowed get /metrics.
  t.is((await httpsGet(collector.httpPort, '/metrics', ca)).status, 401);
  t.is((await httpsGet(collector.httpPort, '/metrics', ca, PEOPLE.mallory)).status, 403);
  const m = await httpsGet(collector.httpPort, '/metrics', ca, prometheus);
  t.is(m.status, 200);
  const count = (reason: string): number | undefined => sample(m.body, 'netconform_collector_rejected_streams_total', { reason });
  t.deepEqual(['wrong_node', 'no_token', 'invalid_token', 'not_agent', 'superseded'].map(count), [1, 1, 3, 1, 0]);
  t.is(sample(m.body, 'netconform_collector_rejected_requests_total', { api: 'metrics', reason: 'no_token' }), 1);
  t.is(sample(m.body, 'netconform_collector_rejected_requests_total', { api: 'metrics', reason: 'forbidden' }), 1);
  t.is(sample(m.body, 'netconform_collector_reports_received_total'), 1);
  // No token text reached the log.
  for (const token of [agentB.token, apiAudience, otherSa, prometheus]) t.false(collector.stderr().includes(token));
  t.is((await httpsGet(collector.httpPort, '/healthz', ca)).status, 200);
});

test.serial('a real agent on a lab node proves its node through its token and its report is readable only with RBAC', async (t) => {
  t.timeout(300_000);
  const lab = await createLabNode({ pods: 1 });
  t.teardown(() => lab.destroy());
  const { collector, ca, tokenFile } = await setup(t);
  const agent = await agentOn(lab.nodeName);
  const agentProc = startProgram('agent', ['run', '--collector', collector.address, '--collector-ca', ca, '--token-file', tokenFile('agent', agent.token),
    '--netns', lab.netns, '--node', lab.nodeName, '--interval', '1h', '--log-level', 'debug']);
  t.teardown(() => agentProc.stop('SIGKILL'));
  await agentProc.waitForLog((l) => l.msg === 'report acknowledged' && l['sequence'] === 1, 60_000, 'ack of report 1');

  const noKube = { KUBECONFIG: join(tmpdir(), 'nc-no-kubeconfig') };
  const cli = (args: string[], who?: keyof typeof PEOPLE) =>
    runProgram('cli', [...args, '--collector', collector.address, '--ca', ca, ...(who ? ['--token-file', tokenFile(who, PEOPLE[who])] : [])], noKube);
  // rita holds netconform-reader: everything it grants.
  const nodes = await cli(['nodes', '--output', 'json'], 'rita');
  t.is(nodes.code, 0, nodes.stderr);
  t.deepEqual((JSON.parse(nodes.stdout) as { nodes: Array<{ node: string; connected: boolean }> }).nodes.map((n) => [n.node, n.connected]), [[lab.nodeName, true]]);
  const ritaPsa = await cli(['psa', 'namespaces'], 'rita');
  t.is(ritaPsa.code, 0, ritaPsa.stderr);

  const denied = await cli(['findings'], 'mallory');
  t.is(denied.code, 2);
  t.is(denied.stderr.trim(), `netconform: collector at ${collector.address}: PERMISSION_DENIED: mallory may not get findings.netconform.io (bind the ClusterRole netconform-reader)`);
  const anonymous = await cli(['nodes']);
  t.is(anonymous.code, 2);
  t.regex(anonymous.stderr, /refused the credentials \(UNAUTHENTICATED\): no bearer token/);
  // alice's copy of the role holds findings only: Pod Security data and the migration
  // inventory (the cluster's layout) are separate permissions she was not given.
  const psa = await cli(['psa', 'namespaces'], 'alice');
  t.is(psa.code, 2);
  t.regex(psa.stderr, /alice may not get podsecurity\.netconform\.io/);
  const migration = await cli(['migrate', 'check', '--to', 'calico'], 'alice');
  t.is(migration.code, 2);
  t.is(migration.stderr.trim(), `netconform: collector at ${collector.address}: PERMISSION_DENIED: alice may not get migration.netconform.io (bind the ClusterRole netconform-reader)`);
  // bob's holds migration only.
  const planned = await cli(['migrate', 'check', '--to', 'calico', '--format', 'json'], 'bob');
  t.is(planned.code, 0, planned.stderr);
  t.deepEqual((JSON.parse(planned.stdout) as { nodes: { node: string }[] }).nodes.map((n) => n.node), [lab.nodeName]);
  t.regex(planned.stderr, /the collector watches no cluster, so NetworkPolicies, CIDRs, pods and DaemonSets are not judged/);
});

test.serial('the agent refuses a collector whose certificate its --collector-ca did not sign', async (t) => {
  const { collector, ca, tokenFile } = await setup(t, 'rogue');
  const agentB = await agentOn('node-b');
  const lab = await createLabNode({ pods: 0 });
  t.teardown(() => lab.destroy());
  const agent = startProgram('agent', ['run', '--collector', collector.address, '--collector-ca', ca, '--token-file', tokenFile('agent', agentB.token),
    '--netns', lab.netns, '--node', 'node-b', '--interval', '1h']);
  t.teardown(() => agent.stop('SIGKILL'));
  const closed = await agent.waitForLog((l) => l.msg === 'collector stream closed; retrying', 60_000, 'the TLS failure');
  t.is(closed['code'], 'UNAVAILABLE');
  t.regex(String(closed['detail']), /certificate|self[- ]signed|unable to verify/i);
  t.false(agent.logs.some((l) => l.msg === 'connected to collector'));
  await eventually(() => collector.logs.some((l) => l.msg === 'collector listening') || undefined);
  t.false(collector.stderr().includes(agentB.token), 'no token ever reached the rogue collector');
  t.false(collector.logs.some((l) => l.msg === 'agent token refused'), 'no stream reached the collector');
});

test.serial('stream limits: excess reports wait (the newest wins), a second stream for a node replaces the first, streams beyond the maximum are refused; each counted', async (t) => {
  const { collector, ca } = await setup(t, 'good', ['--max-reports-per-minute', '1', '--max-agent-streams', '2']);
  const tokens: Record<string, string> = {};
  for (const n of ['node-b', 'node-d']) tokens[n] = (await agentOn(n)).token;
  const client = agentClient(collector.address, ca);
  t.teardown(() => client.close());
  const report = (sequence: number) => ({ report: reportToWire({ sequence, bootId: 'b1', scannedAt: new Date().toISOString(), proxyMode: 'iptables', cni: 'bridge', checks: [], findings: [] }) });
  const open = (token: string, node: string) => {
    const acks: number[] = [];
    const call = client.Connect(bearerMetadata(tokens[token]));
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
  await eventually(async () => sample((await httpsGet(collector.httpPort, '/metrics', ca, prometheus)).body, 'netconform_agent_connected', { node: 'node-d' }) === 1 || undefined, 15_000, 'node-d connected');
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
  const m = (await httpsGet(collector.httpPort, '/metrics', ca, prometheus)).body;
  t.is(sample(m, 'netconform_collector_reports_rate_limited_total'), 1, 'report 2 was replaced by report 3 while waiting');
  t.is(sample(m, 'netconform_collector_rejected_streams_total', { reason: 'superseded' }), 1);
  t.is(sample(m, 'netconform_collector_rejected_streams_total', { reason: 'too_many_streams' }), 1);
  t.is(sample(m, 'netconform_collector_reports_received_total'), 3);
});

test.serial('a message above the 16 MiB receive limit ends the stream with RESOURCE_EXHAUSTED and is counted', async (t) => {
  const { collector, ca } = await setup(t);
  const agentB = await agentOn('node-b');
  const client = agentClient(collector.address, ca);
  t.teardown(() => client.close());
  const call = client.Connect(bearerMetadata(agentB.token));
  const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
  call.on('error', () => undefined);
  call.write({ hello: { node: 'node-b', agentVersion: 'test', capabilities: ['report'], bootId: 'b1' } });
  const huge = { check: 'service-routing.clusterip', status: 'fail' as const, severity: 'high' as const, subject: 'x', message: 'm'.repeat(17 * 1024 * 1024), evidence: {} };
  call.write({ report: reportToWire({ sequence: 1, bootId: 'b1', scannedAt: new Date().toISOString(), proxyMode: 'iptables', cni: 'bridge', checks: [], findings: [huge] }) });
  const s = await status;
  t.is(s.code, grpc.status.RESOURCE_EXHAUSTED);
  t.regex(s.details, /larger than max/);
  const m = (await httpsGet(collector.httpPort, '/metrics', ca, prometheus)).body;
  t.is(sample(m, 'netconform_collector_oversized_messages_total'), 1);
  t.is(sample(m, 'netconform_collector_reports_received_total'), 0, 'the oversized report never reached the handler');
});

/**
 * A copy of a real token as its issuer would have signed it `shiftSeconds` from now (iat,
 * nbf and exp moved together), signed with the lab's own service-account key (ES256).
 */
function reissued(token: string, shiftSeconds: number): string {
  const [header] = token.split('.');
  const claims = jwtClaims(token) as { iat: number; nbf: number; exp: number };
  const lifetime = claims.exp - claims.iat;
  const iat = Math.floor(Date.now() / 1000) + shiftSeconds - lifetime;
  const payload = Buffer.from(JSON.stringify({ ...claims, iat, nbf: iat, exp: iat + lifetime })).toString('base64url');
  const signature = sign('sha256', Buffer.from(`${header}.${payload}`), { key: readFileSync(join(cp.dir, 'sa.key')), dsaEncoding: 'ieee-p1363' });
  return `${header}.${payload}.${signature.toString('base64url')}`;
}
