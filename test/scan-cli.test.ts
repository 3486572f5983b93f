import test, { type ExecutionContext } from 'ava';
import { writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runProgram } from './support/processes.js';
import { tempDir } from './support/tmp.js';
import { createLabNode } from './lab/lab.js';

function bundle(t: ExecutionContext, files: Record<string, string>): string {
  const dir = tempDir(t, 'nc-bundle-');
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

test('scan exits 0 when nothing fails and prints the JSON contract, the node fingerprint included', async (t) => {
  const dir = bundle(t, { 'node.txt': 'node-a\n', 'sysctl.txt': 'net.ipv4.ip_forward = 1\nkernel.pid_max = 4194304\nkernel.osrelease = 6.1.0-18-amd64\n' });
  const r = await runProgram('agent', ['scan', '--from', dir, '--format', 'json']);
  t.is(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { node: string; proxyMode: string; checks: Array<{ id: string; status: string }>; findings: Array<{ check: string; status: string }> };
  t.is(out.node, 'node-a');
  t.deepEqual(Object.keys(out), ['node', 'scannedAt', 'proxyMode', 'cni', 'fingerprint', 'checks', 'findings']);
  // What a bundle of only sysctls tells a migration: the kernel, and that nothing else is known.
  t.deepEqual((out as unknown as { fingerprint: unknown }).fingerprint, {
    node: 'node-a', cni: { family: '', mainType: '', file: '', specVersion: '', binaries: [] }, ipam: '',
    dataPath: { kind: 'unknown', device: '', mtu: 0, underlayMtu: 0, underlayDevice: '', underlayAddress: '' },
    podCidrSource: 'unknown', podCidrs: [], masquerade: { rules: 0, excludedDestinations: [] }, proxyMode: 'unknown', ruleCounts: {},
    bridgeNfCallNeeded: false, bridgeNfCallIptables: '', hostPortMapping: false, ipFamilies: [], kernel: '6.1.0-18-amd64', modules: [],
    // What a kube-proxy mode move needs to know: only the sysctls were read.
    proxy: {
      arrivals: [], dependentRules: [], dependentRulesTotal: 0, invalidDropRule: '', kubeProxyVersion: '', leftoverIptablesChains: 0,
      localhostClients: [], localhostClientsTotal: 0, localhostNodePortRule: false, modes: { catching: [], present: [] }, nftVersion: '',
      nodeAddresses: [], nodePorts: 0, primaryGuess: [], read: { config: false, conntrack: false, nft: false, rules: false, sockets: false, sysctls: true },
      routeLocalnet: [], tcpBeLiberal: '',
    },
  });
  t.deepEqual(out.checks.find((c) => c.id === 'pod-network.sysctl'), { id: 'pod-network.sysctl', status: 'pass', passed: 1, failed: 0, warned: 0, skipped: 0, errored: 0 } as never);
});

test('scan exits 1 on a failing finding, 0 with --fail-on none, and names the problem', async (t) => {
  const dir = bundle(t, { 'node.txt': 'node-b\n', 'sysctl.txt': 'net.ipv4.ip_forward = 0\n' });
  const r = await runProgram('agent', ['scan', '--from', dir]);
  t.is(r.code, 1);
  t.regex(r.stdout, /FAIL\s+critical\s+pod-network\.sysctl\s+net\.ipv4\.ip_forward\s+net\.ipv4\.ip_forward is 0; pods cannot reach/);
  t.is((await runProgram('agent', ['scan', '--from', dir, '--fail-on', 'none'])).code, 0);
  t.is((await runProgram('agent', ['scan', '--from', dir, '--fail-on', 'critical'])).code, 1);
});

test('scan exits 2 with the file named for a missing bundle, a malformed file, or a bad flag', async (t) => {
  const missing = join(tmpdir(), 'nc-no-such-bundle-dir');
  const r1 = await runProgram('agent', ['scan', '--from', missing]);
  t.is(r1.code, 2);
  t.is(r1.stderr.trim(), `netconform-agent: ${missing}: bundle directory does not exist`);

  const bad = bundle(t, { 'sysctl.txt': 'net.ipv4.ip_forward = 1\nthis line is wrong\n' });
  const r2 = await runProgram('agent', ['scan', '--from', bad]);
  t.is(r2.code, 2);
  t.is(r2.stderr.trim(), `netconform-agent: ${join(bad, 'sysctl.txt')}:2: expected "key = value", got "this line is wrong"`);

  const r3 = await runProgram('agent', ['scan', '--format', 'yaml']);
  t.is(r3.code, 2);
  t.is(r3.stderr.trim(), 'netconform-agent: --format: "yaml" is not one of table, json, policyreport');

  const r4 = await runProgram('agent', ['scan', '--bogus']);
  t.is(r4.code, 2);
  t.regex(r4.stderr, /Unknown option '--bogus'/);
});

test('a bundle without sysctl.txt makes the sysctl check skip with the file it needs', async (t) => {
  const dir = bundle(t, { 'node.txt': 'node-c\n' });
  const r = await runProgram('agent', ['scan', '--from', dir, '--format', 'json']);
  t.is(r.code, 0);
  const out = JSON.parse(r.stdout) as { findings: Array<{ check: string; status: string; message: string }> };
  const f = out.findings.find((x) => x.check === 'pod-network.sysctl');
  t.deepEqual(f && { status: f.status, message: f.message }, { status: 'skip', message: 'skipped: no sysctl.txt (sysctl -a)' });
});

test('scan --netns reads a lab node from inside its namespace', async (t) => {
  const lab = await createLabNode({ pods: 1, sysctls: { 'net.ipv4.ip_forward': '0' } });
  t.teardown(() => lab.destroy());
  const r = await runProgram('agent', ['scan', '--netns', lab.netns, '--node', lab.nodeName, '--format', 'json']);
  const out = JSON.parse(r.stdout) as { node: string; findings: Array<{ check: string; status: string; subject: string }> };
  t.is(out.node, lab.nodeName);
  t.deepEqual(out.findings.filter((f) => f.subject === 'net.ipv4.ip_forward').map((f) => f.status), ['fail']);
  await lab.exec('sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']);
  const r2 = await runProgram('agent', ['scan', '--netns', lab.netns, '--node', lab.nodeName, '--format', 'json']);
  const out2 = JSON.parse(r2.stdout) as typeof out;
  t.deepEqual(out2.findings.filter((f) => f.subject === 'net.ipv4.ip_forward').map((f) => f.status), ['pass']);
});
