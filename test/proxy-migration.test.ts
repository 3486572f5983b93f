// kube-proxy mode migration readiness (issue #22): a lab node programmed with kube-proxy's
// iptables-mode rules (real iptables-restore in a test-made namespace), a client on the node
// using 127.0.0.1:<nodePort> and a pod reaching the NodePort on a secondary address, both
// connections real; the bundle captured by the agent with the real tools (conntrack -L,
// iptables-save, /proc/net/tcp, nft --version). The report must name exactly those two
// blockers and the warnings the rules call for. IPVS from the recorded dumps; the mixed state
// and `diff` of one node switched from iptables to nftables rules.
import test from 'ava';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLabNode, type LabNode } from './lab/lab.js';
import { runProgram } from './support/processes.js';
import { UPLINK, captureWithCni, node as nodeObject } from './support/migration.js';
import { readBundle } from '../agent/inspect/bundle.js';
import { fingerprintNode } from '../agent/fingerprint.js';
import { clusterInventory } from '../migrate/inventory.js';
import { judgeProxyNode, proxyFleet, proxyMigrationCheck, proxyMigrationItems, versionOlder } from '../migrate/proxy/check.js';
import { kubeProxyNftables } from '../migrate/proxy/profiles.js';
import { renderClusterJson, renderIptables, renderNft, smallCluster, type ClusterDesc } from '../agent/dataplane/testing/generate.js';
import { systemTool } from '../agent/inspect/dataplane.js';
import { scanSnapshot } from '../agent/scan.js';
import type { KubeObject } from '../common/cluster.js';
import { formatMigrationMarkdown } from '../migrate/render.js';

const FIX = new URL('./fixtures/', import.meta.url).pathname;

function tempDir(t: { teardown(fn: () => void): void }, prefix = 'nc-proxymig-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A TCP client in `netns` that connects and holds the connection open until killed; resolves once connected. */
function holdConnection(t: { teardown(fn: () => void): void }, netns: string, host: string, port: number): Promise<ChildProcess> {
  const script = `const s=require('node:net').connect(${port},${JSON.stringify(host)},()=>{process.stdout.write('connected\\n')});s.on('error',e=>{process.stderr.write(e.message);process.exit(3)});setTimeout(()=>{},600000)`;
  const child = spawn('ip', ['netns', 'exec', netns, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => { child.kill('SIGKILL'); });
  return new Promise((resolve, reject) => {
    let err = '';
    child.stderr!.on('data', (c: Buffer) => { err += c.toString(); });
    child.stdout!.on('data', (c: Buffer) => { if (c.toString().includes('connected')) resolve(child); });
    child.on('exit', (code) => reject(new Error(`client in ${netns} to ${host}:${port} exited ${code}: ${err}`)));
    setTimeout(() => reject(new Error(`client in ${netns} to ${host}:${port} did not connect within 10 s: ${err}`)), 10_000);
  });
}

/** An echo server in `netns` on `port`; resolves once listening. */
function serve(t: { teardown(fn: () => void): void }, netns: string, port: number): Promise<void> {
  const script = `require('node:net').createServer(s=>s.pipe(s)).listen(${port},()=>process.stdout.write('listening\\n'))`;
  const child = spawn('ip', ['netns', 'exec', netns, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => { child.kill('SIGKILL'); });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => { if (c.toString().includes('listening')) resolve(); });
    child.on('exit', (code) => reject(new Error(`server in ${netns} exited ${code}`)));
  });
}

/** smallCluster with shop/web served only by the lab's pod 1 (10.244.1.11), so every connection really lands. */
function labCluster(nodeName: string): ClusterDesc {
  const d = smallCluster(nodeName, '10.250.0.11');
  return { ...d, services: d.services.map((s) => (s.name === 'web' ? { ...s, endpoints: [{ ip: '10.244.1.11', node: nodeName }] } : s)) };
}

/** Rules of other software that lean on kube-proxy's chain and mark, added with the real iptables. */
async function addDependentRules(lab: LabNode): Promise<void> {
  const ipt = (...args: string[]): Promise<string> => lab.exec('iptables', ['-w', ...args]);
  await ipt('-t', 'nat', '-N', 'CUSTOM-EGRESS');
  await ipt('-t', 'nat', '-A', 'POSTROUTING', '-j', 'CUSTOM-EGRESS');
  await ipt('-t', 'nat', '-A', 'CUSTOM-EGRESS', '-d', '203.0.113.0/24', '-j', 'KUBE-MARK-MASQ');
  await ipt('-t', 'nat', '-N', 'FLANNEL-POSTRTG');
  await ipt('-t', 'nat', '-A', 'POSTROUTING', '-m', 'comment', '--comment', 'flanneld masq', '-j', 'FLANNEL-POSTRTG');
  await ipt('-t', 'nat', '-A', 'FLANNEL-POSTRTG', '-m', 'mark', '--mark', '0x4000/0x4000', '-m', 'comment', '--comment', 'flanneld masq', '-j', 'RETURN');
}

test('iptables-mode lab node: localhost NodePort client and a NodePort on a secondary address are the two blockers', async (t) => {
  t.timeout(300_000, 'a lab node, two CLI runs and headless Chromium on a shared machine');
  const dir = tempDir(t);
  const lab = await createLabNode({ pods: 2, ...UPLINK });
  t.teardown(() => lab.destroy());
  const desc = labCluster(lab.nodeName);
  await lab.exec('iptables-restore', ['-w'], renderIptables(desc));
  await addDependentRules(lab);
  // kube-proxy in iptables mode sets route_localnet so 127.0.0.1:<nodePort> can be DNATed out.
  await lab.exec('sysctl', ['-q', '-w', 'net.ipv4.conf.all.route_localnet=1']);
  // A secondary interface (a veth pair standing in: this kernel has no dummy module).
  await lab.exec('ip', ['link', 'add', 'eth1', 'type', 'veth', 'peer', 'name', 'eth1-peer']);
  await lab.exec('ip', ['addr', 'add', '192.168.77.10/24', 'dev', 'eth1']);
  await lab.exec('ip', ['link', 'set', 'eth1', 'up']);
  await lab.exec('ip', ['link', 'set', 'eth1-peer', 'up']);
  await serve(t, lab.pods[1]!.netns, 8080);
  await holdConnection(t, lab.netns, '127.0.0.1', 30080);
  await holdConnection(t, lab.pods[0]!.netns, '192.168.77.10', 30080);

  const bundle = await captureWithCni(lab, dir, 'bridge');
  for (const f of ['conntrack.txt', 'conntrack6.txt', 'proc-net-tcp.txt', 'proc-net-tcp6.txt', 'nft-version.txt']) t.true(existsSync(join(bundle, f)), `${f} captured`);
  t.regex(readFileSync(join(bundle, 'conntrack.txt'), 'utf8'), /dst=127\.0\.0\.1 sport=\d+ dport=30080 src=10\.244\.1\.11/, 'real conntrack output of the DNATed localhost connection');

  const snapshot = readBundle(bundle);
  const fp = fingerprintNode(snapshot);
  t.is(fp.proxyMode, 'iptables');
  const p = fp.proxy!;
  t.deepEqual(p.routeLocalnet, ['all']);
  t.true(p.localhostNodePortRule);
  t.is(p.nodePorts, 4, 'shop/web http+https, local-ext, remote-only');
  t.is(p.localhostClientsTotal, 1);
  t.like(p.localhostClients[0], { protocol: 'tcp', port: 30080, service: 'shop/web:http', target: '127.0.0.1:30080', seenIn: 'conntrack' });
  t.deepEqual(p.arrivals.map((a) => [a.address, a.interface, a.protocol, a.port, a.service, a.connections]), [['192.168.77.10', 'eth1', 'tcp', 30080, 'shop/web:http', 1]]);
  t.deepEqual(p.dependentRules.map((r) => [r.owner, r.dependsOn]), [['', 'jumps to KUBE-MARK-MASQ'], ['flannel', "matches kube-proxy's mark 0x4000"]]);
  t.regex(p.invalidDropRule, /KUBE-FORWARD .*--ctstate INVALID -j DROP/);
  t.regex(p.nftVersion, /^\d+\.\d+\.\d+$/);

  const inv = clusterInventory([nodeObject(lab.nodeName, ['10.244.1.0/24'], '10.250.0.11')]);
  const r = proxyMigrationItems(snapshot, kubeProxyNftables, { targetVersion: '1.36' }, inv);
  t.deepEqual(r.blockers.map((b) => b.id), ['localhost-nodeport', 'nodeport-address']);
  t.regex(r.blockers[0]!.message, /^1 client on the node connects to a NodePort on a loopback address \(127\.0\.0\.1:\d+ → 127\.0\.0\.1:30080\/tcp \(shop\/web:http\) \[conntrack\]\): iptables mode serves them through route_localnet \(set on all\), nftables mode never does$/);
  t.regex(r.blockers[0]!.fix!, /Service's ClusterIP/);
  t.is(r.blockers[1]!.message, 'NodePort traffic arrives on 192.168.77.10 (eth1), not a primary address (10.250.0.11, from the Node object\'s addresses): nftables mode serves NodePorts only on the primary addresses by default (--nodeport-addresses primary), so tcp/30080 shop/web:http on 192.168.77.10 would be refused (kube-proxy\'s configuration was not read: nodePortAddresses assumed unset)');
  t.regex(r.blockers[1]!.fix!, /nodePortAddresses .* 192\.168\.77\.10/);
  t.deepEqual(r.warnings.map((w) => w.id), ['kube-chain-dependency', 'kube-chain-dependency', 'conntrack-invalid']);
  t.regex(r.warnings[0]!.message, /^a rule of unknown owner jumps to KUBE-MARK-MASQ: \[iptables-nft nat CUSTOM-EGRESS #1\] -A CUSTOM-EGRESS -d 203\.0\.113\.0\/24 -j KUBE-MARK-MASQ/);
  t.regex(r.warnings[1]!.message, /^flannel matches kube-proxy's mark 0x4000: \[iptables-nft nat FLANNEL-POSTRTG #1\]/);

  // The plan names KEP-6032's userspace proxy: too early for 1.36, covers the TCP client from 1.37.
  const early = proxyMigrationItems(snapshot, kubeProxyNftables, { targetVersion: '1.36', localhostNodePortProxy: true }, inv);
  t.deepEqual(early.blockers.map((b) => b.id), ['localhost-nodeport', 'nodeport-address']);
  t.regex(early.blockers[0]!.message, /arrives in kube-proxy 1\.37 \(alpha\) and the target is 1\.36$/);
  const planned = proxyMigrationItems(snapshot, kubeProxyNftables, { targetVersion: '1.37', localhostNodePortProxy: true }, inv);
  t.deepEqual(planned.blockers.map((b) => b.id), ['nodeport-address']);
  t.is(planned.warnings[0]!.id, 'localhost-nodeport');
  t.regex(planned.warnings[0]!.message, /KEP-6032's userspace proxy, alpha in kube-proxy 1\.37/);

  // The CLI on the same bundle: exit 1, the two blockers in every format; HTML in headless Chromium.
  const clusterFile = join(dir, 'cluster.json');
  writeFileSync(clusterFile, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [nodeObject(lab.nodeName, ['10.244.1.0/24'], '10.250.0.11')] }));
  const table = await runProgram('cli', ['migrate', 'check', '--to', 'kube-proxy-nftables', '--kube-proxy-version', '1.36', '--cluster', clusterFile, '--from', bundle]);
  t.is(table.code, 1, table.stderr);
  t.regex(table.stdout, /^migration to kube-proxy in nftables mode \(kube-proxy-nftables\): NOT READY — 2 blockers; 1 nodes fingerprinted\n\nFLEET: nodes per kube-proxy mode: 1 iptables; 0 between two modes\n\nBLOCKERS\n/);
  // JSON and Markdown in-process (each CLI run costs seconds on a loaded machine); same report function.
  const report = proxyMigrationCheck(kubeProxyNftables, [fp], inv, { targetVersion: '1.36' });
  t.false(report.ready);
  t.deepEqual(report.blockers.map((b) => [b.id, b.subject]), [['localhost-nodeport', lab.nodeName], ['nodeport-address', lab.nodeName]]);
  t.deepEqual(report.fleet, { proxyModes: { iptables: 1 }, mixed: [] });
  const md = formatMigrationMarkdown(JSON.parse(JSON.stringify(report)) as typeof report);
  t.regex(md, /## Fleet\n\nNodes per kube-proxy mode: 1 iptables\.\n/);
  t.regex(md, /\| `localhost-nodeport` \| /);
  const html = join(dir, 'report.html');
  const h = await runProgram('cli', ['migrate', 'check', '--to', 'kube-proxy-nftables', '--kube-proxy-version', '1.36', '--cluster', clusterFile, '--from', bundle, '--format', 'html', '--out', html]);
  t.is(h.code, 1, h.stderr);
  const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', `--user-data-dir=${join(dir, 'chrome')}`];
  const dom = execFileSync('chromium', [...flags, '--dump-dom', `file://${html}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 60_000 });
  t.regex(dom, /<p id="fleet-modes">Nodes per kube-proxy mode: 1 iptables<\/p>/);
  t.is((dom.match(/<h2 class="blockers">Blockers \(2\)<\/h2>/g) ?? []).length, 1);
  t.regex(dom, /<td><code>nodeport-address<\/code><\/td><td>[^<]+<\/td><td>NodePort traffic arrives on 192\.168\.77\.10 \(eth1\)/);
  const shot = join(dir, 'shot.png');
  execFileSync('chromium', [...flags, `--screenshot=${shot}`, '--window-size=1300,900', `file://${html}`], { stdio: 'ignore', timeout: 60_000 });
  t.true(existsSync(shot) && statSync(shot).size > 5000, 'a screenshot was produced');
});
