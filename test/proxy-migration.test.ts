// kube-proxy mode migration readiness (issue #22): a lab node programmed with kube-proxy's
// iptables-mode rules (real iptables-restore in a test-made namespace), a client on the node
// using 127.0.0.1:<nodePort> and a pod reaching the NodePort on a secondary address, both
// connections real; the bundle captured by the agent with the real tools (conntrack -L,
// iptables-save, /proc/net/tcp, nft --version). The report must name exactly those two
// blockers and the warnings the rules call for. IPVS from the recorded dumps; the mixed state
// and `diff` of one node switched from iptables to nftables rules.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLabNode, type LabNode } from './lab/lab.js';
import { echoServer, heldConnection } from './lab/netns-tcp.js';
import { tempDir } from './support/tmp.js';
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
import { readClusterFile, type KubeObject } from '../common/cluster.js';
import { diffSnapshots } from '../migrate/diff.js';
import { formatMigrationMarkdown } from '../migrate/render.js';

const FIX = new URL('./fixtures/', import.meta.url).pathname;

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
  const dir = tempDir(t, 'nc-proxymig-');
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
  await echoServer(t, lab.pods[1]!.netns, 8080);
  await heldConnection(t, lab.netns, '127.0.0.1', 30080);
  await heldConnection(t, lab.pods[0]!.netns, '192.168.77.10', 30080);

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
  t.regex(table.stdout, /^migration to kube-proxy in nftables mode \(kube-proxy-nftables\): NOT READY — 2 blockers; 1 node fingerprinted\n\nFLEET: nodes per kube-proxy mode: 1 iptables; 0 nodes between two modes\n\nBLOCKERS\n/);
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

test('during the switch on a lab node: two modes at once and iptables leftovers are flagged; diff judges every Service the same, or names the one that changed', async (t) => {
  t.timeout(300_000, 'a lab node captured four times and one CLI run on a shared machine');
  const dir = tempDir(t, 'nc-proxymig-');
  const lab = await createLabNode({ pods: 0, bridge: 'cbr0', uplinkAddress: '192.168.50.2/24' });
  t.teardown(() => lab.destroy());
  const desc = smallCluster(lab.nodeName);
  const clusterFile = join(dir, 'cluster.json');
  writeFileSync(clusterFile, renderClusterJson(desc));
  const cluster = readClusterFile(clusterFile);
  const capture = (name: string): Promise<string> => captureWithCni(lab, join(dir, name), 'bridge');

  await lab.exec('iptables-restore', ['-w'], renderIptables(desc));
  const before = await capture('before');
  // The new kube-proxy programs nftables while the old mode's rules are still there.
  await lab.exec(systemTool('nft'), ['-f', '-'], renderNft(desc));
  const mid = await capture('mid');
  // The old dispatch is gone but its chains are left (a cleanup that did not finish).
  await lab.exec('iptables', ['-w', '-t', 'nat', '-F', 'KUBE-SERVICES']);
  await lab.exec('iptables', ['-w', '-t', 'nat', '-F', 'KUBE-NODEPORTS']);
  const leftover = await capture('leftover');
  // kube-proxy --cleanup of iptables mode: every table back to empty.
  await lab.exec('iptables-restore', ['-w'], ['*nat', 'COMMIT', '*filter', 'COMMIT', ''].join('\n'));
  const after = await capture('after');

  const snaps = [before, mid, leftover, after].map((b) => readBundle(b));
  const fps = snaps.map((s) => fingerprintNode(s));
  t.deepEqual(fps.map((f) => f.proxyMode), ['iptables', 'iptables', 'nftables', 'nftables']);
  const fleet = proxyFleet(fps);
  t.deepEqual(fleet.proxyModes, { iptables: 2, nftables: 2 });
  t.deepEqual(fleet.mixed.map((m) => [m.modes.join('+'), m.leftoverIptablesChains > 0]), [['iptables+nftables', false], ['iptables+nftables', true]]);
  const leftChains = fps[2]!.proxy!.leftoverIptablesChains;
  t.true(leftChains >= 20, `KUBE-SVC/SEP/EXT chains and the fixed ones are left (${leftChains})`);

  // service-routing.mode: fail with two modes catching, warn on leftovers, pass when clean.
  const mode = (i: number): string[] => scanSnapshot(snaps[i]!, cluster, { only: ['service-routing.mode'] }).findings.map((f) => `${f.status} ${f.subject}`);
  t.deepEqual(mode(1), [`fail ${lab.nodeName}`]);
  t.deepEqual(mode(2), [`pass ${lab.nodeName}`, `warn ${lab.nodeName} iptables leftovers`]);
  t.regex(scanSnapshot(snaps[2]!, cluster, { only: ['service-routing.mode'] }).findings[1]!.message, new RegExp(`^nftables mode routes the Services but ${leftChains} iptables-mode KUBE-\\* chains are left from before the switch`));
  t.deepEqual(mode(3), [`pass ${lab.nodeName}`]);
  // migrate check over the fleet mid-move: the moved-but-unclean node is a warning, the clean one is not judged again.
  const report = proxyMigrationCheck(kubeProxyNftables, fps, undefined, { targetVersion: '1.36' });
  t.deepEqual(report.warnings.filter((w) => w.id === 'mixed-proxy-modes').map((w) => w.message.replace(/^\d+ /, 'N ')), [
    'rules of two kube-proxy modes catch Service traffic (iptables and nftables): the node is mid-switch or the old mode was not cleaned',
    'N iptables-mode KUBE-* chains are left although nftables routes the Services: leftovers of the switch',
  ]);

  // diff: every Service port judged the same before (iptables) and after (nftables).
  const d = await runProgram('cli', ['diff', before, after, '--cluster', clusterFile]);
  t.is(d.code, 1, d.stderr); // the proxy mode and rule counts changed
  t.regex(d.stdout, /~ proxy mode: iptables → nftables\n/);
  t.regex(d.stdout, /  = 15 of 15 Service ports judged the same before and after\n/);
  t.notRegex(d.stdout, /! service /);

  // An nftables sync that lost one Service: diff names it, and only it.
  await lab.exec(systemTool('nft'), ['flush', 'ruleset']);
  await lab.exec(systemTool('nft'), ['-f', '-'], renderNft({ ...desc, services: desc.services.filter((s) => s.name !== 'single') }));
  const broken = readBundle(await capture('broken'));
  const diff = diffSnapshots(snaps[0]!, broken, { before: scanSnapshot(snaps[0]!, cluster), after: scanSnapshot(broken, cluster) });
  t.is(diff.services.judged, 15);
  t.is(diff.services.same, 14);
  t.deepEqual(diff.services.changed.map((c) => [c.check, c.service, c.before, c.after]), [['service-routing.clusterip', 'shop/single:8080/TCP', 'pass', 'fail']]);
});

test('IPVS node from the recorded dumps: deprecation, bindings on kube-ipvs0, schedulers and strictARP', (t) => {
  const dir = tempDir(t, 'nc-proxymig-');
  // Recorded dumps: ipvsadm -Sn (tool-output) and the node's ip -j link/addr with kube-ipvs0 added as IPVS mode binds it.
  const ipvs = readFileSync(join(FIX, 'tool-output/ipvsadm-save.txt'), 'utf8').replace('-A -t 10.96.0.10:53 -s rr', '-A -t 10.96.0.10:53 -s sh');
  writeFileSync(join(dir, 'ipvsadm.txt'), ipvs);
  writeFileSync(join(dir, 'node.txt'), 'ipvs-node\n');
  writeFileSync(join(dir, 'sysctl.txt'), 'kernel.osrelease = 6.1.0-18-amd64\nnet.ipv4.conf.all.arp_ignore = 1\nnet.ipv4.conf.all.arp_announce = 2\nnet.ipv4.vs.conntrack = 1\n');
  writeFileSync(join(dir, 'nft-version.txt'), 'nftables v1.0.6 (Lester Gooch #5)\n');
  writeFileSync(join(dir, 'kube-proxy-configz.json'), JSON.stringify({ 'kubeproxy.config.k8s.io': { mode: 'ipvs', ipvs: { scheduler: 'rr', strictARP: true }, nodePortAddresses: null } }));
  writeFileSync(join(dir, 'ip-link.json'), JSON.stringify([
    { ifindex: 1, ifname: 'lo', flags: ['LOOPBACK', 'UP'], mtu: 65536, operstate: 'UNKNOWN', link_type: 'loopback' },
    { ifindex: 2, ifname: 'eth0', flags: ['UP'], mtu: 1500, operstate: 'UP', link_type: 'ether' },
    { ifindex: 3, ifname: 'kube-ipvs0', flags: ['BROADCAST', 'NOARP'], mtu: 1500, operstate: 'DOWN', link_type: 'ether', linkinfo: { info_kind: 'dummy' } },
  ]));
  const addr = (ifindex: number, ifname: string, local: string, prefixlen: number): object => ({ ifindex, ifname, addr_info: [{ family: local.includes(':') ? 'inet6' : 'inet', local, prefixlen, scope: 'global' }] });
  writeFileSync(join(dir, 'ip-addr.json'), JSON.stringify([addr(2, 'eth0', '192.168.0.5', 24), { ...addr(3, 'kube-ipvs0', '10.96.0.1', 32), addr_info: ['10.96.0.1', '10.96.0.10'].map((local) => ({ family: 'inet', local, prefixlen: 32, scope: 'global' })) }]));
  const objects: KubeObject[] = [
    { apiVersion: 'v1', kind: 'Service', metadata: { namespace: 'default', name: 'kubernetes' }, spec: { clusterIPs: ['10.96.0.1'] } } as KubeObject,
    { apiVersion: 'v1', kind: 'Service', metadata: { namespace: 'kube-system', name: 'kube-dns' }, spec: { clusterIPs: ['10.96.0.10'] } } as KubeObject,
    { apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: { namespace: 'metallb-system', name: 'speaker' }, spec: { template: { spec: { containers: [{ image: 'quay.io/metallb/speaker:v0.14.8' }] } } } } as KubeObject,
  ];
  const snap = readBundle(dir);
  const fp = fingerprintNode(snap);
  t.is(fp.proxyMode, 'ipvs');
  const r = proxyMigrationItems(snap, kubeProxyNftables, { targetVersion: '1.35' }, clusterInventory(objects));
  t.deepEqual(r.blockers, []);
  // No NodePort virtual server in this dump, so no conntrack is needed to judge NodePort addresses.
  t.deepEqual(r.warnings.map((w) => w.id), ['ipvs-deprecated', 'ipvs-address-binding', 'ipvs-scheduler', 'ipvs-scheduler', 'ipvs-strict-arp']);
  t.is(r.warnings[0]!.message, 'IPVS mode is deprecated since Kubernetes 1.35 and its removal is planned: this node must move');
  t.is(r.warnings[1]!.message, '2 Service addresses are bound on kube-ipvs0 (default/kubernetes (10.96.0.1), kube-system/kube-dns (10.96.0.10)): today they answer ping and every port; in nftables mode they answer only their Service ports (other ports are rejected, ping goes unanswered)');
  t.is(r.warnings[2]!.message, '3 virtual servers use IPVS scheduler rr (TCP 10.96.0.1:443 (default/kubernetes), UDP 10.96.0.10:53 (kube-system/kube-dns), TCP [fd00:10:96::1]:443): round robin becomes a random choice per connection (even over many connections, uneven over a few)');
  t.regex(r.warnings[3]!.message, /^1 virtual server uses IPVS scheduler sh \(TCP 10\.96\.0\.10:53 \(kube-system\/kube-dns\)\): the sh hashing scheduler keeps a client on one endpoint; nftables picks at random per connection — use sessionAffinity: ClientIP/);
  t.is(r.warnings[4]!.message, 'IPVS strictARP is on (ipvs.strictARP: true, arp_ignore=1 arp_announce=2) and MetalLB runs in the cluster, which needs it with IPVS: nftables mode neither needs nor manages it; the sysctls stay as kube-proxy left them');
});

test('the new bundle files: a malformed one is an error naming the file and line', (t) => {
  const cases: [string, string, RegExp][] = [
    ['conntrack.txt', 'tcp 6 431999 ESTABLISHED src=127.0.0.1 dst=127.0.0.1 sport=1 dport=30080 src=10.244.1.5 dst=127.0.0.1 sport=8080 dport=1 [ASSURED] mark=0 use=1\ngarbage here\n', /conntrack\.txt:2: expected "PROTO NUMBER/],
    ['nft-version.txt', 'nft 1.0\n', /nft-version\.txt:1: expected "nftables vX\.Y\.Z …" \(nft --version\), got "nft 1\.0"/],
    ['kube-proxy-configz.json', '{"mode":"nftables"}', /kube-proxy-configz\.json: expected \{"kubeproxy\.config\.k8s\.io": \{…\}\}/],
    ['kube-proxy-configz.json', '{"kubeproxy.config.k8s.io":{"ipvs":{"strictARP":"yes"}}}', /kube-proxy-configz\.json: ipvs\.strictARP: expected boolean, got string/],
    ['proc-net-tcp.txt', '  sl  local_address rem_address   st\n   0: 0100007F:1F90\n', /proc-net-tcp\.txt:2: expected "sl local_address rem_address st …"/],
  ];
  for (const [file, text, want] of cases) {
    const dir = tempDir(t, 'nc-proxymig-');
    writeFileSync(join(dir, file), text);
    t.throws(() => readBundle(dir), { message: want }, file);
  }
  // A cluster file's kube-proxy ConfigMap: bad YAML names the ConfigMap.
  t.throws(() => clusterInventory([{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { namespace: 'kube-system', name: 'kube-proxy' }, data: { 'config.conf': 'mode: [' } } as KubeObject]), { message: /^ConfigMap kube-system\/kube-proxy config\.conf(:\d+)?: not YAML/ });
  const ok = clusterInventory([{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { namespace: 'kube-system', name: 'kube-proxy' }, data: { 'config.conf': 'apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: iptables\nnodePortAddresses: ["10.0.0.0/8"]\n' } } as KubeObject]);
  t.deepEqual(ok.kubeProxyConfig, { source: 'ConfigMap kube-system/kube-proxy config.conf', mode: 'iptables', nodePortAddresses: ['10.0.0.0/8'] });
  t.true(versionOlder('5.10.0-28-amd64', '5.13'));
  t.false(versionOlder('6.1.0', '5.13'));
  t.true(versionOlder('0.9.8', '1.0.1'));
  t.false(versionOlder('1.0.1', '1.0.1'));
});

test('kernel and nft below what nftables mode needs are blockers; an agent without proxy facts is named', (t) => {
  const dir = tempDir(t, 'nc-proxymig-');
  writeFileSync(join(dir, 'node.txt'), 'old-node\n');
  writeFileSync(join(dir, 'sysctl.txt'), 'kernel.osrelease = 5.10.0-28-amd64\n');
  writeFileSync(join(dir, 'nft-version.txt'), 'nftables v0.9.8 (E.D.S.)\n');
  writeFileSync(join(dir, 'iptables-save.txt'), readFileSync(join(FIX, 'upstream/iptables-overall.txt'), 'utf8'));
  const fp = fingerprintNode(readBundle(dir));
  const r = judgeProxyNode(fp, kubeProxyNftables, { targetVersion: '1.34' });
  t.deepEqual(r.blockers.map((b) => b.id), ['kernel-too-old', 'nft-too-old']);
  t.is(r.blockers[0]!.message, 'kernel 5.10.0-28-amd64 is older than 5.13: kube-proxy refuses nftables mode ("requires kernel 5.13 or later")');
  t.regex(r.blockers[1]!.message, /^nft 0\.9\.8 on the host is older than 1\.0\.1/);
  const tooEarly = judgeProxyNode(fp, kubeProxyNftables, { targetVersion: '1.28' });
  t.is(tooEarly.blockers[0]!.message, 'kube-proxy 1.28 has no nftables mode (alpha from 1.29, GA in 1.33, KEP-3866)');
  const { proxy: _gone, ...old } = fp;
  t.deepEqual(judgeProxyNode(old, kubeProxyNftables).warnings.map((w) => w.id), ['facts-missing']);
});
