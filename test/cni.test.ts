// CNI configs as data: the conf dirs under test/fixtures/cni, read the way runtimes do, judged
// by cni.config, and classified into plugin families for the report's `cni` field.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readCniConfDir, parseCniBinText } from '../agent/inspect/cni.js';
import { scanSnapshot } from '../agent/scan.js';
import { detectCniFamily } from '../agent/checks/cni/family.js';
import { activeCniProfile } from '../agent/checks/cni/conflist.js';
import { parseClusterObjects, type ClusterContext } from '../common/cluster.js';
import type { NodeSnapshot } from '../agent/snapshot.js';
import type { Finding } from '../common/findings.js';

const FIXTURES = join(import.meta.dirname, 'fixtures', 'cni');

function snapshot(name: string, bins = true): NodeSnapshot {
  const dir = join(FIXTURES, name);
  return {
    node: 'node-a', capturedAt: '2026-01-01T00:00:00Z', source: 'bundle',
    cni: {
      confDir: join(dir, 'net.d'),
      files: readCniConfDir(join(dir, 'net.d')),
      ...(bins ? { binaries: parseCniBinText(readFileSync(join(dir, 'cni-bin.txt'), 'utf8')) } : {}),
    },
  };
}

const ctx: ClusterContext = parseClusterObjects([
  { kind: 'Node', metadata: { name: 'node-a' }, spec: { podCIDRs: ['10.244.1.0/24'] } },
]);

function cniFindings(name: string, cluster: ClusterContext | null = ctx, bins = true): readonly Finding[] {
  return scanSnapshot(snapshot(name, bins), cluster ?? undefined, { only: ['cni.config'] }).findings;
}
const brief = (fs: readonly Finding[]): string[][] => fs.map((f) => [f.status, f.subject, f.message]);

const FAMILIES: readonly [string, string, string | null | undefined, readonly string[]][] = [
  // fixture, family, bridge, required binaries
  ['bridge', 'bridge', 'cbr0', ['bridge', 'host-local', 'portmap']],
  ['flannel', 'flannel', 'cni0', ['bridge', 'flannel', 'host-local', 'portmap']],
  ['calico', 'calico', null, ['bandwidth', 'calico', 'calico-ipam', 'portmap']],
  ['cilium', 'cilium', null, ['cilium-cni']],
  ['azure', 'azure', null, ['azure-vnet', 'azure-vnet-ipam', 'portmap']],
  ['aws', 'aws-vpc', null, ['aws-cni', 'egress-cni', 'host-local', 'portmap']],
];

for (const [fixture, family, bridge, required] of FAMILIES) {
  test(`${fixture}: family ${family}, bridge ${String(bridge)}, valid and complete`, (t) => {
    const s = snapshot(fixture);
    t.is(detectCniFamily(s), family);
    const active = activeCniProfile(s.cni)!;
    t.is(active.profile.bridge, bridge);
    t.deepEqual(active.profile.requiredBinaries, required);
    const fs = cniFindings(fixture);
    t.true(fs.every((f) => f.status === 'pass'), JSON.stringify(brief(fs.filter((f) => f.status !== 'pass'))));
  });
}

test('capabilities say what a migration must keep', (t) => {
  t.deepEqual(activeCniProfile(snapshot('calico').cni)!.profile.capabilities, ['bandwidth', 'network-policy', 'port-mapping', 'portMappings']);
  t.deepEqual(activeCniProfile(snapshot('flannel').cni)!.profile.capabilities, ['hairpin', 'overlay', 'port-mapping', 'portMappings']);
  t.deepEqual(activeCniProfile(snapshot('cilium').cni)!.profile.capabilities, ['ebpf', 'network-policy']);
});

test('bridge+host-local: the full set of passing findings', (t) => {
  t.deepEqual(brief(cniFindings('bridge')), [
    ['pass', '10-bridge.conflist', '10-bridge.conflist is the active CNI config: bridge (network "kubenet-like", cniVersion 1.0.0, plugins bridge, portmap)'],
    ['pass', '10-bridge.conflist', 'all plugin binaries of 10-bridge.conflist are installed (bridge, host-local, portmap)'],
    ['pass', '10-bridge.conflist', "IPAM range 10.244.1.0/24 matches the node's pod CIDR"],
  ]);
});

test('calico: the kubeconfig beside the conflist is not a config and is not reported', (t) => {
  t.false(cniFindings('calico').some((f) => f.subject === 'calico-kubeconfig'));
});

test('bad JSON: the only file fails with line and column; the node has no network', (t) => {
  const fs = cniFindings('broken-json');
  t.is(fs.length, 1);
  t.is(fs[0]!.status, 'fail');
  t.is(fs[0]!.severity, 'critical');
  t.is(fs[0]!.subject, '10-bridge.conflist');
  t.regex(fs[0]!.message, /^10-bridge\.conflist is not a valid CNI config: invalid JSON: .+ \(line 6, column 5\) — and no other file is, so no pod gets a network$/);
  t.like(fs[0]!.evidence, { line: 6, column: 5 });
  t.is(detectCniFamily(snapshot('broken-json')), 'none');
});

test('missing type fails', (t) => {
  t.deepEqual(brief(cniFindings('missing-type')), [
    ['fail', '10-bridge.conflist', '10-bridge.conflist is not a valid CNI config: plugins[0] has no "type" — and no other file is, so no pod gets a network'],
  ]);
});

test('a plugin binary missing fails', (t) => {
  const fs = cniFindings('binary-missing');
  t.deepEqual(brief(fs.filter((f) => f.status !== 'pass')), [
    ['fail', '10-bridge.conflist', '10-bridge.conflist needs plugin binaries host-local, portmap, missing from the CNI bin dir: every pod sandbox fails with "failed to find plugin" — install the CNI plugins (or the bridge DaemonSet\'s install step)'],
  ]);
  t.like(fs.find((f) => f.status === 'fail')!.evidence, { missing: ['host-local', 'portmap'] });
});

test('the bin dir not read warns instead of guessing', (t) => {
  t.deepEqual(brief(cniFindings('bridge', ctx, false).filter((f) => f.status !== 'pass')), [
    ['warn', '10-bridge.conflist', 'cannot tell whether the plugins of 10-bridge.conflist are installed: the CNI bin dir was not read (mount /opt/cni/bin, or add cni-bin.txt to the bundle)'],
  ]);
});

test('IPAM range that does not match the pod CIDR fails; without cluster context it is only reported', (t) => {
  t.deepEqual(brief(cniFindings('ipam-mismatch').filter((f) => f.status !== 'pass')), [
    ['fail', '10-bridge.conflist', "IPAM range 10.244.2.0/24 in 10-bridge.conflist does not match the node's pod CIDR 10.244.1.0/24: pods get addresses that other nodes own or that nothing routes here — regenerate the config from spec.podCIDR (or use \"subnet\": \"usePodCidr\")"],
  ]);
  t.deepEqual(brief(cniFindings('ipam-mismatch', null)).at(-1), ['pass', '10-bridge.conflist', 'IPAM range 10.244.2.0/24 (the Node\'s spec.podCIDR is not known to compare: pass --cluster)']);
});

test('an older .conf shadowing a .conflist: the .conf is active, the .conflist is reported as ignored', (t) => {
  const fs = cniFindings('shadowed');
  t.is(detectCniFamily(snapshot('shadowed')), 'bridge');
  t.deepEqual(brief(fs), [
    ['pass', '10-bridge.conf', '10-bridge.conf is the active CNI config: bridge (network "mynet", cniVersion 0.3.1, plugins bridge)'],
    ['pass', '10-bridge.conf', 'all plugin binaries of 10-bridge.conf are installed (bridge, host-local)'],
    ['fail', '10-bridge.conf', "IPAM range 10.22.0.0/16 in 10-bridge.conf does not match the node's pod CIDR 10.244.1.0/24: pods get addresses that other nodes own or that nothing routes here — regenerate the config from spec.podCIDR (or use \"subnet\": \"usePodCidr\")"],
    ['warn', '10-calico.conflist', '10-calico.conflist (calico) is ignored: the older single-plugin 10-bridge.conf sorts first and shadows it — remove 10-bridge.conf if 10-calico.conflist is the CNI you installed'],
  ]);
  t.is(fs[3]!.severity, 'high');
});

test('a broken file sorting first is skipped (warned about containerd), a parked .bak is reported ignored', (t) => {
  const fs = cniFindings('mixed');
  t.is(detectCniFamily(snapshot('mixed')), 'flannel');
  const other = brief(fs.filter((f) => f.status !== 'pass'));
  t.is(other.length, 2);
  t.is(other[0]![0], 'warn');
  t.is(other[0]![1], '00-old.conf');
  t.regex(other[0]![2]!, /^00-old\.conf is ignored: invalid JSON: .+ \(line 2, column 1\) — it sorts before 10-flannel\.conflist, and containerd refuses the whole directory when a broken file comes first; fix or remove it$/);
  t.deepEqual(other[1], ['warn', '20-bridge.conflist.bak', '20-bridge.conflist.bak is ignored: runtimes read only .conf, .conflist and .json files — remove it, or rename it if it was meant to be used']);
});

test('an empty conf dir fails: no pod gets a network', (t) => {
  t.deepEqual(brief(cniFindings('empty')), [
    ['fail', 'cni-conf-dir', 'no CNI config (.conf, .conflist, .json) in the CNI conf dir (only .keep): the kubelet reports NetworkPluginNotReady and no pod gets a network — install the CNI (kubenet needs none, but was removed in Kubernetes 1.24)'],
  ]);
});

test('spec rules: unknown cniVersion, a conflist in a .conf, a single plugin in a .conflist, a missing name', (t) => {
  const judge = (files: Record<string, string>): string[][] => brief(scanSnapshot({
    node: 'node-a', capturedAt: '2026-01-01T00:00:00Z', source: 'bundle',
    cni: { confDir: '/x', files: Object.entries(files).map(([name, text]) => ({ name, text })), binaries: ['bridge', 'host-local'] },
  }, undefined, { only: ['cni.config'] }).findings);
  t.deepEqual(judge({ '10-a.conflist': '{"cniVersion":"0.5.0","name":"a","plugins":[{"type":"bridge"}]}' })[0],
    ['fail', '10-a.conflist', '10-a.conflist is not a valid CNI config: cniVersion "0.5.0" is not a CNI spec version (0.1.0, 0.2.0, 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0) — and no other file is, so no pod gets a network']);
  t.deepEqual(judge({ '10-a.conf': '{"cniVersion":"1.0.0","name":"a","plugins":[{"type":"bridge"}]}' })[0],
    ['fail', '10-a.conf', '10-a.conf is not a valid CNI config: no "type": this is a configuration list — name it .conflist — and no other file is, so no pod gets a network']);
  t.deepEqual(judge({ '10-a.conflist': '{"cniVersion":"1.0.0","name":"a","type":"bridge"}' })[0],
    ['fail', '10-a.conflist', '10-a.conflist is not a valid CNI config: no "plugins" key: this is a single-plugin config (type "bridge") — name it .conf or wrap it in "plugins": [...] — and no other file is, so no pod gets a network']);
  t.deepEqual(judge({ '10-a.conflist': '{"cniVersion":"1.0.0","plugins":[{"type":"bridge"}]}' })[0],
    ['fail', '10-a.conflist', '10-a.conflist is not a valid CNI config: no "name" (a network configuration list must be named) — and no other file is, so no pod gets a network']);
  t.deepEqual(judge({ '10-a.json': '{"name":"a","type":"bridge"}' }).filter((f) => f[0] === 'warn'),
    [['warn', '10-a.json', '10-a.json: no "cniVersion" (runtimes assume 0.1.0; set the version the plugins speak)']]);
});
