// Real kernel: kube-proxy-shaped rules for a small cluster (multi-port, no endpoints, one
// endpoint, ClientIP affinity, NodePort, ETP=Local, ITP=Local, terminating fallback, headless)
// are loaded into a lab namespace with iptables-restore (nft and legacy backends) or nft -f
// (both endpoint layouts), scanned live, and every Service port passes. Then the dataplane is
// broken one way at a time and exactly that failure is found, with its subject and evidence.
import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseClusterObjects, parseClusterText } from '../common/cluster.js';
import type { Finding } from '../common/findings.js';
import { inspectNetns } from '../agent/inspect/netns.js';
import { scanSnapshot } from '../agent/scan.js';
import { systemTool } from '../agent/inspect/dataplane.js';
import {
  renderClusterJson, renderIptables, renderNft, renderIpvsadm, smallCluster, type ClusterDesc, type DescService, type RenderOptions,
} from '../agent/dataplane/testing/generate.js';
import { createLabNode, type LabNode } from './lab/lab.js';
import { tempDir } from './support/tmp.js';
import type { NodeSnapshot } from '../agent/snapshot.js';

const SR = ['service-routing.mode', 'service-routing.clusterip', 'service-routing.nodeport', 'service-routing.stale-rules'];

interface Mode {
  readonly name: string;
  readonly proxyMode: string;
  load(lab: LabNode, desc: ClusterDesc, opts: RenderOptions): Promise<unknown>;
}

const MODES: readonly Mode[] = [
  { name: 'iptables-nft', proxyMode: 'iptables', load: (lab, d, o) => lab.exec('iptables-restore', ['-w'], renderIptables(d, o)) },
  { name: 'iptables-legacy', proxyMode: 'iptables', load: (lab, d, o) => lab.exec('iptables-legacy-restore', ['-w'], renderIptables(d, o)) },
  { name: 'nftables', proxyMode: 'nftables', load: (lab, d, o) => lab.exec(systemTool('nft'), ['-f', '-'], renderNft(d, o)) },
  { name: 'nftables dnat-map', proxyMode: 'nftables', load: (lab, d, o) => lab.exec(systemTool('nft'), ['-f', '-'], renderNft(d, { ...o, layout: 'dnat-map' })) },
];

/** The expected results for the healthy small cluster: every Service port passes. */
const HEALTHY_CLUSTERIP = [
  'kube-system/dns:53/TCP', 'kube-system/dns:53/UDP', 'shop/draining:80/TCP', 'shop/empty:80/TCP', 'shop/local-ext:80/TCP',
  'shop/local-int:80/TCP', 'shop/remote-only:80/TCP', 'shop/single:8080/TCP', 'shop/sticky:80/TCP', 'shop/web:443/TCP', 'shop/web:80/TCP',
];
const HEALTHY_NODEPORT = ['shop/local-ext:80/TCP', 'shop/remote-only:80/TCP', 'shop/web:443/TCP', 'shop/web:80/TCP'];

async function scanLab(mode: Mode, mutate: (d: ClusterDesc) => ClusterDesc, opts: RenderOptions = {}): Promise<{ findings: Finding[]; proxyMode: string; snapshot: NodeSnapshot }> {
  const lab = await createLabNode({ pods: 0, bridge: 'cbr0', uplinkAddress: '192.168.50.2/24' });
  try {
    const api = smallCluster(lab.nodeName);
    await mode.load(lab, mutate(api), opts);
    const cluster = parseClusterObjects(parseClusterText(renderClusterJson(api), 'cluster.json'));
    const snapshot = await inspectNetns(lab.netns, { node: lab.nodeName, cniConfDir: '/nonexistent', cniBinDir: '/nonexistent' });
    const r = scanSnapshot(snapshot, cluster, { only: SR });
    return { findings: r.findings as Finding[], proxyMode: r.proxyMode, snapshot };
  } finally {
    await lab.destroy();
  }
}

const svc = (d: ClusterDesc, name: string, f: (s: DescService) => DescService | undefined): ClusterDesc => ({
  ...d, services: d.services.flatMap((s) => (`${s.namespace}/${s.name}` === name ? (f(s) ? [f(s)!] : []) : [s])),
});
const notPass = (fs: readonly Finding[]): string[] => fs.filter((f) => f.status !== 'pass').map((f) => `${f.status} ${f.check} ${f.subject}`).sort();
const find = (fs: readonly Finding[], check: string, subject: string): Finding => fs.find((f) => f.check === `service-routing.${check}` && f.subject === subject)!;

for (const mode of MODES) {
  test(`${mode.name}: a healthy node passes every Service port`, async (t) => {
    const { findings, proxyMode } = await scanLab(mode, (d) => d);
    t.is(proxyMode, mode.proxyMode);
    t.deepEqual(notPass(findings), []);
    t.deepEqual(findings.filter((f) => f.check === 'service-routing.clusterip').map((f) => f.subject).sort(), HEALTHY_CLUSTERIP);
    t.deepEqual(findings.filter((f) => f.check === 'service-routing.nodeport').map((f) => f.subject).sort(), HEALTHY_NODEPORT);
    t.is(find(findings, 'mode', findings[0]!.subject).message, `kube-proxy mode: ${mode.proxyMode}`);
    const web = find(findings, 'clusterip', 'shop/web:80/TCP').evidence!;
    t.deepEqual(web['expected'], ['10.244.1.11:8080', '10.244.2.12:8080', '10.244.2.13:8080']);
    t.deepEqual(Object.values(web['probabilities'] as Record<string, number>).map((p) => Math.round(p * 1000) / 1000), [0.333, 0.333, 0.333]);
    // ETP=Local from outside: only this node's endpoint; none local → dropped.
    t.deepEqual(find(findings, 'nodeport', 'shop/local-ext:80/TCP').evidence!['observed'], ['10.244.1.50:8080']);
    t.is(find(findings, 'nodeport', 'shop/remote-only:80/TCP').evidence!['dropped'], 1);
    t.is(find(findings, 'nodeport', 'shop/remote-only:80/TCP').message, 'NodePort 192.168.50.2:30082/TCP from outside the cluster (externalTrafficPolicy=Local): '
      + 'no endpoint on this node (externalTrafficPolicy=Local; the Service\'s endpoint is on other nodes), traffic is dropped as kube-proxy intends');
    t.deepEqual(find(findings, 'clusterip', 'shop/local-int:80/TCP').evidence!['observed'], ['10.244.1.70:8080']);
    t.deepEqual(find(findings, 'clusterip', 'shop/draining:80/TCP').evidence!['observed'], ['10.244.2.80:8080']);
    t.is(find(findings, 'clusterip', 'shop/empty:80/TCP').evidence!['rejected'], 1);
    if (mode.name !== 'nftables dnat-map') t.deepEqual(find(findings, 'clusterip', 'shop/sticky:80/TCP').evidence!['affinity'], { expected: 'ClientIP', observed: 'ClientIP' });
  });
}

interface Fault {
  readonly name: string;
  readonly mutate: (d: ClusterDesc) => ClusterDesc;
  readonly opts?: RenderOptions;
  readonly failing: readonly string[];
  readonly check: (t: import('ava').ExecutionContext, fs: readonly Finding[]) => void;
}

const FAULTS: readonly Fault[] = [
  {
    name: 'a stale endpoint',
    mutate: (d) => svc(d, 'shop/single', (s) => ({ ...s, endpoints: [...s.endpoints, { ip: '10.244.2.99', node: 'node-b' }] })),
    failing: ['fail service-routing.clusterip shop/single:8080/TCP'],
    check: (t, fs) => t.deepEqual(find(fs, 'clusterip', 'shop/single:8080/TCP').evidence!['stale'], ['10.244.2.99:9090']),
  },
  {
    name: 'a missing endpoint',
    mutate: (d) => svc(d, 'shop/sticky', (s) => ({ ...s, endpoints: s.endpoints.filter((e) => e.ip !== '10.244.2.31') })),
    failing: ['fail service-routing.clusterip shop/sticky:80/TCP'],
    check: (t, fs) => t.deepEqual(find(fs, 'clusterip', 'shop/sticky:80/TCP').evidence!['missing'], ['10.244.2.31:80']),
  },
  {
    name: 'a wrong target port',
    mutate: (d) => svc(d, 'shop/single', (s) => ({ ...s, ports: s.ports.map((p) => ({ ...p, targetPort: 9091 })) })),
    failing: ['fail service-routing.clusterip shop/single:8080/TCP'],
    check: (t, fs) => t.deepEqual(find(fs, 'clusterip', 'shop/single:8080/TCP').evidence!['wrongPort'], ['10.244.2.20:9091 (expected 10.244.2.20:9090)']),
  },
  {
    name: 'an uneven probability',
    mutate: (d) => d,
    opts: { uneven: new Set(['shop/web:80/TCP']) },
    failing: ['fail service-routing.clusterip shop/web:80/TCP', 'fail service-routing.nodeport shop/web:80/TCP'],
    check: (t, fs) => {
      const p = find(fs, 'clusterip', 'shop/web:80/TCP').evidence!['probabilities'] as Record<string, number>;
      t.true(Math.abs(p['10.244.1.11:8080']! - 0.5) < 1e-6, JSON.stringify(p));
      t.regex(find(fs, 'clusterip', 'shop/web:80/TCP').message, /uneven/);
    },
  },
  {
    name: 'a missing Service',
    mutate: (d) => svc(d, 'kube-system/dns', () => undefined),
    failing: ['fail service-routing.clusterip kube-system/dns:53/TCP', 'fail service-routing.clusterip kube-system/dns:53/UDP'],
    check: (t, fs) => {
      const e = find(fs, 'clusterip', 'kube-system/dns:53/UDP').evidence!;
      t.deepEqual(e['observed'], []);
      t.deepEqual(e['missing'], ['10.244.1.40:53', '10.244.2.41:53']);
    },
  },
  {
    // kube-proxy programmed it as Cluster: traffic from outside goes to the other node's pod.
    name: 'an externalTrafficPolicy=Local NodePort forwarded to an endpoint on another node',
    mutate: (d) => svc(d, 'shop/remote-only', (s) => ({ ...s, etp: 'Cluster' })),
    failing: ['fail service-routing.nodeport shop/remote-only:80/TCP'],
    // The Service has an endpoint, just none here: the message must not say it has none.
    check: (t, fs) => t.is(find(fs, 'nodeport', 'shop/remote-only:80/TCP').message,
      'NodePort 192.168.50.2:30082/TCP from outside the cluster (externalTrafficPolicy=Local): no endpoint on this node '
      + '(externalTrafficPolicy=Local; the Service\'s endpoint is on other nodes), so traffic must be dropped, but it is forwarded to 10.244.2.60:8080'),
  },
  {
    name: 'a missing reject',
    mutate: (d) => svc(d, 'shop/empty', () => undefined),
    failing: ['fail service-routing.clusterip shop/empty:80/TCP'],
    check: (t, fs) => t.is(find(fs, 'clusterip', 'shop/empty:80/TCP').evidence!['unrouted'], 1),
  },
  {
    name: 'a stale Service',
    mutate: (d) => ({ ...d, services: [...d.services, { namespace: 'old', name: 'gone', clusterIP: '10.96.0.99', ports: [{ name: 'http', port: 80, targetPort: 80 }], endpoints: [{ ip: '10.244.2.250', node: 'node-b' }] }] }),
    failing: ['warn service-routing.stale-rules 10.96.0.99:80/TCP'],
    check: (t, fs) => t.deepEqual(fs.find((f) => f.check === 'service-routing.stale-rules')!.evidence!['stale'], ['10.96.0.99:80/TCP']),
  },
];

for (const mode of MODES) {
  // Every fault on the two main backends; a sample on the other two, to bound the suite's time.
  const faults = mode.name === 'iptables-nft' || mode.name === 'nftables' ? FAULTS : FAULTS.filter((f) => f.name === 'a stale endpoint' || f.name === 'a missing reject');
  for (const fault of faults) {
    test(`${mode.name}: ${fault.name} is found, and nothing else changes`, async (t) => {
      const { findings } = await scanLab(mode, fault.mutate, fault.opts ?? {});
      t.deepEqual(notPass(findings), [...fault.failing].sort());
      fault.check(t, findings);
    });
  }
}

test('iptables-nft: the scan CLI on the lab namespace exits 1 on a fault and prints the subject', async (t) => {
  const lab = await createLabNode({ pods: 0, bridge: 'cbr0', uplinkAddress: '192.168.50.2/24' });
  t.teardown(() => lab.destroy());
  const api = smallCluster(lab.nodeName);
  await lab.exec('iptables-restore', ['-w'], renderIptables(svc(api, 'shop/sticky', (s) => ({ ...s, endpoints: s.endpoints.slice(0, 1) }))));
  const dir = tempDir(t, 'nc-sr-');
  const file = join(dir, 'cluster.json');
  writeFileSync(file, renderClusterJson(api));
  const { execFile } = await import('node:child_process');
  const res = await new Promise<{ code: number; out: string }>((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', 'agent/main.ts', 'scan', '--netns', lab.netns, '--node', lab.nodeName, '--cluster', file, '--format', 'json'],
      { maxBuffer: 64 << 20 }, (err, stdout) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: stdout }));
  });
  t.is(res.code, 1);
  const out = JSON.parse(res.out) as { proxyMode: string; findings: Finding[] };
  t.is(out.proxyMode, 'iptables');
  const f = out.findings.find((x) => x.check === 'service-routing.clusterip' && x.status === 'fail');
  t.is(f?.subject, 'shop/sticky:80/TCP');
});

test('IPVS from ipvsadm -Sn text: healthy passes; a missing real server, a stale virtual server and missing persistence are found', (t) => {
  const api = smallCluster('node-a');
  const cluster = parseClusterObjects(parseClusterText(renderClusterJson(api), 'cluster.json'));
  const snap = (ipvsadm: string): NodeSnapshot => ({ node: 'node-a', capturedAt: '', source: 'bundle', dataplane: { ipvsadm } });
  const healthy = scanSnapshot(snap(renderIpvsadm(api)), cluster, { only: SR });
  t.is(healthy.proxyMode, 'ipvs');
  t.deepEqual(notPass(healthy.findings as Finding[]), []);
  t.is(healthy.findings.filter((f) => f.check === 'service-routing.clusterip').length, HEALTHY_CLUSTERIP.length);

  const broken = renderIpvsadm(svc(svc(api, 'shop/single', (s) => ({ ...s, endpoints: [...s.endpoints, { ip: '10.244.2.99', node: 'node-b' }] })), 'shop/sticky', (s) => ({ ...s, affinity: undefined })))
    .replace(/^-a -t 10\.96\.0\.10:443 -r 10\.244\.2\.13:8443 -m -w 1\n/m, '')
    + '-A -t 10.96.0.99:80 -s rr\n-a -t 10.96.0.99:80 -r 10.244.2.250:80 -m -w 1\n';
  const r = scanSnapshot(snap(broken), cluster, { only: SR }).findings as Finding[];
  t.deepEqual(notPass(r), [
    'fail service-routing.clusterip shop/single:8080/TCP',
    'fail service-routing.clusterip shop/sticky:80/TCP',
    'fail service-routing.clusterip shop/web:443/TCP',
    'warn service-routing.stale-rules 10.96.0.99:80/TCP',
  ]);
  t.deepEqual(find(r, 'clusterip', 'shop/web:443/TCP').evidence!['missing'], ['10.244.2.13:8443']);
  t.regex(find(r, 'clusterip', 'shop/sticky:80/TCP').message, /ClientIP is not programmed/);
  // A draining real server (weight 0) does not count as serving.
  const draining = renderIpvsadm(api).replace('-r 10.244.2.20:9090 -m -w 1', '-r 10.244.2.20:9090 -m -w 0');
  const d = scanSnapshot(snap(draining), cluster, { only: SR }).findings as Finding[];
  t.deepEqual(find(d, 'clusterip', 'shop/single:8080/TCP').evidence!['missing'], ['10.244.2.20:9090']);
});

test('both iptables backends holding kube-proxy chains is warned, and two catching modes fail service-routing.mode', (t) => {
  const api = smallCluster('node-a');
  const cluster = parseClusterObjects(parseClusterText(renderClusterJson(api), 'cluster.json'));
  const ipt = renderIptables(api);
  const both = scanSnapshot({ node: 'node-a', capturedAt: '', source: 'bundle', dataplane: { iptables: { nft: ipt, legacy: ipt } } }, cluster, { only: ['service-routing.mode'] }).findings;
  t.deepEqual(both.map((f) => `${f.status} ${f.subject}`), ['pass node-a', 'warn node-a iptables backends']);
  const two = scanSnapshot({ node: 'node-a', capturedAt: '', source: 'bundle', dataplane: { iptables: { nft: ipt }, ipvsadm: renderIpvsadm(api) } }, cluster, { only: ['service-routing.mode'] }).findings;
  t.is(two[0]!.status, 'fail');
  t.regex(two[0]!.message, /iptables and ipvs/);
  const none = scanSnapshot({ node: 'node-a', capturedAt: '', source: 'bundle', dataplane: { ipsetSave: '' } }, cluster, { only: ['service-routing.mode'] }).findings;
  t.is(none[0]!.status, 'fail');
});
