// Issue #22, proven on a real switch: the real kube-proxy (newest pinned release) programs a lab
// node from a real API server in iptables mode; a client on the node uses 127.0.0.1:<nodePort>
// and a pod reaches the NodePort on a secondary (non-primary) node address — both work, and the
// agent's capture of the node (with the conntrack entries of those real connections) makes
// `migrate check` name exactly the two blockers. Then the node is switched the documented way
// (kube-proxy stopped, `kube-proxy --cleanup`, kube-proxy started in nftables mode, same node and
// API objects): after its sync metric says it synced, exactly the two named connections fail,
// while the primary-address NodePort and the ClusterIP still work, and `diff` of the bundles
// judges every Service port the same. Everything runs inside namespaces this test creates.
import test from 'ava';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ControlPlane, type KubeObject } from './lab/control-plane.js';
import { createLabNode } from './lab/lab.js';
import { echoServer, heldConnection } from './lab/netns-tcp.js';
import { tempDir } from './support/tmp.js';
import { LabKubeProxy } from './lab/kube-proxy.js';
import { clusterContext, clusterJson, createClusterObjects } from './lab/api-objects.js';
import { UPLINK, captureWithCni } from './support/migration.js';
import { smallCluster, type ClusterDesc } from '../agent/dataplane/testing/generate.js';
import { readBundle } from '../agent/inspect/bundle.js';
import { fingerprintNode } from '../agent/fingerprint.js';
import { clusterInventory } from '../migrate/inventory.js';
import { judgeProxyNode } from '../migrate/proxy/check.js';
import { kubeProxyNftables } from '../migrate/proxy/profiles.js';
import { scanSnapshot } from '../agent/scan.js';
import { diffSnapshots } from '../migrate/diff.js';

const PRIMARY = '10.250.0.11';
const SECONDARY = '192.168.77.10';
const CLUSTER_IP = '10.96.0.10';
const NODE_PORT = 30080;

/** One NodePort Service, shop/web (80 → 8080, NodePort 30080), served by the lab's pod 1 only. */
function labCluster(nodeName: string): ClusterDesc {
  const d = smallCluster(nodeName, PRIMARY);
  const web = d.services.find((s) => s.name === 'web')!;
  return { ...d, services: [{ ...web, ports: [web.ports[0]!], endpoints: [{ ip: '10.244.1.11', node: nodeName }] }] };
}

/** One connection from `netns`: 'echoed' (the endpoint answered), or the error (ECONNREFUSED, timeout). */
function probe(netns: string, host: string, port: number): Promise<string> {
  const script = `const s=require('node:net').connect(${port},${JSON.stringify(host)},()=>s.write('ping'));const done=(r)=>{process.stdout.write(r);process.exit(0)};s.on('data',(d)=>done(d.toString()==='ping'?'echoed':'other'));s.on('error',(e)=>done(e.code||e.message));setTimeout(()=>done('timeout'),3000)`;
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', netns, process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    child.stdout!.on('data', (c: Buffer) => { out += c.toString(); });
    child.stderr!.on('data', (c: Buffer) => { err += c.toString(); });
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`probe from ${netns} to ${host}:${port} exited ${code}: ${err}`))));
  });
}

let cp: ControlPlane;
test.before(async () => { cp = await ControlPlane.start(); });
test.after.always(async () => { await cp?.stop(); });

test('real kube-proxy switched from iptables to nftables on a lab node: exactly the two blockers migrate check named break, nothing else', async (t) => {
  t.timeout(180_000);
  const T0 = Date.now();
  const dir = tempDir(t, 'nc-switch-');
  const lab = await createLabNode({ pods: 2, ...UPLINK });
  t.teardown(() => lab.destroy());
  const desc = labCluster(lab.nodeName);
  await createClusterObjects(cp, desc);
  t.teardown(async () => { await cp.request('DELETE', `/api/v1/nodes/${lab.nodeName}`); });
  // A secondary interface (a veth pair standing in: this kernel has no dummy module).
  await lab.exec('ip', ['link', 'add', 'eth1', 'type', 'veth', 'peer', 'name', 'eth1-peer']);
  await lab.exec('ip', ['addr', 'add', `${SECONDARY}/24`, 'dev', 'eth1']);
  await lab.exec('ip', ['link', 'set', 'eth1', 'up']);
  await lab.exec('ip', ['link', 'set', 'eth1-peer', 'up']);
  await echoServer(t, lab.pods[1]!.netns, 8080);
  const routeLocalnet = async (): Promise<string> => (await lab.exec('sysctl', ['-n', 'net.ipv4.conf.all.route_localnet'])).trim();
  t.is(await routeLocalnet(), '0', 'a new namespace starts without route_localnet');

  // ---- iptables mode ----
  let mark = Date.now();
  const ipt = await LabKubeProxy.start(cp, { netns: lab.netns, nodeName: lab.nodeName, mode: 'iptables', clusterCIDR: desc.clusterCIDR });
  let iptStopped = false;
  t.teardown(async () => { if (!iptStopped) await ipt.stop(); });
  await ipt.waitForSync(mark, 90_000);
  t.log(`kube-proxy ${ipt.version} iptables: synced ${((Date.now() - mark) / 1000).toFixed(1)} s after start`);
  t.is(await routeLocalnet(), '1', 'kube-proxy in iptables mode set route_localnet itself (localhostNodePorts)');

  const paths = {
    localhost: [lab.netns, '127.0.0.1', NODE_PORT],
    secondary: [lab.pods[0]!.netns, SECONDARY, NODE_PORT],
    primary: [lab.pods[0]!.netns, PRIMARY, NODE_PORT],
    clusterIP: [lab.pods[0]!.netns, CLUSTER_IP, 80],
  } as const;
  const probeAll = async (): Promise<Record<string, string>> => {
    const out: Record<string, string> = {};
    for (const [k, [ns, host, port]] of Object.entries(paths)) out[k] = await probe(ns, host, port);
    return out;
  };
  t.deepEqual(await probeAll(), { localhost: 'echoed', secondary: 'echoed', primary: 'echoed', clusterIP: 'echoed' });
  // The connections the capture sees in conntrack: held open, as a real client would.
  const held = [
    await heldConnection(t, lab.netns, '127.0.0.1', NODE_PORT),
    await heldConnection(t, lab.pods[0]!.netns, SECONDARY, NODE_PORT),
  ];

  const clusterObjects = (JSON.parse(clusterJson(cp)) as { items: KubeObject[] }).items;
  const cluster = clusterContext(cp);
  const inv = clusterInventory(clusterObjects);
  const before = readBundle(await captureWithCni(lab, join(dir, 'before'), 'bridge'));
  t.regex(readFileSync(join(dir, 'before', 'conntrack.txt'), 'utf8'), new RegExp(`dst=127\\.0\\.0\\.1 sport=\\d+ dport=${NODE_PORT} src=10\\.244\\.1\\.11`), 'the real kube-proxy DNATed the localhost connection');
  const fp = fingerprintNode(before);
  t.is(fp.proxyMode, 'iptables');
  t.deepEqual(fp.proxy!.routeLocalnet, ['all']);
  t.true(fp.proxy!.localhostNodePortRule);
  t.like(fp.proxy!.localhostClients[0], { protocol: 'tcp', port: NODE_PORT, service: 'shop/web:http', target: `127.0.0.1:${NODE_PORT}`, seenIn: 'conntrack' });
  // NodePort arrivals: the held connection on the secondary address, and the probe on the primary one.
  t.deepEqual(fp.proxy!.arrivals.map((a) => [a.address, a.interface, a.port, a.service]).sort(), [[PRIMARY, 'eth0', NODE_PORT, 'shop/web:http'], [SECONDARY, 'eth1', NODE_PORT, 'shop/web:http']]);
  const node = inv.nodes.find((n) => n.name === lab.nodeName)!;
  const verdict = judgeProxyNode(fp, kubeProxyNftables, { targetVersion: '1.37' }, { nodeIPs: node.internalIPs });
  t.deepEqual(verdict.blockers.map((b) => b.id), ['localhost-nodeport', 'nodeport-address']);
  t.log(`migrate check: ${verdict.blockers.map((b) => b.id).join(', ')}; warnings ${verdict.warnings.map((w) => w.id).join(', ') || 'none'}`);

  // ---- the switch: stop kube-proxy with --cleanup, start it in nftables mode ----
  for (const c of held) c.kill('SIGKILL');
  await ipt.stop();
  iptStopped = true;
  const left = await lab.exec('iptables-save', []);
  // kube-proxy --cleanup removes its Service rules but leaves the localnet guard iptables mode
  // added (KUBE-FIREWALL, filter table): harmless, and nothing routes Services through it.
  t.deepEqual(left.split('\n').filter((l) => /^-A .*KUBE-/.test(l)), [
    '-A INPUT -j KUBE-FIREWALL',
    '-A OUTPUT -j KUBE-FIREWALL',
    '-A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "block incoming localnet connections" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP',
  ], 'kube-proxy --cleanup left exactly its localnet guard');
  mark = Date.now();
  const nft = await LabKubeProxy.start(cp, { netns: lab.netns, nodeName: lab.nodeName, mode: 'nftables', clusterCIDR: desc.clusterCIDR });
  t.teardown(() => nft.stop());
  await nft.waitForSync(mark, 90_000);
  t.log(`kube-proxy ${nft.version} nftables: synced ${((Date.now() - mark) / 1000).toFixed(1)} s after start`);

  // Exactly the two connections the report named fail; nothing it did not name breaks.
  const afterProbes = await probeAll();
  t.log(`after the switch: ${JSON.stringify(afterProbes)}`);
  t.deepEqual(afterProbes, { localhost: 'ECONNREFUSED', secondary: 'ECONNREFUSED', primary: 'echoed', clusterIP: 'echoed' });

  const after = readBundle(await captureWithCni(lab, join(dir, 'after'), 'bridge'));
  t.is(fingerprintNode(after).proxyMode, 'nftables');
  t.log(`service-routing.mode after: ${JSON.stringify(scanSnapshot(after, cluster, { only: ['service-routing.mode'] }).findings.map((f) => [f.status, f.subject, f.message]))}; leftover chains ${fingerprintNode(after).proxy!.leftoverIptablesChains}`);
  const d = diffSnapshots(before, after, { before: scanSnapshot(before, cluster), after: scanSnapshot(after, cluster) });
  t.deepEqual(d.proxyMode, { before: 'iptables', after: 'nftables' });
  t.log(`diff: ${d.services.same} of ${d.services.judged} Service ports judged the same; changed ${JSON.stringify(d.services.changed)}`);
  t.true(d.services.judged > 0);
  t.is(d.services.same, d.services.judged);
  t.deepEqual(d.services.changed, []);

  t.log(`runtime ${((Date.now() - T0) / 1000).toFixed(1)} s`);
});
