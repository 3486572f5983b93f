// CNI migration readiness: fingerprints from real lab nodes (captured as bundles), the
// blocker ids each produced by a cluster built for it, a ready case, the HTML report in a
// real headless Chromium, and `diff` of one lab node before and after its bridge became routes.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLabNode } from './lab/lab.js';
import { runProgram } from './support/processes.js';
import { sh, withBpffs } from './support/bpffs.js';
import { smallCluster } from '../agent/dataplane/testing/generate.js';
import { renderCiliumBatch } from '../agent/dataplane/testing/cilium.js';
import { DENY_EGRESS_POLICY, KUBE_PROXY_DAEMONSET, UPLINK, base, captureWithCni, fp, node, pod } from './support/migration.js';
import { readBundle } from '../agent/inspect/bundle.js';
import { fingerprintNode } from '../agent/fingerprint.js';
import { clusterInventory } from '../migrate/inventory.js';
import { migrationCheck, type MigrationReport } from '../migrate/check.js';
import { profileById, PROFILES } from '../migrate/profiles/index.js';
import type { TargetProfile } from '../migrate/profile.js';
import { formatMigrationMarkdown, formatMigrationTable } from '../migrate/render.js';
import { formatMigrationHtml } from '../migrate/html.js';
import type { KubeObject } from '../common/cluster.js';

function tempDir(t: { teardown(fn: () => void): void }, prefix = 'nc-migrate-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** kube-proxy's masquerade of marked Service traffic, and one Service chain (DNATs only). */
const KUBE_PROXY_NAT = [
  ':KUBE-POSTROUTING - [0:0]', ':KUBE-MARK-MASQ - [0:0]', ':KUBE-SVC-ABCDEF0123456789 - [0:0]',
  '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
  '-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000',
  '-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN',
  '-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0',
  '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully',
  '-A KUBE-SVC-ABCDEF0123456789 -p tcp -j DNAT --to-destination 10.244.1.10:8080',
];
const natTable = (lines: readonly string[]): string => ['*nat', ':PREROUTING ACCEPT [0:0]', ':INPUT ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]', ':POSTROUTING ACCEPT [0:0]', ...lines, 'COMMIT', ''].join('\n');

test('fingerprints of kubenet-, flannel-vxlan-, calico- and cilium-KPR-like lab nodes', async (t) => {
  // kubenet: pods on cbr0, kube-proxy in iptables mode, ip-masq-agent masquerading all but the VNet and link-local.
  const kubenet = await createLabNode({
    pods: 1, ...UPLINK,
    iptables: natTable([...KUBE_PROXY_NAT, ':IP-MASQ-AGENT - [0:0]', '-A POSTROUTING -m addrtype ! --dst-type LOCAL -j IP-MASQ-AGENT',
      '-A IP-MASQ-AGENT -d 10.0.0.0/8 -j RETURN', '-A IP-MASQ-AGENT -d 169.254.0.0/16 -j RETURN', '-A IP-MASQ-AGENT -j MASQUERADE']),
  });
  t.teardown(() => kubenet.destroy());
  const kb = fingerprintNode(readBundle(await captureWithCni(kubenet, tempDir(t), 'bridge')));
  t.like(kb, {
    cni: { family: 'bridge', mainType: 'bridge', file: '10-bridge.conflist', binaries: ['bridge', 'host-local', 'loopback', 'portmap'] },
    ipam: 'host-local (ranges)', podCidrSource: 'node spec.podCIDRs', podCidrs: ['10.244.1.0/24'],
    dataPath: { kind: 'bridge', device: 'cbr0', underlayDevice: 'eth0', underlayAddress: '10.250.0.11', underlayMtu: 1500 },
    bridgeNfCallNeeded: true, bridgeNfCallIptables: '1', hostPortMapping: true, ipFamilies: [4], proxyMode: 'iptables',
  });
  // kube-proxy's own MASQUERADE (after its mark RETURN) is not the pods': only ip-masq-agent's counts.
  t.deepEqual(kb.masquerade, { rules: 1, excludedDestinations: ['10.0.0.0/8', '169.254.0.0/16'] });
  t.deepEqual(kb.ruleCounts, { 'iptables-nft': 10, nftables: 0 });
  t.regex(kb.kernel, /^\d+\.\d+/);

  // flannel VXLAN: pods on cni0, flannel.1 at 1450 over a 1500 underlay, flannel's own masquerade chain.
  const flannel = await createLabNode({
    pods: 1, bridge: 'cni0', ...UPLINK,
    iptables: natTable([':FLANNEL-POSTRTG - [0:0]', '-A POSTROUTING -m comment --comment "flanneld masq" -j FLANNEL-POSTRTG',
      '-A FLANNEL-POSTRTG -m mark --mark 0x4000/0x4000 -j RETURN',
      '-A FLANNEL-POSTRTG -s 10.244.1.0/24 -d 10.244.0.0/16 -j RETURN',
      '-A FLANNEL-POSTRTG -s 10.244.0.0/16 -d 10.244.1.0/24 -j RETURN',
      '-A FLANNEL-POSTRTG ! -s 10.244.0.0/16 -d 10.244.1.0/24 -j RETURN',
      '-A FLANNEL-POSTRTG -s 10.244.0.0/16 ! -d 224.0.0.0/4 -j MASQUERADE --random-fully',
      '-A FLANNEL-POSTRTG ! -s 10.244.0.0/16 -d 10.244.0.0/16 -j MASQUERADE --random-fully']),
  });
  t.teardown(() => flannel.destroy());
  await flannel.exec('ip', ['link', 'add', 'flannel.1', 'type', 'vxlan', 'id', '1', 'dstport', '8472', 'dev', 'eth0']);
  await flannel.exec('ip', ['link', 'set', 'flannel.1', 'mtu', '1450', 'up']);
  const fl = fingerprintNode(readBundle(await captureWithCni(flannel, tempDir(t), 'flannel')));
  t.like(fl, { cni: { family: 'flannel' }, dataPath: { kind: 'overlay', device: 'flannel.1', mtu: 1450, underlayMtu: 1500 }, bridgeNfCallNeeded: false });
  t.deepEqual(fl.masquerade, { rules: 2, excludedDestinations: ['10.244.0.0/16', '10.244.1.0/24', '224.0.0.0/4'] });

  // Calico: routed, no bridge, calico-ipam from a cluster pool.
  const calico = await createLabNode({ pods: 1, bridge: null, ...UPLINK });
  t.teardown(() => calico.destroy());
  const ca = fingerprintNode(readBundle(await captureWithCni(calico, tempDir(t), 'calico')));
  t.like(ca, { cni: { family: 'calico' }, ipam: 'calico-ipam', dataPath: { kind: 'routed' }, bridgeNfCallNeeded: false, podCidrSource: 'cni ipam (cluster pool)' });

  // Cilium replacing kube-proxy: cilium_host and Cilium's LB maps pinned in a bpffs (as the
  // eBPF service-routing checks read them), no KUBE-* rules.
  await withBpffs(async (root) => {
    const cilium = await createLabNode({ pods: 1, bridge: null, ...UPLINK });
    try {
      await cilium.exec('ip', ['link', 'add', 'cilium_host', 'type', 'veth', 'peer', 'name', 'cilium_net']);
      await cilium.exec('ip', ['link', 'set', 'cilium_host', 'up']);
      const batch = join(tempDir(t), 'maps.batch');
      writeFileSync(batch, renderCiliumBatch(smallCluster(cilium.nodeName), join(root, 'tc', 'globals')));
      await sh('bpftool', ['batch', 'file', batch]);
      const ci = fingerprintNode(readBundle(await captureWithCni(cilium, tempDir(t), 'cilium', ['--bpf-root', root])));
      t.like(ci, { cni: { family: 'cilium' }, ipam: 'cilium', dataPath: { kind: 'ebpf', device: 'cilium_host' }, bridgeNfCallNeeded: false, proxyMode: 'cilium-ebpf' });
      t.deepEqual(ci.masquerade, { rules: 0, excludedDestinations: [] });
    } finally {
      await cilium.destroy();
    }
  });
});

const ids = (r: MigrationReport): string[] => r.blockers.map((b) => `${b.id} ${b.subject}`);

test('each blocker id comes from a cluster built for it; a clean cluster is ready', (t) => {
  const p = (id: string): TargetProfile => profileById(id)!;
  const ready = migrationCheck(p('calico'), [fp()], clusterInventory(base()), { targetPodCidr: '192.168.0.0/16' });
  t.deepEqual(ids(ready), []);
  t.true(ready.ready);
  t.deepEqual(ready.changes.map((c) => c.check), ['pod-network.sysctl', 'pod-network.bridge', 'no-nat.pod-to-pod']);

  const policy = DENY_EGRESS_POLICY;
  const np = migrationCheck(p('flannel-vxlan'), [], clusterInventory([...base(), policy]));
  t.deepEqual(ids(np), ['networkpolicy-unsupported cluster']);
  t.is(np.blockers[0]!.message, '1 NetworkPolicies exist and flannel, VXLAN backend enforces none: their isolation would silently vanish');
  // Enforced, but a feature to verify: a warning naming the feature.
  const cil = migrationCheck(p('azure-cni-cilium'), [], clusterInventory([...base(), policy]), {});
  t.deepEqual(cil.warnings.filter((w) => w.id === 'networkpolicy-unsupported').map((w) => w.subject), ['ipBlockExcept']);

  const overlap = migrationCheck(p('calico'), [], clusterInventory(base()), { targetPodCidr: '10.244.0.0/16', declaredCidrs: ['10.240.0.0/16'] });
  t.deepEqual(ids(overlap), ['cidr-overlap 10.244.0.0/16']);
  t.regex(overlap.blockers[0]!.message, /^the target pod CIDR 10\.244\.0\.0\/16 overlaps node n1 pod CIDR 10\.244\.1\.0\/24, node n2 pod CIDR 10\.244\.2\.0\/24/);
  const vnet = migrationCheck(p('calico'), [], clusterInventory(base()), { targetPodCidr: '10.240.0.0/24' });
  t.regex(vnet.blockers[0]!.message, /overlaps node n1 address 10\.240\.0\.4, node n2 address 10\.240\.0\.5/);

  const crowded = [...base(), ...Array.from({ length: 260 }, (_, i) => pod('batch', `job-${i}`, 'n1'))];
  const ex = migrationCheck(p('azure-cni'), [], clusterInventory(crowded));
  t.deepEqual(ids(ex), ['ip-exhaustion cluster']);
  t.is(ex.blockers[0]!.message, '1 nodes run more pods than Azure CNI (pods on the VNet) can address per node (250)');

  const mtu = migrationCheck(p('calico'), [fp()], undefined, { targetMtu: 1500 });
  t.deepEqual(ids(mtu), ['mtu-headroom n1']);
  t.is(mtu.blockers[0]!.message, 'pod MTU 1500 does not fit: eth0 has MTU 1500 and Calico, iptables data plane (VXLAN overlay; IPIP adds 20 bytes, BGP none) adds 50 bytes (at most 1450)');
  t.deepEqual(migrationCheck(p('calico'), [fp()], undefined).warnings.filter((w) => w.id === 'mtu-headroom').map((w) => w.subject), ['n1']);

  const dual = [...base(), node('n3', ['10.244.3.0/24', 'fd00:3::/64'], '10.240.0.6')];
  t.deepEqual(ids(migrationCheck(p('azure-cni'), [], clusterInventory(dual))), ['dual-stack-unsupported cluster']);

  const kp = KUBE_PROXY_DAEMONSET;
  const tool = migrationCheck(p('cilium-kpr'), [], clusterInventory([...base(), kp]));
  t.deepEqual(ids(tool), ['tool-incompatible kube-system/kube-proxy']);
  t.is(tool.blockers[0]!.message, 'kube-proxy (Service rules): kube-proxy must be removed (and its rules cleaned) when Cilium replaces it');

  t.deepEqual(ids(migrationCheck(p('aws-vpc-cni'), [], clusterInventory(base()))), ['cloud-unsupported azure']);

  // Profiles where a fact is a plain "no" (every shipped profile maps hostPort and names no
  // confirmed kernel minimum): the rule itself, with a profile made for the case.
  const strict: TargetProfile = { ...p('calico'), id: 'test-strict', title: 'strict test CNI', hostPort: { value: false, source: 'test' }, kernelMin: { value: '9.9', source: 'test' } };
  const hp = [...base(), pod('shop', 'edge', 'n2', { containers: [{ name: 'c', image: 'x', ports: [{ containerPort: 80, hostPort: 8080 }] }] })];
  t.deepEqual(ids(migrationCheck(strict, [fp({ underlayMtu: 9000 })], clusterInventory(hp))), ['hostport-unsupported cluster', 'kernel-too-old n1']);
  // module-missing: a warning (modules load on demand; absent from /sys/module is "not loaded now").
  const mod = migrationCheck(p('antrea'), [fp({}, { modules: ['vxlan'] })], undefined);
  t.deepEqual(mod.warnings.filter((w) => w.id === 'module-missing').map((w) => w.message), ['kernel modules openvswitch, geneve are not loaded on n1; Antrea (Open vSwitch, Geneve overlay) needs them (modprobe, or check the kernel build)']);
});

test('every profile judged on one cluster (policies, kube-proxy, a kubenet node): the blockers and warnings of each', (t) => {
  // Egress + ipBlock except + named ports, a kube-proxy DaemonSet, Azure nodes, a 1500-byte
  // pod MTU on a 1500-byte underlay. A changed profile fact shows up here as a changed row.
  const want: Record<string, [string[], string[]]> = {
    'kubenet': [['networkpolicy-unsupported cluster'], ['kernel-too-old n1']],
    'bridge': [['networkpolicy-unsupported cluster'], ['kernel-too-old n1']],
    'flannel-vxlan': [['networkpolicy-unsupported cluster'], ['kernel-too-old n1', 'mtu-headroom n1']],
    'flannel-host-gw': [['networkpolicy-unsupported cluster'], ['kernel-too-old n1']],
    'calico': [[], ['kernel-too-old n1', 'mtu-headroom n1']],
    'calico-ebpf': [[], ['kernel-too-old n1', 'mtu-headroom n1']],
    'cilium': [[], ['kernel-too-old n1', 'mtu-headroom n1']],
    'cilium-kpr': [['tool-incompatible kube-system/kube-proxy'], ['kernel-too-old n1', 'mtu-headroom n1']],
    'azure-cni': [[], ['networkpolicy-unsupported cluster', 'networkpolicy-unsupported egress', 'networkpolicy-unsupported ipBlockExcept', 'networkpolicy-unsupported namedPorts', 'kernel-too-old n1']],
    'azure-cni-overlay': [[], ['networkpolicy-unsupported cluster', 'networkpolicy-unsupported egress', 'networkpolicy-unsupported ipBlockExcept', 'networkpolicy-unsupported namedPorts', 'kernel-too-old n1']],
    'azure-cni-cilium': [['tool-incompatible kube-system/kube-proxy'], ['networkpolicy-unsupported ipBlockExcept', 'kernel-too-old n1']],
    'aws-vpc-cni': [['cloud-unsupported azure'], ['networkpolicy-unsupported egress', 'networkpolicy-unsupported ipBlockExcept', 'networkpolicy-unsupported namedPorts', 'ip-exhaustion cluster', 'kernel-too-old n1']],
    'antrea': [[], ['kernel-too-old n1', 'module-missing n1', 'mtu-headroom n1']],
    'weave': [[], ['networkpolicy-unsupported egress', 'networkpolicy-unsupported ipBlockExcept', 'networkpolicy-unsupported namedPorts', 'kernel-too-old n1', 'module-missing n1', 'mtu-headroom n1']],
  };
  t.deepEqual(PROFILES.map((p) => p.id), Object.keys(want), 'one row per shipped profile');
  const inv = clusterInventory([...base(), DENY_EGRESS_POLICY, KUBE_PROXY_DAEMONSET]);
  for (const p of PROFILES) {
    const r = migrationCheck(p, [fp()], inv, { targetPodCidr: '192.168.0.0/16' });
    t.deepEqual([ids(r), r.warnings.map((w) => `${w.id} ${w.subject}`)], want[p.id], p.id);
    t.is(r.ready, want[p.id]![0].length === 0, p.id);
  }
});

test('a NetworkPolicy feature the target does not enforce is a blocker naming the feature and the policies', (t) => {
  const noEndPort: TargetProfile = { ...profileById('calico')!, id: 'test-no-endport', title: 'no-endPort test CNI', policyFeatures: { ...profileById('calico')!.policyFeatures, endPort: { value: false, source: 'test' } } };
  const ranged: KubeObject = { kind: 'NetworkPolicy', metadata: { namespace: 'shop', name: 'ports' }, spec: { podSelector: {}, ingress: [{ ports: [{ port: 8000, endPort: 8100 }] }] } };
  const r = migrationCheck(noEndPort, [], clusterInventory([...base(), ranged, DENY_EGRESS_POLICY]));
  t.deepEqual(ids(r), ['networkpolicy-unsupported endPort']);
  t.is(r.blockers[0]!.message, '1 NetworkPolicies use port ranges (endPort), which no-endPort test CNI does not enforce');
  t.deepEqual(r.blockers[0]!.evidence, { feature: 'endPort', policies: ['shop/ports'], total: 1, source: 'test' });
});

test('every profile names a source for every fact', (t) => {
  for (const pr of PROFILES) {
    const facts = [pr.networkPolicy, pr.ipv6, pr.dualStack, pr.encryption, pr.overlayOverheadBytes, pr.hostPort, pr.kernelMin, ...Object.values(pr.policyFeatures), ...(pr.maxPodsPerNode ? [pr.maxPodsPerNode] : [])];
    for (const f of facts) t.regex(f.source, /^https:\/\//, `${pr.id}: every fact has a documentation URL`);
  }
});

test('migrate check CLI: json contract, exit codes, and an HTML report Chromium renders with both pictures', async (t) => {
  const dir = tempDir(t);
  const cluster = join(dir, 'cluster.json');
  writeFileSync(cluster, JSON.stringify({ kind: 'List', apiVersion: 'v1', items: base() }));
  const bundle = join(dir, 'bundle');
  const lab = await createLabNode({ pods: 1, ...UPLINK });
  t.teardown(() => lab.destroy());
  await captureWithCni(lab, bundle, 'bridge');
  const ok = await runProgram('cli', ['migrate', 'check', '--to', 'calico', '--cluster', cluster, '--from', bundle, '--format', 'json', '--target-pod-cidr', '192.168.0.0/16']);
  t.is(ok.code, 0, ok.stderr);
  const report = JSON.parse(ok.stdout) as MigrationReport;
  t.deepEqual(Object.keys(report), ['target', 'ready', 'nodes', 'blockers', 'warnings', 'changes']);
  t.is(report.nodes[0]!.node, lab.nodeName);
  const bad = await runProgram('cli', ['migrate', 'check', '--to', 'calico', '--cluster', cluster, '--target-pod-cidr', '10.244.0.0/16']);
  t.is(bad.code, 1);
  t.regex(bad.stdout, /NOT READY — 1 blocker/);
  const usage = await runProgram('cli', ['migrate', 'check', '--to', 'nonsense', '--cluster', cluster]);
  t.is(usage.code, 2);
  t.regex(usage.stderr, /--to: "nonsense" is not a known target; one of kubenet, bridge, /);

  const html = join(dir, 'report.html');
  const r = await runProgram('cli', ['migrate', 'check', '--to', 'cilium-kpr', '--cluster', cluster, '--from', bundle, '--format', 'html', '--out', html]);
  t.is(r.code, 0, r.stderr);
  const page = readFileSync(html, 'utf8');
  t.false(/<script|https?:\/\/[^"]*\.(css|js)/.test(page), 'self-contained: no scripts, no external assets');
  const shot = join(dir, 'shot.png');
  const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', `--user-data-dir=${join(dir, 'chrome')}`];
  const dom = execFileSync('chromium', [...flags, '--dump-dom', `file://${html}`], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 60_000 });
  t.is((dom.match(/<svg /g) ?? []).length, 2, 'before and after pictures');
  t.true((dom.match(/<rect /g) ?? []).length >= 10);
  t.regex(dom, /before: bridge \(bridge\)/);
  t.regex(dom, /after: Cilium replacing kube-proxy/);
  execFileSync('chromium', [...flags, `--screenshot=${shot}`, '--window-size=1300,900', `file://${html}`], { stdio: 'ignore', timeout: 60_000 });
  t.true(existsSync(shot) && statSync(shot).size > 5000, 'a screenshot was produced');
});

test('diff of one lab node before and after its bridge was replaced by host routes', async (t) => {
  const dir = tempDir(t);
  const lab = await createLabNode({ pods: 2, ...UPLINK });
  t.teardown(() => lab.destroy());
  const before = await captureWithCni(lab, join(dir, 'before'), 'bridge');
  // Routed like Calico: pods' veths leave the bridge, each pod gets a host route, no bridge.
  for (const p of lab.pods) await lab.exec('ip', ['link', 'set', p.hostVeth, 'nomaster']);
  await lab.exec('ip', ['link', 'del', 'cbr0']);
  for (const p of lab.pods) await lab.exec('ip', ['route', 'add', `${p.ip}/32`, 'dev', p.hostVeth]);
  const after = await captureWithCni(lab, join(dir, 'after'), 'calico');
  const r = await runProgram('cli', ['diff', before, after, '--format', 'json']);
  t.is(r.code, 1, r.stderr);
  const d = JSON.parse(r.stdout) as { links: { removed: string[]; changed: string[] }; routes: { added: string[]; removed: string[] }; cni: unknown; dataPath: unknown; checks: { check: string }[] };
  t.deepEqual(d.links.removed.map((l) => l.split(':')[0]), ['cbr0']);
  t.deepEqual(d.links.changed.map((l) => l.split(':')[0]).sort(), lab.pods.map((p) => p.hostVeth).sort());
  t.deepEqual(d.routes.added.sort(), lab.pods.map((p) => `${p.ip}/32 dev ${p.hostVeth}`).sort());
  t.true(d.routes.removed.some((x) => x.includes('dev cbr0')));
  t.deepEqual(d.cni, { before: 'bridge (10-bridge.conflist)', after: 'calico (10-calico.conflist)' });
  t.deepEqual(d.dataPath, { before: 'bridge cbr0', after: 'routed' });
  const same = await runProgram('cli', ['diff', before, before]);
  t.is(same.code, 0);
  t.regex(same.stdout, /no difference/);
});

test('the verdict counts in words that agree with the number: 1 blocker, 1 node; 2 blockers, 2 nodes', (t) => {
  const calico = profileById('calico')!;
  const one = migrationCheck(calico, [fp()], clusterInventory(base()), { targetPodCidr: '10.244.0.0/16' });
  t.is(formatMigrationTable(one).split('\n')[0], `migration to ${calico.title} (calico): NOT READY — 1 blocker; 1 node fingerprinted`);
  t.is(formatMigrationMarkdown(one).split('\n')[2], '**Not ready: 1 blocker** — 1 node fingerprinted.');
  t.regex(formatMigrationHtml(one, calico), /<p class="verdict notready">Not ready: 1 blocker<\/p>/);
  const two = migrationCheck(calico, [fp(), { ...fp(), node: 'n2' }], clusterInventory(base()), { targetPodCidr: '10.244.0.0/16', targetMtu: 9000 });
  t.is(two.blockers.length, 3);
  t.is(formatMigrationTable(two).split('\n')[0], `migration to ${calico.title} (calico): NOT READY — 3 blockers; 2 nodes fingerprinted`);
  t.is(formatMigrationMarkdown(two).split('\n')[2], '**Not ready: 3 blockers** — 2 nodes fingerprinted.');
});

test('a kubenet node (cbr0, no CNI conf dir in its bundle) is fingerprinted and drawn as kubenet, not as an unknown CNI', async (t) => {
  const dir = tempDir(t);
  const lab = await createLabNode({ pods: 1, ...UPLINK });
  t.teardown(() => lab.destroy());
  const bundle = join(dir, 'bundle');
  const r = await runProgram('agent', ['capture', '--out', bundle, '--netns', lab.netns, '--node', lab.nodeName, '--cni-conf-dir', join(dir, 'no-conf'), '--cni-bin-dir', join(dir, 'no-bin')]);
  t.is(r.code, 0, r.stderr);
  // The kubelet keeps kubenet's bridge config to itself: nothing of it is in the bundle.
  rmSync(join(bundle, 'cni'), { recursive: true, force: true });
  const kb = fingerprintNode(readBundle(bundle));
  t.like(kb, {
    cni: { family: 'kubenet', mainType: 'kubenet', file: '' }, ipam: 'host-local (node pod CIDR)',
    podCidrSource: 'node spec.podCIDRs', podCidrs: ['10.244.1.0/24'], dataPath: { kind: 'bridge', device: 'cbr0' },
    bridgeNfCallNeeded: true, hostPortMapping: true,
  });
  const calico = profileById('calico')!;
  const page = formatMigrationHtml(migrationCheck(calico, [kb], undefined), calico);
  t.true(page.includes('before: kubenet (bridge)'), 'the picture names kubenet');
  t.false(page.includes('unknown CNI'));
});
