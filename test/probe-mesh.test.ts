// The probe mesh end to end in a two-node lab (node namespaces joined by a veth underlay,
// one pod each, kube-proxy-shaped DNAT for the probe Service on both nodes): real probes in
// the pods find each other through the real kube-apiserver (their Pods and the Service
// created there; each probe reads it as the probe ServiceAccount, with the shipped Role),
// report over TLS to a real collector with tokens the TokenRequest API bound to their Pods, and what they see becomes each node's no-nat.observed. A MASQUERADE on
// node A is reported as node A's address at the collector and recovers when removed; an
// SNAT only on the Service path fails only that path; node A's underlay down for 4 s breaks
// the disruption mode's connections and the gap is measured. The probe Service is of type
// NodePort, with kube-proxy-shaped NodePort DNAT and masquerade on both nodes: the NodePort
// path through each probe's own node reports the masqueraded source as expected
// (externalTrafficPolicy Cluster) without failing anything. The API server and collector
// are reached from the pods through relays (test/support/netns-relay.ts): no host change.
import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTwoNodeLab } from './lab/two-nodes.js';
import { ControlPlane } from './lab/control-plane.js';
import { COLLECTOR_AUDIENCE, COLLECTOR_SA, NETCONFORM_NS, PROBE_SA, createPod, installNetconformRbac, podToken } from './lab/netconform-identity.js';
import { makePki } from './support/pki.js';
import { relayIntoNetns } from './support/netns-relay.js';
import { ROOT, eventually, runProgram, sample, startCollectorProcess } from './support/processes.js';
import { httpsGet } from './support/net.js';

const AUD = [COLLECTOR_AUDIENCE];
const SVC = '10.96.0.50';
const NODE_PORT = 30777;


const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('probe mesh in a two-node lab: healthy, masquerade on node A, Service-only SNAT and an underlay outage, as the collector sees them', async (t) => {
  t.timeout(480_000);
  const { a, b, underlayA: ua } = await createTwoNodeLab(t, 'm');
  const podA = a.pods[0]!, podB = b.pods[0]!;
  // The probe Service, kube-proxy style on each node: from A it lands on B's probe, from B on A's.
  await a.exec('iptables', ['-w', '-t', 'nat', '-A', 'PREROUTING', '-d', `${SVC}/32`, '-p', 'tcp', '--dport', '7777', '-j', 'DNAT', '--to-destination', `${podB.ip}:7777`]);
  await b.exec('iptables', ['-w', '-t', 'nat', '-A', 'PREROUTING', '-d', `${SVC}/32`, '-p', 'tcp', '--dport', '7777', '-j', 'DNAT', '--to-destination', `${podA.ip}:7777`]);
  // Its NodePort, kube-proxy style (externalTrafficPolicy Cluster): to any local address at the
  // port, marked for masquerade (KUBE-MARK-MASQ) and DNATed to the other node's probe; marked
  // packets are masqueraded on the way out (KUBE-POSTROUTING).
  for (const [node, target] of [[a, podB], [b, podA]] as const) {
    const nodePort = ['-m', 'addrtype', '--dst-type', 'LOCAL', '-p', 'tcp', '--dport', String(NODE_PORT)];
    await node.exec('iptables', ['-w', '-t', 'nat', '-A', 'PREROUTING', ...nodePort, '-j', 'MARK', '--set-xmark', '0x4000/0x4000']);
    await node.exec('iptables', ['-w', '-t', 'nat', '-A', 'PREROUTING', ...nodePort, '-j', 'DNAT', '--to-destination', `${target.ip}:7777`]);
    await node.exec('iptables', ['-w', '-t', 'nat', '-A', 'POSTROUTING', '-m', 'mark', '--mark', '0x4000/0x4000', '-j', 'MASQUERADE']);
  }

  const dir = mkdtempSync(join(tmpdir(), 'nc-probe-mesh-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const pki = makePki(dir, 'mesh');
  const cp = await ControlPlane.start();
  t.teardown(() => cp.stop());
  await installNetconformRbac(cp);
  const collectorPod = await createPod(cp, { namespace: NETCONFORM_NS, name: 'netconform-collector-0', node: 'node-cp', serviceAccount: COLLECTOR_SA });
  const collector = await startCollectorProcess(['--tls-cert', pki.cert, '--tls-key', pki.key, '--kubeconfig', cp.kubeconfig('collector', { token: await podToken(cp, collectorPod, COLLECTOR_SA) }), '--no-kube']);
  t.teardown(() => collector.stop('SIGKILL'));
  // Prometheus may get /metrics; alice holds the shipped netconform-reader role.
  await cp.createNamespace('people');
  for (const [name, role] of [['prometheus', 'netconform-test-metrics'], ['alice', 'netconform-reader']] as const) {
    await cp.create({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace: 'people' } });
    await cp.create({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: `people-${name}` },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: role }, subjects: [{ kind: 'ServiceAccount', name, namespace: 'people' }] });
  }
  await cp.create({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: 'netconform-test-metrics' }, rules: [{ nonResourceURLs: ['/metrics'], verbs: ['get'] }] });
  const prometheus = await cp.token('people', 'prometheus');
  const readerToken = join(dir, 'reader.token');
  writeFileSync(readerToken, `${await cp.token('people', 'alice')}\n`);

  const probeTokens = new Map<string, { collector: string; api: string }>();
  for (const [name, node, pod, host] of [['netconform-probe-a', 'node-a', podA, '10.250.7.1'], ['netconform-probe-b', 'node-b', podB, '10.250.7.2']] as const) {
    const bound = await createPod(cp, { namespace: NETCONFORM_NS, name, node, serviceAccount: PROBE_SA, podIPs: [pod.ip], hostIP: host,
      labels: { 'app.kubernetes.io/name': 'netconform-probe' }, ports: [{ name: 'echo', containerPort: 7777 }] });
    // The probe's two projected tokens: one for the collector, one for the API server.
    probeTokens.set(name, { collector: await podToken(cp, bound, PROBE_SA, { audiences: AUD }), api: await podToken(cp, bound, PROBE_SA) });
  }
  await cp.create({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'netconform-probe', namespace: NETCONFORM_NS },
    spec: { type: 'NodePort', externalTrafficPolicy: 'Cluster', clusterIP: SVC, selector: { 'app.kubernetes.io/name': 'netconform-probe' }, ports: [{ port: 7777, protocol: 'TCP', nodePort: NODE_PORT }] } });
  const apiPort = cp.port;

  const probes: ChildProcess[] = [];
  t.teardown(() => { for (const p of probes) p.kill('SIGKILL'); });
  for (const [name, node, pod] of [['netconform-probe-a', 'node-a', podA], ['netconform-probe-b', 'node-b', podB]] as const) {
    const relay = await relayIntoNetns(pod.netns, [apiPort, collector.grpcPort], dir);
    t.teardown(() => relay.stop());
    const token = join(dir, `${name}.token`);
    writeFileSync(token, `${probeTokens.get(name)!.collector}\n`);
    const kubeconfig = cp.kubeconfig(name, { token: probeTokens.get(name)!.api });
    probes.push(spawn('ip', ['netns', 'exec', pod.netns, process.execPath, '--import', 'tsx', join(ROOT, 'agent/main.ts'), 'probe',
      '--pod-ip', pod.ip, '--node', node, '--pod-name', name, '--listen', '0.0.0.0:7777', '--kubeconfig', kubeconfig, '--namespace', 'netconform',
      '--interval', '1s', '--timeout', '1s', '--collector', collector.address, '--collector-ca', pki.ca, '--token-file', token,
      '--connections', '1', '--heartbeat', '200ms', '--break-after', '1s', '--gateway', a.gateway, '--gateway', b.gateway], { cwd: ROOT, stdio: ['ignore', 'ignore', 'ignore'] }));
  }

  const metrics = async (): Promise<string> => (await httpsGet(collector.httpPort, '/metrics', pki.ca, prometheus)).body;
  const status = async (node: string): Promise<number | undefined> => sample(await metrics(), 'netconform_check_status', { node, check: 'no-nat.observed' });
  const findingsOf = async (node: string): Promise<string[]> => {
    const r = await runProgram('cli', ['findings', '--collector', collector.address, '--ca', pki.ca, '--token-file', readerToken, '--node', node, '--output', 'json'], { KUBECONFIG: join(dir, 'none') });
    return (JSON.parse(r.stdout) as { findings: Array<{ check: string; subject: string; status: string; message: string }> }).findings
      .filter((f) => f.check === 'no-nat.observed').map((f) => `${f.subject} ${f.status}: ${f.message}`);
  };
  const settled = (node: string, want: string[], what: string): Promise<string[]> =>
    eventually(async () => {
      const got = await findingsOf(node);
      return JSON.stringify(got.map((f) => f.slice(0, f.indexOf(':')))) === JSON.stringify(want) ? got : undefined;
    }, 40_000, what);

  // Healthy: both nodes pass, directly and through the Service.
  await eventually(async () => ((await status('node-a')) === 0 && (await status('node-b')) === 0) || undefined, 60_000, 'both probes to report a passing round');
  t.deepEqual(await findingsOf('node-a'), []);
  // The NodePort path (found from the Service, through each probe's own hostIP) was masqueraded, as
  // kube-proxy does by design with externalTrafficPolicy Cluster: counted, and no-nat.observed still passes.
  const nodePortSeen = await eventually(async () => {
    const m = await metrics();
    return (sample(m, 'netconform_probe_attempts_total', { path: 'nodeport', result: 'mismatch' }) ?? 0) >= 2 ? m : undefined;
  }, 30_000, 'NodePort probes counted');
  t.true((sample(nodePortSeen, 'netconform_probe_source_mismatch_total', { path: 'nodeport', kind: 'sender-node' }) ?? 0) >= 2);
  t.is(sample(nodePortSeen, 'netconform_probe_attempts_total', { path: 'nodeport', result: 'ok' }), undefined, 'every NodePort probe was masqueraded');
  t.is(sample(nodePortSeen, 'netconform_probe_source_mismatch_total', { path: 'pod', kind: 'sender-node' }), undefined, 'the pod path is untouched');
  t.is(sample(nodePortSeen, 'netconform_probe_source_mismatch_total', { path: 'service', kind: 'sender-node' }), undefined, 'the Service path is untouched');
  t.is(await status('node-a'), 0);
  t.is(await status('node-b'), 0);
  // What the finding says, from one round of a probe in pod A with the flags (the pass is not among the listed findings).
  const once = async (policy: string): Promise<unknown> => JSON.parse(await a.execPod(0, process.execPath, ['--import', 'tsx', join(ROOT, 'agent/main.ts'), 'probe', '--once',
    '--pod-ip', podA.ip, '--node', 'node-a', '--listen', '0.0.0.0:0', '--nodeport', String(NODE_PORT), '--external-traffic-policy', policy,
    '--node-address', 'node-a=10.250.7.1', '--node-address', 'node-b=10.250.7.2', '--timeout', '1s'])) as { findings: unknown[] };
  const through = `1 of 1 probes through the NodePort 10.250.7.1:${NODE_PORT} arrived from 10.250.7.1 (this node's address: masqueraded on the way out) instead of this pod's ${podA.ip}`;
  t.deepEqual((await once('Cluster') as { findings: unknown[] }).findings, [{
    check: 'no-nat.observed', status: 'pass', severity: 'info', subject: 'nodeport',
    message: `${through}, as expected with externalTrafficPolicy Cluster: kube-proxy masquerades NodePort traffic so the answer returns through this node`,
    evidence: { expected: podA.ip, seen: ['10.250.7.1'], kind: 'sender-node', externalTrafficPolicy: 'Cluster', rewriteExpected: true, rewrittenBy: 'node-a' },
  }]);
  t.deepEqual((await once('Local') as { findings: unknown[] }).findings, [{
    check: 'no-nat.observed', status: 'warn', severity: 'medium', subject: 'nodeport',
    message: `${through}, but externalTrafficPolicy Local must preserve the client's address: something other than kube-proxy rewrote it`,
    evidence: { expected: podA.ip, seen: ['10.250.7.1'], kind: 'sender-node', externalTrafficPolicy: 'Local', rewriteExpected: false, rewrittenBy: 'node-a' },
  }]);

  // MASQUERADE on node A for pod → pod: node A's probe reports node A's address, B stays clean.
  const masq = ['-t', 'nat', '-A', 'POSTROUTING', '-s', '10.244.1.0/24', '-d', '10.244.2.0/24', '-j', 'MASQUERADE'];
  await a.exec('iptables', ['-w', ...masq]);
  const masked = await settled('node-a', ['node-b fail', 'service fail'], 'node A\'s masquerade at the collector');
  t.regex(masked[0]!, new RegExp(`^node-b fail: \\d+ of \\d+ probes to pods on node-b arrived from 10\\.250\\.7\\.1 \\(this node's address: masqueraded on the way out\\) instead of this pod's ${podA.ip.replace(/\./g, '\\.')}`));
  t.is(await status('node-b'), 0);
  t.true((sample(await metrics(), 'netconform_probe_source_mismatch_total', { path: 'pod', kind: 'sender-node' }) ?? 0) > 0);
  await a.exec('iptables', ['-w', ...masq.map((x) => (x === '-A' ? '-D' : x))]);
  await settled('node-a', [], 'node A to recover');

  // SNAT only after the Service's DNAT: only the Service path fails.
  const snat = ['-t', 'nat', '-A', 'POSTROUTING', '-m', 'conntrack', '--ctorigdst', `${SVC}/32`, '-j', 'SNAT', '--to-source', '10.250.7.1'];
  await a.exec('iptables', ['-w', ...snat]);
  const svcOnly = await settled('node-a', ['service fail'], 'the Service-only SNAT');
  t.regex(svcOnly[0]!, /^service fail: \d+ of \d+ probes through the probe Service arrived from 10\.250\.7\.1 /);
  await a.exec('iptables', ['-w', ...snat.map((x) => (x === '-A' ? '-D' : x))]);
  await settled('node-a', [], 'the Service path to recover');

  // Disruption: node A's underlay down for 4 s. Each node's one long-lived connection breaks once (or twice);
  // the longest gap is the outage plus at most about a break-after and a reconnect.
  const before = await metrics();
  t.is(sample(before, 'netconform_probe_connection_breaks_total', { node: 'node-a' }), 0);
  t.is(sample(before, 'netconform_probe_connection_breaks_total', { node: 'node-b' }), 0);
  await a.exec('ip', ['link', 'set', ua, 'down']);
  await sleep(4000);
  await a.exec('ip', ['link', 'set', ua, 'up']);
  // Link down took the route through it away; put it back as the node's routing would.
  await a.exec('ip', ['route', 'replace', '10.244.2.0/24', 'via', '10.250.7.2']);
  const after = await eventually(async () => {
    const m = await metrics();
    const ok = (sample(m, 'netconform_probe_connection_breaks_total', { node: 'node-a' }) ?? 0) >= 1 && (sample(m, 'netconform_probe_connection_breaks_total', { node: 'node-b' }) ?? 0) >= 1;
    return ok && (await status('node-a')) === 0 ? m : undefined;
  }, 40_000, 'breaks counted and the path back');
  await sleep(3000); // one more report after the connections are back
  const final = await metrics();
  for (const node of ['node-a', 'node-b']) {
    const breaks = sample(final, 'netconform_probe_connection_breaks_total', { node })!;
    const gap = sample(final, 'netconform_probe_longest_gap_seconds', { node })!;
    t.log(`${node}: ${breaks} breaks, longest gap ${gap} s`);
    t.true(breaks >= 1 && breaks <= 2, `${node}: ${breaks} breaks`);
    t.true(gap >= 3.8 && gap <= 8, `${node}: longest gap ${gap} s`);
  }
  t.truthy(after);
});
