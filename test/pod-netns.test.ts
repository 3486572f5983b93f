// pod-netns checks on the real kernel: kubelet-shaped cgroups (cgroupfs and systemd drivers,
// cgroup v1 hierarchies and the v2 unified one) holding real processes in lab network
// namespaces, listening on real sockets; the agent scans the lab node through its CLI.
// Then the same shapes (and v2-only ones) through a --proc-root tree of real-shaped files.
import test from 'ava';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLabNode } from './lab/lab.js';
import { createKubeCgroupLab } from './lab/kube-cgroups.js';
import { runProgram } from './support/processes.js';
import type { Finding } from '../common/findings.js';

type Obj = Record<string, unknown>;
const cid = (): string => randomBytes(32).toString('hex');
const ago = (s: number): string => new Date(Date.now() - s * 1000).toISOString().replace(/\.\d+Z$/, 'Z');

interface C { name: string; id: string; scheme: string; ports?: { containerPort: number; protocol?: string }[]; sidecar?: boolean; startedAgo?: number }
function pod(name: string, uid: string, node: string, containers: C[], opts: { hostNetwork?: boolean; phase?: string } = {}): Obj {
  const status = (c: C): Obj => ({
    name: c.name, containerID: `${c.scheme}://${c.id}`, started: true, ready: true, restartCount: 0,
    state: { running: { startedAt: ago(c.startedAgo ?? 600) } },
  });
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name, namespace: 'shop', uid },
    spec: {
      nodeName: node, ...(opts.hostNetwork ? { hostNetwork: true } : {}),
      initContainers: containers.filter((c) => c.sidecar).map((c) => ({ name: c.name, image: 'x', restartPolicy: 'Always', ports: c.ports ?? [] })),
      containers: containers.filter((c) => !c.sidecar).map((c) => ({ name: c.name, image: 'x', ports: c.ports ?? [] })),
    },
    status: {
      phase: opts.phase ?? 'Running', startTime: ago(900),
      initContainerStatuses: containers.filter((c) => c.sidecar).map(status),
      containerStatuses: containers.filter((c) => !c.sidecar).map(status),
    },
  };
}

const podNetns = (findings: Finding[]): Finding[] => findings.filter((f) => f.check.startsWith('pod-netns.')).map(({ evidence: _e, ...f }) => f as Finding);

test.serial('lab: containers of a pod share its namespace; a moved container, a duplicated port and a dead port are found', async (t) => {
  const lab = await createLabNode({ pods: 4, bridge: null });
  const cg = createKubeCgroupLab();
  const dir = mkdtempSync(join(tmpdir(), 'nctest-podnetns-'));
  t.teardown(async () => {
    await cg.destroy();
    await lab.destroy();
    rmSync(dir, { recursive: true, force: true });
  });
  const [nsA, nsB, nsC, nsD] = lab.pods.map((p) => p.netns) as [string, string, string, string];
  const node = lab.nodeName;
  const pods: Obj[] = [];

  // web: cgroupfs driver, v1 pids hierarchy, burstable; app + a sidecar, both in the sandbox's namespace.
  const web = { uid: randomUUID(), sandbox: cid(), app: cid(), metrics: cid() };
  const webBase = `kubepods/burstable/pod${web.uid}`;
  await cg.start('pids', `${webBase}/${web.sandbox}`, nsA);
  await cg.start('pids', `${webBase}/${web.app}`, nsA, { tcp: [8080] });
  await cg.start('pids', `${webBase}/${web.metrics}`, nsA, { tcp: [9090] });
  pods.push(pod('web', web.uid, node, [
    { name: 'metrics', id: web.metrics, scheme: 'containerd', sidecar: true, ports: [{ containerPort: 9090 }] },
    { name: 'app', id: web.app, scheme: 'containerd', ports: [{ containerPort: 8080 }] },
  ]));

  // moved: systemd driver, v1 name=systemd hierarchy; container "stray" runs in another namespace.
  const moved = { uid: randomUUID(), sandbox: cid(), main: cid(), stray: cid() };
  const movedBase = `kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${moved.uid.replace(/-/g, '_')}.slice`;
  await cg.start('systemd', `${movedBase}/cri-containerd-${moved.sandbox}.scope`, nsB);
  await cg.start('systemd', `${movedBase}/cri-containerd-${moved.main}.scope`, nsB);
  const strayPid = await cg.start('systemd', `${movedBase}/cri-containerd-${moved.stray}.scope`, nsC);
  pods.push(pod('moved', moved.uid, node, [
    { name: 'main', id: moved.main, scheme: 'containerd' },
    { name: 'stray', id: moved.stray, scheme: 'containerd' },
  ]));

  // dup: cgroupfs, besteffort, CRI-O ids; two containers declare 8080/TCP, one binds it.
  const dup = { uid: randomUUID(), sandbox: cid(), a: cid(), b: cid() };
  const dupBase = `kubepods/besteffort/pod${dup.uid}`;
  await cg.start('pids', `${dupBase}/${dup.sandbox}`, nsD);
  await cg.start('pids', `${dupBase}/${dup.a}`, nsD, { tcp: [8080] });
  await cg.start('pids', `${dupBase}/${dup.b}`, nsD);
  pods.push(pod('dup', dup.uid, node, [
    { name: 'a', id: dup.a, scheme: 'cri-o', ports: [{ containerPort: 8080 }] },
    { name: 'b', id: dup.b, scheme: 'cri-o', ports: [{ containerPort: 8080, protocol: 'TCP' }] },
  ]));

  // dead: systemd driver on the v2 unified hierarchy, Guaranteed QoS, docker ids; 8080/TCP
  // declared but not bound (warn); 5353/UDP bound; a fresh container's port is still in grace.
  const dead = { uid: randomUUID(), sandbox: cid(), dns: cid(), fresh: cid() };
  const deadBase = `kubepods.slice/kubepods-pod${dead.uid.replace(/-/g, '_')}.slice`;
  await cg.start('unified', `${deadBase}/docker-${dead.sandbox}.scope`, nsC);
  await cg.start('unified', `${deadBase}/docker-${dead.dns}.scope`, nsC, { udp: [5353] });
  await cg.start('unified', `${deadBase}/docker-${dead.fresh}.scope`, nsC);
  pods.push(pod('dead', dead.uid, node, [
    { name: 'dns', id: dead.dns, scheme: 'docker', ports: [{ containerPort: 8080 }, { containerPort: 5353, protocol: 'UDP' }] },
    { name: 'fresh', id: dead.fresh, scheme: 'docker', ports: [{ containerPort: 7070 }], startedAgo: 30 },
  ]));

  // host: hostNetwork, Guaranteed, cgroupfs: its container runs in the lab node's namespace.
  const host = { uid: randomUUID(), agent: cid() };
  await cg.start('pids', `kubepods/pod${host.uid}/${host.agent}`, lab.netns, { tcp: [9100] });
  pods.push(pod('host', host.uid, node, [{ name: 'exporter', id: host.agent, scheme: 'containerd', ports: [{ containerPort: 9100 }] }], { hostNetwork: true }));

  // Not judged: a Pending pod (its process is elsewhere on purpose) and a pod of another node.
  const pending = { uid: randomUUID(), c: cid() };
  await cg.start('pids', `kubepods/burstable/pod${pending.uid}/${pending.c}`, nsA);
  pods.push(pod('pending', pending.uid, node, [{ name: 'c', id: pending.c, scheme: 'containerd', ports: [{ containerPort: 1 }] }], { phase: 'Pending' }));
  pods.push(pod('elsewhere', randomUUID(), 'another-node', [{ name: 'c', id: cid(), scheme: 'containerd', ports: [{ containerPort: 1 }, { containerPort: 1 }] }]));

  const clusterFile = join(dir, 'cluster.json');
  writeFileSync(clusterFile, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: pods }));
  const r = await runProgram('agent', ['scan', '--netns', lab.netns, '--node', node, '--cluster', clusterFile, '--proc-root', '/proc', '--format', 'json', '--fail-on', 'none']);
  t.is(r.code, 0, r.stderr);
  const result = JSON.parse(r.stdout) as { findings: Finding[]; checks: { id: string; status: string; passed: number; failed: number; warned: number }[] };
  const nsOf = (pid: number): string => `net:[${cg.netnsInode(pid)}]`;
  const inodeOfNs = (ns: string): string => `net:[${statSync(`/run/netns/${ns}`).ino}]`;
  // The dead port's age is the scan's "now" minus the container's start: read it back, bound it.
  const deadWarn = result.findings.find((f) => f.check === 'pod-netns.port-conflict' && f.status === 'warn')!;
  const age = deadWarn.evidence!['runningSeconds'] as number;
  t.true(age >= 600 && age < 700, `running ${age} s`);

  t.deepEqual(podNetns(result.findings), [
    { check: 'pod-netns.shared', status: 'pass', severity: 'info', subject: 'shop/dead', message: `all 2 containers (dns, fresh) run in the pod's network namespace ${inodeOfNs(nsC)}, the sandbox's` },
    { check: 'pod-netns.shared', status: 'pass', severity: 'info', subject: 'shop/dup', message: `all 2 containers (a, b) run in the pod's network namespace ${inodeOfNs(nsD)}, the sandbox's` },
    { check: 'pod-netns.shared', status: 'pass', severity: 'info', subject: 'shop/host', message: "its container (exporter) runs in the node's network namespace" },
    { check: 'pod-netns.shared', status: 'fail', severity: 'high', subject: 'shop/moved', message: `container stray is in ${nsOf(strayPid)} (pid ${strayPid}), not in the pod's network namespace ${inodeOfNs(nsB)}: it cannot reach its sibling containers on localhost nor be reached on the pod IP` },
    { check: 'pod-netns.shared', status: 'pass', severity: 'info', subject: 'shop/web', message: `all 2 containers (metrics, app) run in the pod's network namespace ${inodeOfNs(nsA)}, the sandbox's` },
    { check: 'pod-netns.port-conflict', status: 'warn', severity: 'low', subject: 'shop/dead', message: `container dns declares containerPort 8080/TCP but nothing in the pod's network namespace ${inodeOfNs(nsC)} listens on it, ${age} s after it started` },
    { check: 'pod-netns.port-conflict', status: 'fail', severity: 'medium', subject: 'shop/dup', message: "containers a and b both declare containerPort 8080/TCP; in the pod's shared network namespace only one of them can bind it" },
    { check: 'pod-netns.port-conflict', status: 'pass', severity: 'info', subject: 'shop/host', message: '1 declared port, none declared twice, each listened on' },
    { check: 'pod-netns.port-conflict', status: 'pass', severity: 'info', subject: 'shop/moved', message: 'no container declares a port' },
    { check: 'pod-netns.port-conflict', status: 'pass', severity: 'info', subject: 'shop/web', message: '2 declared ports, none declared twice, each listened on' },
  ]);
  const summary = (id: string) => result.checks.find((c) => c.id === id);
  t.like(summary('pod-netns.shared'), { status: 'fail', passed: 4, failed: 1, warned: 0 });
  t.like(summary('pod-netns.port-conflict'), { status: 'fail', passed: 3, failed: 1, warned: 1 });
  const moved2 = result.findings.find((f) => f.check === 'pod-netns.shared' && f.subject === 'shop/moved')!;
  t.like(moved2.evidence, { hostNetwork: false, podNetns: inodeOfNs(nsB), netnsFrom: 'sandbox', sandbox: moved.sandbox, elsewhere: [{ container: 'stray', netns: [nsOf(strayPid)], pids: [strayPid] }] });
});

// --proc-root: a tree of real-shaped files — cgroup v2 lines in the systemd and cgroupfs
// shapes, kind's nested kubelet.slice, `ns/net` links as the kernel spells them, and
// net/tcp* files copied from the kernel's own while this test listens on a port.
test.serial('--proc-root tree: v2 and systemd shapes, a static pod, conmon and unreadable processes; bundle round trip', async (t) => {
  const net = await import('node:net');
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const port = (server.address() as { port: number }).port;
  const realNet = Object.fromEntries(['tcp', 'tcp6', 'udp', 'udp6'].map((f) => [f, readFileSync(`/proc/self/net/${f}`, 'utf8')]));
  const { parseProcNetSockets } = await import('../agent/inspect/proc-net-sockets.js');
  const listened = new Set(parseProcNetSockets(realNet['tcp']!, 'TCP', 4, 'tcp').map((s) => s.port));
  t.true(listened.has(port));
  let dead = 40000;
  while (listened.has(dead)) dead++;

  const root = mkdtempSync(join(tmpdir(), 'nctest-procroot-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const proc = (pid: string, cgroup: string, netns: number | undefined, withNet = true): void => {
    mkdirSync(join(root, pid, 'ns'), { recursive: true });
    writeFileSync(join(root, pid, 'cgroup'), cgroup);
    if (netns !== undefined) symlinkSync(`net:[${netns}]`, join(root, pid, 'ns', 'net'));
    if (withNet) {
      mkdirSync(join(root, pid, 'net'));
      for (const [f, text] of Object.entries(realNet)) writeFileSync(join(root, pid, 'net', f), text);
    }
  };
  const HOST = 4026531840, PODNS = 4026532001, STATICNS = 4026532002, KINDNS = 4026532003;
  proc('self', '0::/\n', HOST);
  proc('1', '0::/init.scope\n', HOST, false);
  const api = { uid: randomUUID(), sandbox: cid(), app: cid() };
  const apiSlice = `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${api.uid.replace(/-/g, '_')}.slice`;
  proc('101', `0::${apiSlice}/crio-${api.sandbox}.scope\n`, PODNS);
  proc('102', `0::${apiSlice}/crio-${api.app}.scope\n`, PODNS, false);
  proc('103', `0::${apiSlice}/crio-conmon-${api.app}.scope\n`, HOST, false); // CRI-O's monitor: not the container
  const staticHash = randomBytes(16).toString('hex');
  const st = { sandbox: cid(), etcd: cid(), sidecar: cid() };
  proc('201', `0::/kubepods/besteffort/pod${staticHash}/${st.sandbox}\n`, STATICNS);
  proc('202', `0::/kubepods/besteffort/pod${staticHash}/${st.etcd}\n`, STATICNS, false);
  proc('203', `0::/kubepods/besteffort/pod${staticHash}/${st.sidecar}\n`, undefined, false); // ns/net unreadable
  const kind = { uid: randomUUID(), sandbox: cid(), c: cid() };
  const kindSlice = `/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod${kind.uid.replace(/-/g, '_')}.slice`;
  proc('301', `0::${kindSlice}/cri-containerd-${kind.sandbox}.scope\n`, KINDNS);
  proc('302', `0::${kindSlice}/cri-containerd-${kind.c}.scope\n`, HOST, false); // outside its pod's namespace

  const { readPodProcesses } = await import('../agent/inspect/pod-processes.js');
  const facts = readPodProcesses(root);
  t.is(facts.hostNetns, HOST);
  t.is(facts.unreadableNetns, 1);
  t.deepEqual(facts.containers.map((c) => [c.podUID, c.containerID, c.driver, c.runtime, c.processes.map((p) => p.pid)]).sort(), [
    [api.uid, api.app, 'systemd', 'crio', [102]],
    [api.uid, api.sandbox, 'systemd', 'crio', [101]],
    [staticHash, st.etcd, 'cgroupfs', '', [202]],
    [staticHash, st.sandbox, 'cgroupfs', '', [201]],
    [staticHash, st.sidecar, 'cgroupfs', '', [203]],
    [kind.uid, kind.c, 'systemd', 'cri-containerd', [302]],
    [kind.uid, kind.sandbox, 'systemd', 'cri-containerd', [301]],
  ].sort());
  t.deepEqual(facts.netns.map((n) => [n.inode, n.readVia]), [[HOST, 0], [PODNS, 101], [STATICNS, 201], [KINDNS, 301]]);
  t.true(facts.netns[1]!.listening.some((s) => s.protocol === 'TCP' && s.family === 4 && s.address === '127.0.0.1' && s.port === port));

  const node = 'node-a';
  const mirror = pod('etcd-node-a', randomUUID(), node, [
    { name: 'backup', id: st.sidecar, scheme: 'containerd', sidecar: true },
    { name: 'etcd', id: st.etcd, scheme: 'containerd', ports: [{ containerPort: port }] },
  ]);
  ((mirror['metadata'] as Obj)['annotations'] = { 'kubernetes.io/config.mirror': staticHash });
  const cluster = [
    pod('api', api.uid, node, [{ name: 'app', id: api.app, scheme: 'cri-o', ports: [{ containerPort: port }, { containerPort: dead }] }]),
    mirror,
    pod('kind', kind.uid, node, [{ name: 'c', id: kind.c, scheme: 'containerd' }]),
  ];
  const dir = mkdtempSync(join(tmpdir(), 'nctest-podsbundle-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const clusterFile = join(dir, 'cluster.yaml');
  writeFileSync(clusterFile, JSON.stringify({ kind: 'PodList', apiVersion: 'v1', items: cluster }));
  const { writeBundle } = await import('../agent/inspect/bundle.js');
  // "now" is the snapshot's capture time: exactly 600.5 s after the api container started.
  const apiStarted = ((((cluster[0]!['status'] as Obj)['containerStatuses'] as Obj[])[0]!['state'] as Obj)['running'] as Obj)['startedAt'] as string;
  const capturedAt = new Date(Date.parse(apiStarted) + 600_500).toISOString();
  t.true(writeBundle(join(dir, 'b'), { node, capturedAt, source: 'live', pods: facts }).includes('pods.json'));
  const r = await runProgram('agent', ['scan', '--from', join(dir, 'b'), '--cluster', clusterFile, '--format', 'json', '--fail-on', 'none']);
  t.is(r.code, 0, r.stderr);
  const findings = (JSON.parse(r.stdout) as { findings: Finding[] }).findings;
  t.deepEqual(podNetns(findings), [
    { check: 'pod-netns.shared', status: 'pass', severity: 'info', subject: 'shop/api', message: `its container (app) runs in the pod's network namespace net:[${PODNS}], the sandbox's` },
    { check: 'pod-netns.shared', status: 'pass', severity: 'info', subject: 'shop/etcd-node-a', message: `its container (etcd) runs in the pod's network namespace net:[${STATICNS}], the sandbox's` },
    { check: 'pod-netns.shared', status: 'fail', severity: 'high', subject: 'shop/kind', message: `container c is in net:[${HOST}] (pid 302), not in the pod's network namespace net:[${KINDNS}]: it cannot reach its sibling containers on localhost nor be reached on the pod IP` },
    { check: 'pod-netns.port-conflict', status: 'warn', severity: 'low', subject: 'shop/api', message: `container app declares containerPort ${dead}/TCP but nothing in the pod's network namespace net:[${PODNS}] listens on it, 600 s after it started` },
    { check: 'pod-netns.port-conflict', status: 'pass', severity: 'info', subject: 'shop/etcd-node-a', message: '1 declared port, none declared twice, each listened on' },
    { check: 'pod-netns.port-conflict', status: 'pass', severity: 'info', subject: 'shop/kind', message: 'no container declares a port' },
  ]);
  t.deepEqual(findings.find((f) => f.subject === 'shop/etcd-node-a' && f.check === 'pod-netns.shared')!.evidence!['unreadable'], ['backup']);

  // Without the file's Pods the checks skip and say why; a broken pods.json names its field.
  const noPods = join(dir, 'nopods.yaml');
  writeFileSync(noPods, 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n');
  const r2 = await runProgram('agent', ['scan', '--from', join(dir, 'b'), '--cluster', noPods, '--format', 'json', '--fail-on', 'none']);
  t.deepEqual(podNetns((JSON.parse(r2.stdout) as { findings: Finding[] }).findings).map((f) => [f.check, f.status, f.message]), [
    ['pod-netns.shared', 'skip', 'no Running pod on node-a to judge (0 pods of this node in the cluster context)'],
    ['pod-netns.port-conflict', 'skip', 'no Running pod on node-a to judge (0 pods of this node in the cluster context)'],
  ]);
  const bad = JSON.parse(readFileSync(join(dir, 'b', 'pods.json'), 'utf8')) as Obj;
  (bad['containers'] as Obj[])[1]!['processes'] = [{ pid: 'x', netns: 1 }];
  writeFileSync(join(dir, 'b', 'pods.json'), JSON.stringify(bad));
  const r3 = await runProgram('agent', ['scan', '--from', join(dir, 'b')]);
  t.is(r3.code, 2);
  t.regex(r3.stderr, /pods\.json.*field containers\[1\]\.processes\[0\]\.pid: expected an integer/);
});

test('cgroup paths: every kubelet shape and prefix is read, look-alikes are not', async (t) => {
  const { parseKubepodsPath, parseProcCgroup } = await import('../agent/inspect/kubepods-cgroup.js');
  const id = 'c'.repeat(64);
  const uid = '2c1f7b3e-0d4a-4e8b-9f6a-1b2c3d4e5f60';
  const u_ = uid.replace(/-/g, '_');
  const ok = (path: string, driver: string, runtime: string, podUID = uid): void => void
    t.deepEqual(parseKubepodsPath(path), { podUID, containerID: id, driver, runtime }, path);
  ok(`/kubepods/burstable/pod${uid}/${id}`, 'cgroupfs', '');
  ok(`/kubepods/pod${uid}/${id}`, 'cgroupfs', '');
  ok(`/kubepods/besteffort/pod${uid}/crio-${id}`, 'cgroupfs', 'crio');
  ok(`/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${u_}.slice/cri-containerd-${id}.scope`, 'systemd', 'cri-containerd');
  ok(`/kubepods.slice/kubepods-pod${u_}.slice/docker-${id}.scope`, 'systemd', 'docker');
  ok(`/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod${u_}.slice/crio-${id}.scope`, 'systemd', 'crio');
  ok(`/nctest-1-ab/kubepods/burstable/pod${uid}/${id}`, 'cgroupfs', '');
  ok(`/kubepods/besteffort/pod${'d'.repeat(32)}/${id}`, 'cgroupfs', '', 'd'.repeat(32));
  for (const no of [
    `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${u_}.slice/crio-conmon-${id}.scope`,
    `/kubepods/burstable/pod${uid}`,
    `/system.slice/pod${uid}/${id}`,
    `/kubepods/burstable/pod${uid}/${id.slice(1)}`,
    '/user.slice/user-0.slice/session-1.scope',
  ]) t.is(parseKubepodsPath(no), undefined, no);
  // v1: the first hierarchy whose path names a container wins; v2: the one line.
  t.is(parseProcCgroup(`12:pids:/user.slice\n4:memory:/kubepods/pod${uid}/${id}\n0::/\n`)?.containerID, id);
  t.is(parseProcCgroup(`0::/kubepods/pod${uid}/${id}\n`)?.driver, 'cgroupfs');
});

test('socket tables: LISTEN and unconnected UDP only, addresses in network order, v6 compressed', async (t) => {
  const { parseProcNetSockets } = await import('../agent/inspect/proc-net-sockets.js');
  const net = await import('node:net');
  const dgram = await import('node:dgram');
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '::1', r));
  const udp = dgram.createSocket('udp4');
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', r));
  t.teardown(() => { server.close(); udp.close(); });
  const tcpPort = (server.address() as { port: number }).port;
  const udpPort = udp.address().port;
  const tcp6 = parseProcNetSockets(readFileSync('/proc/self/net/tcp6', 'utf8'), 'TCP', 6, 'tcp6');
  t.deepEqual(tcp6.filter((s) => s.port === tcpPort), [{ protocol: 'TCP', family: 6, address: '::1', port: tcpPort }]);
  const udp4 = parseProcNetSockets(readFileSync('/proc/self/net/udp', 'utf8'), 'UDP', 4, 'udp');
  t.deepEqual(udp4.filter((s) => s.port === udpPort), [{ protocol: 'UDP', family: 4, address: '127.0.0.1', port: udpPort }]);
  // An established socket (state 01) is not listening; a broken line names file and line.
  const header = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';
  t.deepEqual(parseProcNetSockets(`${header}   0: 0100007F:1F90 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 1 1\n`, 'TCP', 4, 'tcp'), []);
  t.throws(() => parseProcNetSockets(`${header}   0: 0100007F\n`, 'TCP', 4, '/x/net/tcp'), { message: /\/x\/net\/tcp:2/ });
});
