// Real CNI plugins build the lab pods (test/lab/cni.ts): a kubenet-shaped bridge list (cbr0,
// hairpin, host-local on the node's pod CIDR, portmap) and a routed ptp list, called as a
// container runtime calls them. netconform then judges what the plugins built — cni.config on
// the real conf dir and binaries, pod-network.*, no-nat.pod-to-pod — and a real connection
// between the pods shows the source address preserved. DEL removes each pod's interfaces and
// host-local's lease.
import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseClusterObjects } from '../common/cluster.js';
import type { Finding } from '../common/findings.js';
import { inspectNetns } from '../agent/inspect/netns.js';
import { scanSnapshot } from '../agent/scan.js';
import { createLabNode, run } from './lab/lab.js';
import { cniAdd, cniBinDir, cniDel, kubenetConflist, ptpConflist, writeConflist, type CniConflist, type CniPod } from './lab/cni.js';
import { tempDir } from './support/tmp.js';

const POD_CIDR = '10.244.3.0/24';
const CHECKS = ['cni.config', 'pod-network.sysctl', 'pod-network.bridge', 'pod-network.pod-cidr', 'pod-network.cidr-capacity', 'pod-network.routes', 'no-nat.pod-to-pod'];

const ECHO = `require('node:net').createServer((s) => s.end(JSON.stringify({ src: s.remoteAddress }))).listen(7777, '0.0.0.0', () => process.stdout.write('ready\\n'));`;
const CONNECT = `const s = require('node:net').connect(7777, process.argv[1]); let b = ''; s.on('data', (d) => (b += d)); s.on('end', () => process.stdout.write(b)); s.on('error', (e) => { process.stdout.write(JSON.stringify({ error: e.code })); });`;

for (const kind of ['bridge', 'ptp'] as const) {
  test(`${kind === 'bridge' ? 'kubenet-shaped bridge' : 'routed ptp'} list: pods built by the real plugins pass cni.config, pod-network.* and no-nat, and keep their source address on the wire`, async (t) => {
    t.timeout(120_000);
    const dir = tempDir(t, 'nc-cni-');
    const lab = await createLabNode({ pods: 0, bridge: null, podCIDR: POD_CIDR, uplinkAddress: '192.168.53.2/24' });
    t.teardown(() => lab.destroy());
    const confDir = join(dir, 'net.d');
    const dataDir = join(dir, 'leases');
    const list: CniConflist = kind === 'bridge' ? kubenetConflist(POD_CIDR, dataDir) : ptpConflist(POD_CIDR, dataDir);
    writeConflist(confDir, list);
    const pods: CniPod[] = [];
    t.teardown(async () => { for (const p of pods.reverse()) await cniDel(lab.netns, list, p).catch(() => undefined); });
    for (let i = 0; i < 2; i++) pods.push(await cniAdd(lab.netns, list, `${lab.netns}-c${i}`, `ctr-${i}-${Date.now()}`));
    t.deepEqual(pods.map((p) => p.ip), ['10.244.3.2', '10.244.3.3']);
    // host-local's leases are in the private directory, one file per IP.
    t.true(readdirSync(join(dataDir, list.name)).includes('10.244.3.2'));

    const cluster = parseClusterObjects([{ kind: 'Node', metadata: { name: lab.nodeName }, spec: { podCIDR: POD_CIDR, podCIDRs: [POD_CIDR] }, status: { addresses: [{ type: 'InternalIP', address: '192.168.53.2' }], allocatable: { pods: '110' } } }]);
    const snapshot = await inspectNetns(lab.netns, { node: lab.nodeName, cniConfDir: confDir, cniBinDir: cniBinDir() });
    const findings = scanSnapshot(snapshot, cluster, { only: CHECKS }).findings as Finding[];
    t.log(findings.map((f) => `${f.status} ${f.check} ${f.subject}: ${f.message}`).join('\n'));
    t.deepEqual(findings.filter((f) => f.status !== 'pass' && f.status !== 'skip').map((f) => `${f.status} ${f.check} ${f.subject}: ${f.message}`), []);
    const cni = findings.find((f) => f.check === 'cni.config')!;
    t.is(cni.status, 'pass');

    // Pod to pod on the wire: the receiver sees the sender's pod IP.
    const echo = spawn('ip', ['netns', 'exec', pods[1]!.netns, process.execPath, '-e', ECHO], { stdio: ['ignore', 'pipe', 'ignore'] });
    t.teardown(() => { echo.kill('SIGKILL'); });
    await new Promise<void>((resolve) => echo.stdout.once('data', () => resolve()));
    const seen = await run('ip', ['netns', 'exec', pods[0]!.netns, process.execPath, '-e', CONNECT, pods[1]!.ip]);
    t.deepEqual(JSON.parse(seen), { src: pods[0]!.ip });
    echo.kill('SIGKILL');

    // DEL: the pod's interfaces and lease go.
    const last = pods.pop()!;
    await cniDel(lab.netns, list, last);
    t.false(existsSync(join(dataDir, list.name, last.ip)));
    t.false(readdirSync('/var/run/netns').includes(last.netns));
  });
}
