// Dual-stack Services judged against the real kube-proxy (issue 21's last shape): a
// dual-stack API server (a service CIDR per family), a lab node with an IPv4 and an IPv6
// address and pod CIDR, and kube-proxy with a dual-stack clusterCIDR, which then runs one
// proxier per family. The cluster (generate.ts dualStackCluster) holds RequireDualStack
// ClusterIP, NodePort (externalTrafficPolicy Cluster and Local), UDP and affinity Services, a
// PreferDualStack one whose endpoints are IPv4 only, and an IPv6 SingleStack NodePort, with
// EndpointSlices of addressType IPv4 and IPv6. netconform scans the node live: every path of
// both families passes, with exact counts; real connections of both families (from a pod to
// the ClusterIPs, from outside to the NodePorts) land only where the trace says. The dumps are
// recorded as bundles in test/fixtures/kube-proxy-real/dual-stack/ (NETCONFORM_RECORD=1) and
// re-judged without Go by dataplane-real-fixtures.test.ts.
import test from 'ava';
import { join } from 'node:path';
import type { ClusterContext } from '../common/cluster.js';
import type { Finding } from '../common/findings.js';
import { inspectNetns } from '../agent/inspect/netns.js';
import { systemTool } from '../agent/inspect/dataplane.js';
import { scanSnapshot } from '../agent/scan.js';
import { dualStackCluster } from '../agent/dataplane/testing/generate.js';
import { ControlPlane } from './lab/control-plane.js';
import { k8sVersions } from './lab/k8s-bins.js';
import { createWireLab, type WireLab } from './lab/wire.js';
import { onTheWire, probesFromFindings } from './support/wire-judge.js';
import type { LabNode } from './lab/lab.js';
import type { KubeProxyMode } from './lab/kube-proxy.js';
import { recordKubeProxyRun, scanAfterKubeProxySync, type KubeProxyRun } from './lab/kube-proxy-run.js';
import { clusterContext, createClusterObjects } from './lab/api-objects.js';

const NODE = 'lab-node-a';
const NODE_IP = '192.168.50.2';
const NODE_IP6 = 'fd00:50::2';
const CLUSTER_CIDR = '10.244.0.0/16,fd00:10:244::/56';
const SR = ['service-routing.mode', 'service-routing.clusterip', 'service-routing.nodeport', 'service-routing.stale-rules', 'service-routing.kube-proxy', 'no-nat.pod-to-pod'];
const DESC = dualStackCluster(NODE, NODE_IP, NODE_IP6);
const RECORD = process.env.NETCONFORM_RECORD === '1';
const FIXTURES = new URL('./fixtures/kube-proxy-real/dual-stack/', import.meta.url).pathname;

/** Every ClusterIP path: each family of a dual-stack Service port under the same subject. */
export const DUAL_CLUSTERIP_PATHS = [
  'default/kubernetes:443/TCP ClusterIP 10.96.0.1:443/TCP',
  'kube-system/dns:53/TCP ClusterIP 10.96.0.53:53/TCP', 'kube-system/dns:53/TCP ClusterIP [fd00:10:96::53]:53/TCP',
  'kube-system/dns:53/UDP ClusterIP 10.96.0.53:53/UDP', 'kube-system/dns:53/UDP ClusterIP [fd00:10:96::53]:53/UDP',
  'shop/dual-local:80/TCP ClusterIP 10.96.0.32:80/TCP', 'shop/dual-local:80/TCP ClusterIP [fd00:10:96::32]:80/TCP',
  'shop/dual-np:80/TCP ClusterIP 10.96.0.31:80/TCP', 'shop/dual-np:80/TCP ClusterIP [fd00:10:96::31]:80/TCP',
  'shop/dual:80/TCP ClusterIP 10.96.0.30:80/TCP', 'shop/dual:80/TCP ClusterIP [fd00:10:96::30]:80/TCP',
  'shop/prefer:80/TCP ClusterIP 10.96.0.33:80/TCP', 'shop/prefer:80/TCP ClusterIP [fd00:10:96::33]:80/TCP',
  'shop/sticky-dual:80/TCP ClusterIP 10.96.0.35:80/TCP', 'shop/sticky-dual:80/TCP ClusterIP [fd00:10:96::35]:80/TCP',
  'shop/v6only:8080/TCP ClusterIP [fd00:10:96::34]:8080/TCP',
];
/** Every NodePort path: the IPv4 and the IPv6 node address, each for its family's Services. */
export const DUAL_NODEPORT_PATHS = [
  'shop/dual-local:80/TCP NodePort 192.168.50.2:30201/TCP', 'shop/dual-local:80/TCP NodePort [fd00:50::2]:30201/TCP',
  'shop/dual-np:80/TCP NodePort 192.168.50.2:30200/TCP', 'shop/dual-np:80/TCP NodePort [fd00:50::2]:30200/TCP',
  'shop/v6only:8080/TCP NodePort [fd00:50::2]:30202/TCP',
];

let cp: ControlPlane;
let cluster: ClusterContext;

test.before(async () => {
  cp = await ControlPlane.start({ serviceCIDRs: ['10.96.0.0/16', 'fd00:10:96::/112'] });
  await createClusterObjects(cp, DESC);
  cluster = clusterContext(cp);
});
test.after.always(async () => { await cp?.stop(); });

type Run = KubeProxyRun;

const withKubeProxy = (t: import('ava').ExecutionContext, version: string, mode: KubeProxyMode): Promise<Run> => scanAfterKubeProxySync(t, cp, cluster, {
  lab: {
    pods: 0, bridge: 'cbr0', podCIDR: DESC.podCIDR, podCIDR6: DESC.podCIDR6, uplinkAddress: `${NODE_IP}/24`, uplinkAddress6: `${NODE_IP6}/64`,
    sysctls: { 'net.ipv4.ip_forward': '1', 'net.ipv6.conf.all.forwarding': '1', 'net.bridge.bridge-nf-call-iptables': '1', 'net.bridge.bridge-nf-call-ip6tables': '1' },
  },
  nodeName: NODE, version, mode, clusterCIDR: CLUSTER_CIDR, only: SR,
});

const notPass = (fs: readonly Finding[]): string[] => fs.filter((f) => f.status !== 'pass').map((f) => `${f.status} ${f.check} ${f.subject}: ${f.message}`).sort();
const brief = (fs: readonly Finding[]): string[] => fs.filter((f) => f.status !== 'pass').map((f) => `${f.status} ${f.check} ${f.subject}`).sort();
/** `subject path` of each finding of a check (the path without the NodePort's "from outside …"). */
const paths = (fs: readonly Finding[], check: string): string[] =>
  fs.filter((f) => f.check === check).map((f) => `${f.subject} ${String(f.evidence!['path']).replace(/ from outside.*$/, '')}`).sort();
const get = (fs: readonly Finding[], check: string, subject: string, path: string): Finding => {
  const f = fs.find((x) => x.check === `service-routing.${check}` && x.subject === subject && String(x.evidence?.['path'] ?? '').startsWith(path));
  if (!f) throw new Error(`no ${check} finding for ${subject} at ${path}`);
  return f;
};

function record(version: string, mode: KubeProxyMode, run: Run): void {
  recordKubeProxyRun(join(FIXTURES, `${version}-${mode}`), cp, run, `kube-proxy ${version}, mode ${mode}, dual-stack: recorded by test/kube-proxy-dual-stack.test.ts with NETCONFORM_RECORD=1`, [
    `The real kube-proxy (built by scripts/k8s-bins.sh) ran in a lab network namespace as node ${NODE}`,
    `(${NODE_IP} and ${NODE_IP6}; pod CIDRs ${DESC.podCIDR} and ${DESC.podCIDR6}; clusterCIDR ${CLUSTER_CIDR}), one proxier per`,
    'family, against a real dual-stack kube-apiserver (--service-cluster-ip-range=10.96.0.0/16,fd00:10:96::/112) holding',
    'dualStackCluster (agent/dataplane/testing/generate.ts); after its sync metric reported the sync,',
  ]);
}

async function wireLab(t: import('ava').ExecutionContext, lab: LabNode, tag: string): Promise<WireLab> {
  const eps = { 4: { local: new Set<string>(), remote: new Set<string>() }, 6: { local: new Set<string>(), remote: new Set<string>() } };
  for (const s of DESC.services) for (const e of s.endpoints) eps[e.ip.includes(':') ? 6 : 4][e.node === NODE ? 'local' : 'remote'].add(e.ip);
  const w = await createWireLab(lab, {
    localEndpoints: [...eps[4].local], remoteEndpoints: [...eps[4].remote], remoteCIDR: '10.244.2.0/24',
    tcpPorts: [80, 53, 8080, 9090], udpPorts: [53], clientPodIP: '10.244.1.200', outsideIP: '192.168.50.100', nodeIP: NODE_IP, tag,
    ipv6: {
      localEndpoints: [...eps[6].local], remoteEndpoints: [...eps[6].remote], remoteCIDR: DESC.otherNodes![0]!.podCIDR6!,
      podPrefixLength: 64, gateway: 'fd00:10:244:1::1', clientPodIP: 'fd00:10:244:1::c8', outsideIP: 'fd00:50::64', nodeIP: NODE_IP6,
    },
  });
  t.teardown(() => w.stop());
  return w;
}

const versions = (): string[] => [k8sVersions().kubernetes, k8sVersions().kubernetesOld];

for (const which of ['newest', 'oldest'] as const) {
  for (const mode of ['iptables', 'nftables'] as const) {
    test.serial(`kube-proxy ${which} release, ${mode} mode, dual-stack: every IPv4 and IPv6 path passes with exact counts, and real connections of both families agree`, async (t) => {
      t.timeout(180_000);
      const t0 = Date.now();
      const version = which === 'newest' ? versions()[0]! : versions()[1]!;
      const run = await withKubeProxy(t, version, mode);
      const { findings } = run;
      t.log(`kube-proxy ${version} ${mode}: first sync ${run.syncSeconds.toFixed(1)} s after start`);
      if (RECORD) record(version, mode, run);
      t.deepEqual(notPass(findings), []);
      t.deepEqual(paths(findings, 'service-routing.clusterip'), DUAL_CLUSTERIP_PATHS);
      t.deepEqual(paths(findings, 'service-routing.nodeport'), DUAL_NODEPORT_PATHS);
      t.deepEqual(findings.filter((f) => f.check === 'no-nat.pod-to-pod').map((f) => f.message), [
        "pod-to-pod traffic on this node (10.244.1.250 → 10.244.1.251) keeps the pod's source address",
        "pod-to-pod traffic to node node-b (10.244.1.250 → 10.244.2.10) keeps the pod's source address",
        "pod-to-pod traffic on this node (fd00:10:244:1::fa → fd00:10:244:1::fb) keeps the pod's source address",
        "pod-to-pod traffic to node node-b (fd00:10:244:1::fa → fd00:10:244:2::a) keeps the pod's source address",
      ]);
      t.is(get(findings, 'mode', NODE, '').message, `kube-proxy mode: ${mode}`);
      t.is(findings.length, DUAL_CLUSTERIP_PATHS.length + DUAL_NODEPORT_PATHS.length + 3 + 4);
      // Each family with its own endpoints: 2 IPv4, 3 IPv6 behind one Service port.
      t.deepEqual(get(findings, 'clusterip', 'shop/dual:80/TCP', 'ClusterIP 10.96.0.30').evidence!['observed'], ['10.244.1.31:8080', '10.244.2.32:8080']);
      t.deepEqual(get(findings, 'clusterip', 'shop/dual:80/TCP', 'ClusterIP [fd00:10:96::30]').evidence!['observed'], ['[fd00:10:244:1::31]:8080', '[fd00:10:244:2::32]:8080', '[fd00:10:244:2::33]:8080']);
      // PreferDualStack, IPv6 first, IPv4 endpoints only: the IPv6 ClusterIP rejects, the IPv4 one routes.
      t.is(get(findings, 'clusterip', 'shop/prefer:80/TCP', 'ClusterIP [fd00:10:96::33]').evidence!['rejected'], 1);
      t.deepEqual(get(findings, 'clusterip', 'shop/prefer:80/TCP', 'ClusterIP 10.96.0.33').evidence!['observed'], ['10.244.2.62:8080']);
      // externalTrafficPolicy=Local per family: no IPv4 endpoint here (dropped), one IPv6 endpoint here.
      t.is(get(findings, 'nodeport', 'shop/dual-local:80/TCP', 'NodePort 192.168.50.2').evidence!['dropped'], 1);
      t.deepEqual(get(findings, 'nodeport', 'shop/dual-local:80/TCP', 'NodePort [fd00:50::2]').evidence!['observed'], ['[fd00:10:244:1::51]:8080']);
      t.deepEqual(get(findings, 'nodeport', 'shop/v6only:8080/TCP', 'NodePort [fd00:50::2]').evidence!['observed'], ['[fd00:10:244:2::60]:9090']);
      t.deepEqual(get(findings, 'clusterip', 'shop/sticky-dual:80/TCP', 'ClusterIP [fd00:10:96::35]').evidence!['affinity'], { expected: 'ClientIP', observed: 'ClientIP' });

      // On the wire: every traced path of both families, from a pod (ClusterIP) and from outside (NodePort).
      const w = await wireLab(t, run.lab, `d${which[0]}${mode[0]}`);
      const { probes, skipped } = probesFromFindings(findings);
      t.is(probes.length, DUAL_CLUSTERIP_PATHS.length + DUAL_NODEPORT_PATHS.length);
      t.deepEqual(skipped, []);
      t.is(probes.filter((p) => p.target.host.includes(':')).length, 11);
      const t1 = Date.now();
      const { problems, tallies } = await onTheWire(w, probes);
      t.deepEqual(problems, []);
      t.deepEqual(Object.keys(tallies['clusterip shop/dual:80/TCP IPv6']!.by).sort(), ['fd00:10:244:1::31', 'fd00:10:244:2::32', 'fd00:10:244:2::33']);
      t.deepEqual(Object.keys(tallies['nodeport shop/v6only:8080/TCP IPv6']!.by), ['fd00:10:244:2::60']);
      t.log(`on the wire: ${probes.length} paths in ${((Date.now() - t1) / 1000).toFixed(1)} s; whole test ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    });
  }
}

// ---- a fault in the IPv6 rules ----------------------------------------------------------------

const DUAL = 'shop/dual:80/TCP';
const GONE = 'fd00:10:244:1::31';

/** Deletes the rule that sends shop/dual's IPv6 traffic to [GONE]:8080, the way another tool would. */
async function deleteIpv6EndpointRule(lab: LabNode, mode: KubeProxyMode): Promise<string> {
  if (mode === 'iptables') {
    // The KUBE-SVC chain's jump to the endpoint's KUBE-SEP chain (its 1-in-3 statistic rule).
    const all = (await lab.exec('ip6tables', ['-w', '-t', 'nat', '-S'])).split('\n');
    const rule = all.find((l) => l.startsWith('-A KUBE-SVC-') && l.includes(`"shop/dual:http -> [${GONE}]:8080"`) && l.includes('-m statistic'));
    if (!rule) throw new Error(`no KUBE-SVC rule for [${GONE}]:8080 in\n${all.join('\n')}`);
    const chain = rule.split(' ')[1]!;
    const n = (await lab.exec('ip6tables', ['-w', '-t', 'nat', '-S', chain])).split('\n').filter((l) => l.startsWith('-A ')).indexOf(rule);
    await lab.exec('ip6tables', ['-w', '-t', 'nat', '-D', chain, String(n + 1)]);
    return rule;
  }
  // nftables: v1.35 sends each endpoint to a chain of its own (its DNAT rule is deleted); v1.37
  // dispatches a Service without affinity in one rule, `dnat ip6 to numgen random mod N map {…}`
  // (that rule is replaced by one whose map lacks the endpoint, as an older dump would hold).
  const nft = systemTool('nft');
  const text = await lab.exec(nft, ['-a', 'list', 'table', 'ip6', 'kube-proxy']);
  let chain: string | undefined;
  for (const l of text.split('\n')) {
    const c = /^\s*chain (\S+) \{/.exec(l);
    if (c) chain = c[1];
    if (!chain?.includes('shop/dual/tcp/http')) continue;
    const h = /dnat to \[([0-9a-f:]+)\]:8080 # handle (\d+)/.exec(l);
    if (h && h[1] === GONE) {
      await lab.exec(nft, ['delete', 'rule', 'ip6', 'kube-proxy', chain, 'handle', h[2]!]);
      return `${chain}: ${l.trim()}`;
    }
    const m = /^\s*(meta l4proto tcp dnat ip6 to numgen random mod )\d+ map \{ (.*) \} # handle (\d+)$/.exec(l);
    if (m && m[2]!.includes(`${GONE} . 8080`)) {
      const kept = m[2]!.split(', ').map((e) => e.replace(/^\d+ : /, '')).filter((e) => !e.startsWith(`${GONE} `));
      const rule = `${m[1]}${kept.length} map { ${kept.map((e, i) => `${i} : ${e}`).join(', ')} }`;
      await lab.exec(nft, ['replace', 'rule', 'ip6', 'kube-proxy', chain, 'handle', m[3]!, ...rule.split(' ')]);
      return `${chain}: ${l.trim()} → ${rule}`;
    }
  }
  throw new Error(`no DNAT to [${GONE}]:8080 in\n${text}`);
}

for (const which of ['newest', 'oldest'] as const) {
  for (const mode of ['iptables', 'nftables'] as const) {
    test.serial(`kube-proxy ${which} release, ${mode} mode, dual-stack: one IPv6 endpoint's rule deleted is found on the IPv6 path only, confirmed on the wire, and repaired by kube-proxy's resync after a restart`, async (t) => {
      t.timeout(180_000);
      const version = which === 'newest' ? versions()[0]! : versions()[1]!;
      const run = await withKubeProxy(t, version, mode);
      t.deepEqual(notPass(run.findings), []);
      const w = await wireLab(t, run.lab, `f${which[0]}${mode[0]}`);
      const scanNow = async (): Promise<Finding[]> => {
        const snapshot = await inspectNetns(run.lab.netns, { node: NODE, cniConfDir: '/nonexistent', cniBinDir: '/nonexistent', kubeProxy: { url: run.kp.metricsUrl, settleMs: 30_000, stallMs: 300_000 } });
        return scanSnapshot(snapshot, cluster, { only: SR }).findings as Finding[];
      };
      const answeredBy = async (): Promise<string[]> => {
        await run.lab.exec('conntrack', ['-F']).catch(() => undefined);
        const r = await w.fromPod([{ id: 'v6', proto: 'tcp', host: 'fd00:10:96::30', port: 80, n: 90 }]);
        return Object.keys(r['v6']!.by).sort();
      };
      t.deepEqual(await answeredBy(), [GONE, 'fd00:10:244:2::32', 'fd00:10:244:2::33']);

      t.log(`deleted: ${await deleteIpv6EndpointRule(run.lab, mode)}`);
      const findings = await scanNow();
      t.deepEqual(brief(findings), [`fail service-routing.clusterip ${DUAL}`]);
      const f = get(findings, 'clusterip', DUAL, 'ClusterIP [fd00:10:96::30]');
      // The remaining endpoints share the traffic (iptables' chain, v1.37's nftables map), or
      // (v1.35's nftables) the emptied endpoint chain returns without DNAT and kube-proxy's
      // cluster-ips-check rejects what reached a ClusterIP undispatched.
      t.is(f.message, mode === 'nftables' && which === 'oldest'
        ? `ClusterIP [fd00:10:96::30]:80/TCP: 33.3% of it is rejected; missing endpoint [${GONE}]:8080`
        : `ClusterIP [fd00:10:96::30]:80/TCP: missing endpoint [${GONE}]:8080`);
      t.deepEqual(f.evidence!['missing'], [`[${GONE}]:8080`]);
      t.is(get(findings, 'clusterip', DUAL, 'ClusterIP 10.96.0.30').status, 'pass');
      t.false((await answeredBy()).includes(GONE));

      const restart = async (): Promise<void> => {
        await run.kp.kill();
        const mark = Date.now();
        run.kp.launch();
        await run.kp.waitForSync(mark, 90_000);
      };
      if (mode === 'nftables' && which === 'oldest') {
        // v1.35's first sync after a restart keeps every endpoint chain that exists (its
        // epChainSkipUpdate, "to speed up kube-proxy restart"): the emptied chain stays empty,
        // and netconform still says so. Without its table, kube-proxy writes everything anew.
        await restart();
        t.deepEqual(brief(await scanNow()), [`fail service-routing.clusterip ${DUAL}`]);
        await run.kp.kill();
        await run.lab.exec(systemTool('nft'), ['delete', 'table', 'ip6', 'kube-proxy']);
      }
      // kube-proxy restarted: its first sync is a full one and writes the rule back.
      await restart();
      t.deepEqual(notPass(await scanNow()), []);
      t.deepEqual(await answeredBy(), [GONE, 'fd00:10:244:2::32', 'fd00:10:244:2::33']);
    });
  }
}
