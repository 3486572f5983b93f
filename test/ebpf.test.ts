// Real kernel: Cilium-shaped LB maps (Cilium's C layouts, created with bpftool on a private
// bpffs instance mounted for the test) filled for the small cluster of the kube-proxy lab
// tests, next to a lab node with Cilium's cilium_host/cilium_net veth pair. Scanned live with
// --bpf-root and from a captured bundle: healthy ports pass; a stale backend, a missing
// frontend and a wrong backend port fail; terminating backends are used as kube-proxy uses
// them. A Calico-eBPF-shaped node is recognised and skipped. Every mount, map, namespace and
// temp dir is removed afterwards, also when a test fails.
import test from 'ava';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseClusterObjects, parseClusterText, type ClusterContext } from '../common/cluster.js';
import type { Finding } from '../common/findings.js';
import { inspectNetns } from '../agent/inspect/netns.js';
import { readBundle } from '../agent/inspect/bundle.js';
import { captureBundle } from '../agent/inspect/capture.js';
import { scanSnapshot } from '../agent/scan.js';
import { renderClusterJson, smallCluster, type ClusterDesc, type DescService } from '../agent/dataplane/testing/generate.js';
import { renderCiliumBatch } from '../agent/dataplane/testing/cilium.js';
import { createLabNode, type LabNode } from './lab/lab.js';
import { runProgram } from './support/processes.js';
import { sh, withBpffs } from './support/bpffs.js';
import type { NodeSnapshot } from '../agent/snapshot.js';

const CHECKS = ['service-routing.mode', 'service-routing.clusterip', 'service-routing.nodeport', 'service-routing.stale-rules', 'no-nat.pod-to-pod'];

/** IPv6 Service added to the small cluster: the lb6 maps carry it. */
const V6_SERVICE: DescService = {
  namespace: 'shop', name: 'web6', clusterIP: 'fd00:10:96::20', ports: [{ name: 'http', port: 80, targetPort: 8080 }],
  endpoints: [{ ip: 'fd00:10:244:1::11', node: '' }, { ip: 'fd00:10:244:2::12', node: 'node-b' }],
};

function cluster(node: string): ClusterDesc {
  const base = smallCluster(node);
  return { ...base, services: [...base.services, { ...V6_SERVICE, endpoints: V6_SERVICE.endpoints.map((e) => (e.node === '' ? { ...e, node } : e)) }] };
}

interface Scan { readonly findings: Finding[]; readonly proxyMode: string; readonly snapshot: NodeSnapshot; readonly cluster: ClusterContext }

/** A lab node with Cilium's links and maps rendered from `mutate(api)`; the API objects stay `api`. */
async function scanCilium(
  mutate: (d: ClusterDesc) => ClusterDesc, withBundle?: (dir: string, lab: LabNode, s: Scan) => Promise<void>,
  apiMutate: (d: ClusterDesc) => ClusterDesc = (d) => d, btf?: { readonly slotMember: string },
): Promise<Scan> {
  return withBpffs(async (root) => {
    const lab = await createLabNode({ pods: 0, bridge: null, uplinkAddress: '192.168.50.2/24' });
    const tmp = mkdtempSync(join(tmpdir(), `nc-ebpf-${process.pid}-`));
    try {
      await lab.exec('ip', ['link', 'add', 'cilium_host', 'type', 'veth', 'peer', 'name', 'cilium_net']);
      const api = apiMutate(cluster(lab.nodeName));
      const batch = join(tmp, 'maps.batch');
      let script = renderCiliumBatch(mutate(api), join(root, 'tc', 'globals'));
      if (btf) {
        // The IPv4 service and backend maps carry BTF, as libbpf-created Cilium maps do.
        for (const spec of btfSpecs(join(root, 'tc', 'globals'), btf.slotMember)) await sh('python3', [BTF_HELPER, JSON.stringify(spec)]);
        script = script.split('\n').filter((l) => !/^map create \S+\/cilium_lb4_(services_v2|backends_v3) /.test(l)).join('\n');
      }
      writeFileSync(batch, script);
      await sh('bpftool', ['batch', 'file', batch]);
      const ctx = parseClusterObjects(parseClusterText(renderClusterJson(api), 'cluster.json'));
      const snapshot = await inspectNetns(lab.netns, { node: lab.nodeName, cniConfDir: '/nonexistent', cniBinDir: '/nonexistent', bpfRoot: root });
      const r = scanSnapshot(snapshot, ctx, { only: CHECKS });
      const s: Scan = { findings: r.findings as Finding[], proxyMode: r.proxyMode, snapshot, cluster: ctx };
      if (withBundle) await withBundle(join(tmp, 'bundle'), lab, s);
      return s;
    } finally {
      await lab.destroy();
      rmSync(tmp, { recursive: true, force: true });
    }
  });
}

const HEALTHY_CLUSTERIP = [
  'kube-system/dns:53/TCP', 'kube-system/dns:53/UDP', 'shop/draining:80/TCP', 'shop/empty:80/TCP', 'shop/local-ext:80/TCP', 'shop/local-int:80/TCP',
  'shop/remote-only:80/TCP', 'shop/single:8080/TCP', 'shop/sticky:80/TCP', 'shop/web6:80/TCP', 'shop/web:443/TCP', 'shop/web:80/TCP',
];
/** Each NodePort twice: on the node address and on the zero address. */
const HEALTHY_NODEPORT = ['shop/local-ext:80/TCP', 'shop/remote-only:80/TCP', 'shop/web:443/TCP', 'shop/web:80/TCP'].flatMap((s) => [s, s]);

const BTF_HELPER = fileURLToPath(new URL('./support/btf-map.py', import.meta.url));

/** Cilium's lb4_key / lb4_service / lb4_backend (bpf/lib/lb.h) as BTF, offsets in bits. */
function btfSpecs(globals: string, slotMember: string): unknown[] {
  return [
    {
      path: `${globals}/cilium_lb4_services_v2`, name: 'cilium_lb4_serv', entries: 65536,
      key: { name: 'lb4_key', size: 12, members: [['address', 'u32', 0], ['dport', 'u16', 32], [slotMember, 'u16', 48], ['proto', 'u8', 64], ['scope', 'u8', 72], ['pad', 'u8[2]', 80]] },
      value: {
        name: 'lb4_service', size: 12,
        members: [['', { union: [['backend_id', 'u32', 0], ['affinity_timeout', 'u32', 0], ['l7_lb_proxy_port', 'u32', 0]], size: 4 }, 0], ['count', 'u16', 32], ['rev_nat_index', 'u16', 48], ['flags', 'u8', 64], ['flags2', 'u8', 72], ['qcount', 'u16', 80]],
      },
    },
    {
      path: `${globals}/cilium_lb4_backends_v3`, name: 'cilium_lb4_back', entries: 65536,
      key: { name: 'lb4_backend_key', size: 4, members: [['backend_id', 'u32', 0]] },
      value: { name: 'lb4_backend', size: 12, members: [['address', 'u32', 0], ['port', 'u16', 32], ['proto', 'u8', 48], ['flags', 'u8', 56], ['cluster_id', 'u16', 64], ['zone', 'u8', 80], ['pad', 'u8', 88]] },
    },
  ];
}

const line = (f: Finding): string => `${f.status} ${f.check} ${f.subject}: ${f.message}`;
const notPass = (fs: readonly Finding[]): string[] => fs.filter((f) => f.status !== 'pass').map(line).sort();
const svc = (d: ClusterDesc, name: string, f: (s: DescService) => DescService | undefined): ClusterDesc => ({
  ...d, services: d.services.flatMap((s) => (`${s.namespace}/${s.name}` === name ? (f(s) ? [f(s)!] : []) : [s])),
});

test('healthy Cilium maps: every Service port passes, live and from a captured bundle', async (t) => {
  let fromBundle: Finding[] = [];
  const s = await scanCilium((d) => d, async (dir, lab, live) => {
    await captureBundle(dir, live.snapshot, { netns: lab.netns });
    fromBundle = scanSnapshot(readBundle(dir), live.cluster, { only: CHECKS }).findings as Finding[];
  });
  t.is(s.proxyMode, 'cilium-ebpf');
  t.deepEqual(notPass(s.findings), [
    `skip no-nat.pod-to-pod ${s.snapshot.node}: skipped: Cilium (eBPF kube-proxy replacement) runs on this node (seen: link cilium_host, link cilium_net, pinned map tc/globals/cilium_lb4_services_v2, pinned map tc/globals/cilium_lb6_services_v2) with no masquerade rules in netfilter: it masquerades (when enabled) in BPF, where netconform cannot read the decision — empty netfilter NAT tables prove nothing`,
  ]);
  const passed = (check: string): string[] => s.findings.filter((f) => f.check === check && f.status === 'pass').map((f) => f.subject).sort();
  t.deepEqual(passed('service-routing.clusterip'), HEALTHY_CLUSTERIP);
  t.deepEqual(passed('service-routing.nodeport'), HEALTHY_NODEPORT);
  t.is(s.findings.find((f) => f.check === 'service-routing.mode')!.message, "Services are routed by Cilium's eBPF kube-proxy replacement (23 IPv4 and 1 IPv6 frontends in its LB maps)");
  t.deepEqual(fromBundle.map(line), s.findings.map(line));
});

const fails = (fs: readonly Finding[]): string[] => fs.filter((f) => f.status === 'fail').map(line).sort();

test('a stale backend, a missing frontend and a wrong backend port fail, live and from the bundle', async (t) => {
  let fromBundle: string[] = [];
  const s = await scanCilium((d) => {
    let x = svc(d, 'shop/single', (v) => ({ ...v, endpoints: [...v.endpoints, { ip: '10.244.2.99', node: 'node-b' }] })); // stale
    x = svc(x, 'shop/sticky', () => undefined); // missing from the maps
    x = svc(x, 'shop/web6', (v) => ({ ...v, ports: [{ ...v.ports[0]!, targetPort: 8081 }] })); // wrong port, IPv6
    // A Service deleted from the API that Cilium still serves: stale frontends.
    return { ...x, services: [...x.services, { namespace: 'shop', name: 'gone', type: 'NodePort', clusterIP: '10.96.0.99', ports: [{ name: 'http', port: 80, targetPort: 80, nodePort: 30099 }], endpoints: [{ ip: '10.244.2.98', node: 'node-b' }] }] };
  }, async (dir, lab, live) => {
    await captureBundle(dir, live.snapshot, { netns: lab.netns });
    fromBundle = fails(scanSnapshot(readBundle(dir), live.cluster, { only: CHECKS }).findings as Finding[]);
  });
  const want = [
    'fail service-routing.clusterip shop/single:8080/TCP: ClusterIP 10.96.0.12:8080/TCP: stale endpoint 10.244.2.99:9090',
    'fail service-routing.clusterip shop/sticky:80/TCP: ClusterIP 10.96.0.13:80/TCP: no rule sends it anywhere (Service missing from the dataplane); missing endpoints 10.244.1.30:80, 10.244.2.31:80',
    'fail service-routing.clusterip shop/web6:80/TCP: ClusterIP [fd00:10:96::20]:80/TCP: wrong target port: [fd00:10:244:1::11]:8081 (expected [fd00:10:244:1::11]:8080), [fd00:10:244:2::12]:8081 (expected [fd00:10:244:2::12]:8080)',
  ];
  t.deepEqual(fails(s.findings), want);
  t.deepEqual(fromBundle, want);
  t.deepEqual(s.findings.filter((f) => f.status === 'warn').map(line), [
    'warn service-routing.stale-rules 10.96.0.99:80/TCP: Cilium\'s cilium_lb4_services_v2 still holds a frontend for 10.96.0.99:80/TCP, which no Service uses: stale',
    'warn service-routing.stale-rules nodePort 30099/TCP: Cilium\'s cilium_lb4_services_v2 still holds a frontend for nodePort 30099/TCP, which no Service uses: stale',
  ]);
  const stale = s.findings.find((f) => f.subject === 'shop/single:8080/TCP')!;
  t.deepEqual(stale.evidence?.['stale'], ['10.244.2.99:9090']);
  t.deepEqual(stale.evidence?.['expected'], ['10.244.2.20:9090']);
  t.deepEqual(stale.evidence?.['observed'], ['10.244.2.20:9090', '10.244.2.99:9090']);
  t.deepEqual(stale.evidence?.['probabilities'], { '10.244.2.20:9090': 0.5, '10.244.2.99:9090': 0.5 });
  t.regex((stale.evidence?.['rules'] as string[])[0]!, /^cilium_lb4_services_v2 10\.96\.0\.12:8080\/TCP scope=external slot 0: count=2 rev_nat=\d+ flags=\[\]$/);
  const missing = s.findings.find((f) => f.subject === 'shop/sticky:80/TCP')!;
  t.is(missing.evidence?.['unrouted'], 1);
  t.deepEqual(missing.evidence?.['missing'], ['10.244.1.30:80', '10.244.2.31:80']);
});

test('terminating backends are used as kube-proxy uses them: only when no endpoint is ready', async (t) => {
  const draining = { ip: '10.244.2.14', node: 'node-b', ready: false, serving: true, terminating: true } as const;
  const withDraining = (d: ClusterDesc): ClusterDesc => svc(d, 'shop/web', (v) => ({ ...v, endpoints: [...v.endpoints, draining] }));
  // Cilium keeps the terminating backend (state terminating) but out of the slots: pass.
  const ok = await scanCilium(withDraining, undefined, withDraining);
  t.deepEqual(fails(ok.findings), []);
  const web = ok.findings.filter((f) => f.subject === 'shop/web:80/TCP' && f.check === 'service-routing.clusterip');
  t.deepEqual(web.map((f) => f.message), ['ClusterIP 10.96.0.10:80/TCP → 3 endpoints, evenly']);
  // shop/draining has only a terminating endpoint: it is the fallback and in the slots (healthy test).
  t.is(ok.findings.find((f) => f.subject === 'shop/draining:80/TCP')!.status, 'pass');
  // Maps that spread new connections over the terminating backend while ready ones exist fail.
  const bad = await scanCilium((d) => svc(d, 'shop/web', (v) => ({ ...v, endpoints: [...v.endpoints, { ip: draining.ip, node: draining.node }] })), undefined, withDraining);
  t.deepEqual(fails(bad.findings).filter((l) => l.includes('shop/web:80/TCP')), [
    'fail service-routing.clusterip shop/web:80/TCP: ClusterIP 10.96.0.10:80/TCP: stale endpoint 10.244.2.14:8080',
    'fail service-routing.nodeport shop/web:80/TCP: NodePort 0.0.0.0:30080/TCP, Cilium\'s frontend for every node address (externalTrafficPolicy=Cluster): stale endpoint 10.244.2.14:8080',
    'fail service-routing.nodeport shop/web:80/TCP: NodePort 192.168.50.2:30080/TCP from outside the cluster (externalTrafficPolicy=Cluster): stale endpoint 10.244.2.14:8080',
  ]);
});

test('a Calico-eBPF-shaped node is named and skipped, never failed', async (t) => {
  await withBpffs(async (root) => {
    const lab = await createLabNode({ pods: 0, bridge: null, uplinkAddress: '192.168.50.2/24' });
    try {
      // Calico's eBPF mode makes the bpfin.cali/bpfout.cali veth pair and pins cali_* maps.
      await lab.exec('ip', ['link', 'add', 'bpfin.cali', 'type', 'veth', 'peer', 'name', 'bpfout.cali']);
      await sh('bpftool', ['map', 'create', join(root, 'tc', 'globals', 'cali_v4_nat_fe3'), 'type', 'hash', 'key', '16', 'value', '16', 'entries', '16', 'name', 'cali_v4_nat_fe3']);
      const ctx = parseClusterObjects(parseClusterText(renderClusterJson(smallCluster(lab.nodeName)), 'cluster.json'));
      const snapshot = await inspectNetns(lab.netns, { node: lab.nodeName, cniConfDir: '/nonexistent', cniBinDir: '/nonexistent', bpfRoot: root });
      const r = scanSnapshot(snapshot, ctx, { only: CHECKS });
      t.is(r.proxyMode, 'calico-ebpf');
      const seen = 'link bpfin.cali, link bpfout.cali, pinned map tc/globals/cali_v4_nat_fe3';
      const skip = `skipped: Services on this node are routed by Calico eBPF dataplane (seen: ${seen}), not kube-proxy; netconform cannot read its Service programming`;
      t.deepEqual(r.findings.map(line), [
        `skip service-routing.mode ${lab.nodeName}: ${skip}`,
        `skip service-routing.clusterip ${lab.nodeName}: ${skip}`,
        `skip service-routing.nodeport ${lab.nodeName}: ${skip}`,
        `pass service-routing.stale-rules ${lab.nodeName}: every kube-proxy Service entry belongs to an existing Service port`,
        `skip no-nat.pod-to-pod ${lab.nodeName}: skipped: Calico eBPF dataplane runs on this node (seen: ${seen}) with no masquerade rules in netfilter: it masquerades (when enabled) in BPF, where netconform cannot read the decision — empty netfilter NAT tables prove nothing`,
      ]);
    } finally {
      await lab.destroy();
    }
  });
});

test('bundle: a malformed bpftool dump is bad input naming the file and JSON path; an unknown layout is skipped', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), `nc-ebpf-bundle-${process.pid}-`));
  try {
    mkdirSync(join(dir, 'bpf'));
    writeFileSync(join(dir, 'node.txt'), 'node-a\n');
    writeFileSync(join(dir, 'iptables-save.txt'), '');
    writeFileSync(join(dir, 'bpf', 'cilium_lb4_services_v2.json'), '[{"key":["0x0a","0x60"],"value":["0x00","zz"]}]');
    const err = t.throws(() => readBundle(dir));
    t.is(err?.message, `${join(dir, 'bpf', 'cilium_lb4_services_v2.json')}: $[0].value[1]: expected a byte like "0x0a", got "zz"`);
    // Well-formed, but sizes of no layout netconform knows (a 10-byte key from an old release).
    const b = (n: number): string[] => new Array<string>(n).fill('0x00');
    writeFileSync(join(dir, 'bpf', 'cilium_lb4_services_v2.json'), JSON.stringify([{ key: b(10), value: b(8) }]));
    writeFileSync(join(dir, 'ip-link.json'), JSON.stringify([{ ifindex: 1, ifname: 'lo', flags: ['LOOPBACK', 'UP'], mtu: 65536, operstate: 'UNKNOWN', link_type: 'loopback' }, { ifindex: 2, ifname: 'cilium_host', flags: ['UP'], mtu: 1500, operstate: 'UP', link_type: 'ether', linkinfo: { info_kind: 'veth' } }]));
    writeFileSync(join(dir, 'ip-addr.json'), JSON.stringify([{ ifindex: 1, ifname: 'lo', addr_info: [] }, { ifindex: 2, ifname: 'cilium_host', addr_info: [] }]));
    const ctx = parseClusterObjects(parseClusterText(renderClusterJson(smallCluster('node-a')), 'cluster.json'));
    const r = scanSnapshot(readBundle(dir), ctx, { only: ['service-routing.mode', 'service-routing.clusterip'] });
    t.is(r.proxyMode, 'cilium-ebpf');
    const why = 'skipped: Services on this node are routed by Cilium (eBPF kube-proxy replacement) (seen: link cilium_host, pinned map tc/globals/cilium_lb4_services_v2), not kube-proxy; its service maps could not be read (cilium_lb4_services_v2: key/value size 10/8 bytes matches no lb4_key/lb4_service layout netconform knows (expected 12/12))';
    t.deepEqual(r.findings.map(line), [`skip service-routing.mode node-a: ${why}`, `skip service-routing.clusterip node-a: ${why}`]);
    // A service map without its backends map: the slots name nothing that can be read.
    writeFileSync(join(dir, 'bpf', 'cilium_lb4_services_v2.json'), '[]');
    const r2 = scanSnapshot(readBundle(dir), ctx, { only: ['service-routing.clusterip'] });
    t.deepEqual(r2.findings.map(line), [
      'skip service-routing.clusterip node-a: skipped: Services on this node are routed by Cilium (eBPF kube-proxy replacement) (seen: link cilium_host, pinned map tc/globals/cilium_lb4_services_v2), not kube-proxy; its service maps could not be read (cilium_lb4_backends_v3: not pinned or not read (the service map\'s slots name backends in it))',
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('maps that carry BTF (as libbpf creates Cilium\'s) are read the same; BTF with unknown member names is not misread', async (t) => {
  const s = await scanCilium((d) => d, undefined, undefined, { slotMember: 'backend_slot' });
  t.regex(s.snapshot.bpf!.maps['cilium_lb4_services_v2']!, /"formatted":\{"key":\{"address":\d+,"dport":\d+,"backend_slot":0,/);
  t.deepEqual(fails(s.findings), []);
  t.deepEqual(s.findings.filter((f) => f.check === 'service-routing.clusterip' && f.status === 'pass').map((f) => f.subject).sort(), HEALTHY_CLUSTERIP);
  // An older key layout names the slot `slave`: its meaning cannot be taken on trust.
  const old = await scanCilium((d) => d, undefined, undefined, { slotMember: 'slave' });
  t.is(old.proxyMode, 'cilium-ebpf');
  t.deepEqual(old.findings.filter((f) => f.check === 'service-routing.clusterip').map(line), [
    `skip service-routing.clusterip ${old.snapshot.node}: skipped: Services on this node are routed by Cilium (eBPF kube-proxy replacement) (seen: link cilium_host, link cilium_net, pinned map tc/globals/cilium_lb4_services_v2, pinned map tc/globals/cilium_lb6_services_v2), not kube-proxy; its service maps could not be read (cilium_lb4_services_v2: its BTF lacks the members netconform decodes (backend_slot): a layout netconform does not know)`,
  ]);
});

test('CLI: scan --netns --bpf-root and capture --bpf-root, then scan --from, judge the Cilium node the same', async (t) => {
  await withBpffs(async (root) => {
    const lab = await createLabNode({ pods: 0, bridge: null, uplinkAddress: '192.168.50.2/24' });
    const tmp = mkdtempSync(join(tmpdir(), `nc-ebpf-cli-${process.pid}-`));
    try {
      await lab.exec('ip', ['link', 'add', 'cilium_host', 'type', 'veth', 'peer', 'name', 'cilium_net']);
      const desc = svc(cluster(lab.nodeName), 'shop/single', (v) => ({ ...v, endpoints: [...v.endpoints, { ip: '10.244.2.99', node: 'node-b' }] }));
      writeFileSync(join(tmp, 'maps.batch'), renderCiliumBatch(desc, join(root, 'tc', 'globals')));
      await sh('bpftool', ['batch', 'file', join(tmp, 'maps.batch')]);
      writeFileSync(join(tmp, 'cluster.json'), renderClusterJson(cluster(lab.nodeName)));
      const common = ['--cluster', join(tmp, 'cluster.json'), '--format', 'json', '--fail-on', 'none'];
      const live = await runProgram('agent', ['scan', '--netns', lab.netns, '--node', lab.nodeName, '--bpf-root', root, ...common]);
      t.is(live.code, 0, live.stderr);
      const cap = await runProgram('agent', ['capture', '--netns', lab.netns, '--node', lab.nodeName, '--bpf-root', root, '--out', join(tmp, 'bundle')]);
      t.is(cap.code, 0, cap.stderr);
      t.regex(cap.stderr, /bpf\/cilium_lb4_services_v2\.json/);
      t.true((JSON.parse(readFileSync(join(tmp, 'bundle', 'bpf', 'cilium_lb4_services_v2.json'), 'utf8')) as unknown[]).length > 0);
      const bundle = await runProgram('agent', ['scan', '--from', join(tmp, 'bundle'), ...common]);
      t.is(bundle.code, 0, bundle.stderr);
      for (const out of [live.stdout, bundle.stdout]) {
        const r = JSON.parse(out) as { proxyMode: string; findings: Finding[] };
        t.is(r.proxyMode, 'cilium-ebpf');
        t.deepEqual(r.findings.filter((f) => f.check.startsWith('service-routing.') && f.status === 'fail').map(line), [
          'fail service-routing.clusterip shop/single:8080/TCP: ClusterIP 10.96.0.12:8080/TCP: stale endpoint 10.244.2.99:9090',
        ]);
      }
    } finally {
      await lab.destroy();
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
