// The source-IP probe on the wire: a two-node lab (node namespaces joined by a veth
// "underlay", each with cbr0 and a pod), probes in the pods. Healthy: the receiver sees the
// sender's pod IP, directly and through a Service. A MASQUERADE on node A: the probe reports
// A's address and no-nat.pod-to-pod on A names the rule; removed: both recover. An SNAT only
// on the Service path: only that path fails. Traffic stays inside the lab's namespaces.
import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTwoNodeLab } from './lab/two-nodes.js';
import { ROOT, runProgram } from './support/processes.js';
import { selectPeers } from '../agent/probe/peers.js';
import { classifySource } from '../agent/probe/classify.js';

type Finding = { check: string; status: string; subject: string; message: string; evidence: Record<string, unknown> };

function inNetns(ns: string, args: string[]): ChildProcess {
  return spawn('ip', ['netns', 'exec', ns, process.execPath, '--import', 'tsx', join(ROOT, 'agent/main.ts'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
}

function runInNetns(ns: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const c = inNetns(ns, args);
  let stdout = '', stderr = '';
  c.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  c.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => c.on('close', (code) => resolve({ code, stdout, stderr })));
}

test('peer selection is a deterministic ring of K other-node peers plus one on the own node', (t) => {
  const all = Array.from({ length: 20 }, (_, i) => ({ name: `p${i}`, node: `n${i % 5}`, ip: `10.0.0.${i}`, port: 7777 }));
  const a = selectPeers({ name: 'p0', node: 'n0' }, all, 3);
  t.deepEqual(a, selectPeers({ name: 'p0', node: 'n0' }, [...all].reverse(), 3), 'independent of input order');
  t.is(a.length, 4);
  t.is(a.filter((p) => p.node === 'n0').length, 1);
  t.false(a.some((p) => p.name === 'p0'));
  t.deepEqual(classifySource('10.250.7.1', '10.244.1.10', 'a', { nodeAddresses: new Map([['a', ['10.250.7.1']], ['b', ['10.250.7.2']]]), gateways: ['10.244.2.1'] }), { kind: 'sender-node', node: 'a' });
  t.deepEqual(classifySource('10.250.7.2', '10.244.1.10', 'a', { nodeAddresses: new Map([['a', ['10.250.7.1']], ['b', ['10.250.7.2']]]), gateways: [] }), { kind: 'other-node', node: 'b' });
  t.deepEqual(classifySource('10.244.2.1', '10.244.1.10', 'a', { nodeAddresses: new Map(), gateways: ['10.244.2.1'] }), { kind: 'gateway' });
  t.deepEqual(classifySource('203.0.113.9', '10.244.1.10', 'a', { nodeAddresses: new Map(), gateways: [] }), { kind: 'unknown' });
});

test('two-node lab: probes see true sources; a masquerade on node A and a Service-only SNAT are caught and classified', async (t) => {
  const { a, b } = await createTwoNodeLab(t, 'u');
  const podA = a.pods[0]!, podB = b.pods[0]!;

  const echo = inNetns(podB.netns, ['probe', '--pod-ip', podB.ip, '--node', 'node-b', '--listen', '0.0.0.0:7777']);
  t.teardown(() => { echo.kill('SIGKILL'); });
  await new Promise<void>((resolve, reject) => {
    let err = '';
    echo.stderr!.on('data', (d: Buffer) => { err += d.toString(); if (err.includes('echo listening')) resolve(); });
    echo.on('exit', (code) => reject(new Error(`echo exited ${code}: ${err}`)));
  });
  // A Service for the probe pods, kube-proxy style: DNAT on node A to pod B's echo.
  const svc = '10.96.0.50';
  await a.exec('iptables', ['-w', '-t', 'nat', '-A', 'PREROUTING', '-d', `${svc}/32`, '-p', 'tcp', '--dport', '7777', '-j', 'DNAT', '--to-destination', `${podB.ip}:7777`]);
  const probe = (): Promise<{ code: number | null; findings: Finding[]; stderr: string }> => runInNetns(podA.netns, [
    'probe', '--once', '--pod-ip', podA.ip, '--node', 'node-a', '--listen', '0.0.0.0:0', '--timeout', '3s',
    '--peer', `probe-b@node-b=${podB.ip}:7777`, '--service', `${svc}:7777`,
    '--node-address', 'node-a=10.250.7.1', '--node-address', 'node-b=10.250.7.2', '--gateway', a.gateway, '--gateway', b.gateway,
  ]).then((r) => ({ code: r.code, stderr: r.stderr, findings: r.stdout ? (JSON.parse(r.stdout) as { findings: Finding[] }).findings : [] }));
  const brief = (fs: Finding[]): string[] => fs.map((f) => `${f.subject} ${f.status}`);

  const healthy = await probe();
  t.is(healthy.code, 0, healthy.stderr);
  t.deepEqual(brief(healthy.findings), ['node-b pass', 'service pass']);
  t.is(healthy.findings[0]!.message, `2 probes to pods on node-b arrived from this pod's ${podA.ip}`);

  // The static trace agrees with the wire: no-nat.pod-to-pod on node A.
  const dir = mkdtempSync(join(tmpdir(), 'nc-probe-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const cluster = join(dir, 'cluster.json');
  writeFileSync(cluster, JSON.stringify({ kind: 'List', apiVersion: 'v1', items: [
    { kind: 'Node', apiVersion: 'v1', metadata: { name: a.nodeName }, spec: { podCIDRs: ['10.244.1.0/24'] }, status: { addresses: [{ type: 'InternalIP', address: '10.250.7.1' }] } },
    { kind: 'Node', apiVersion: 'v1', metadata: { name: 'node-b' }, spec: { podCIDRs: ['10.244.2.0/24'] }, status: { addresses: [{ type: 'InternalIP', address: '10.250.7.2' }] } },
  ] }));
  const noNat = async (): Promise<Finding[]> => {
    const r = await runProgram('agent', ['scan', '--netns', a.netns, '--node', a.nodeName, '--cluster', cluster, '--format', 'json']);
    return (JSON.parse(r.stdout) as { findings: Finding[] }).findings.filter((f) => f.check === 'no-nat.pod-to-pod');
  };
  t.true((await noNat()).every((f) => f.status === 'pass'));

  await a.exec('iptables', ['-w', '-t', 'nat', '-A', 'POSTROUTING', '-s', '10.244.1.0/24', '-d', '10.244.2.0/24', '-j', 'MASQUERADE']);
  const masq = await probe();
  t.is(masq.code, 1);
  t.deepEqual(brief(masq.findings), ['node-b fail', 'service fail']);
  t.is(masq.findings[0]!.message, `2 of 2 probes to pods on node-b arrived from 10.250.7.1 (this node's address: masqueraded on the way out) instead of this pod's ${podA.ip}: the receiving pod does not see the sender's pod IP`);
  t.like(masq.findings[0]!.evidence, { expected: podA.ip, seen: ['10.250.7.1'], kind: 'sender-node', rewrittenBy: 'node-a', peers: ['probe-b/tcp', 'probe-b/udp'] });
  const traced = await noNat();
  const nodeB = traced.find((f) => f.subject === 'node-b');
  t.is(nodeB?.status, 'fail');
  t.regex(JSON.stringify(nodeB?.evidence), /-A POSTROUTING -s 10\.244\.1\.0\/24 -d 10\.244\.2\.0\/24 -j MASQUERADE/);

  await a.exec('iptables', ['-w', '-t', 'nat', '-D', 'POSTROUTING', '-s', '10.244.1.0/24', '-d', '10.244.2.0/24', '-j', 'MASQUERADE']);
  t.deepEqual(brief((await probe()).findings), ['node-b pass', 'service pass']);
  t.true((await noNat()).every((f) => f.status === 'pass'));

  // SNAT only after the Service's DNAT: only the Service path fails.
  await a.exec('iptables', ['-w', '-t', 'nat', '-A', 'POSTROUTING', '-m', 'conntrack', '--ctorigdst', `${svc}/32`, '-j', 'SNAT', '--to-source', '10.250.7.1']);
  const svcOnly = await probe();
  t.deepEqual(brief(svcOnly.findings), ['node-b pass', 'service fail']);
  t.regex(svcOnly.findings[1]!.message, /^1 of 1 probes through the probe Service arrived from 10\.250\.7\.1 \(this node's address/);
});
