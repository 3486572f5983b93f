// The demo: a lab node on this machine's kernel, a collector and an agent on loopback, and
// what netconform proves, one finding each — principle 1 (containers share the pod's network
// namespace: a pod that does, one that does not), principle 2 (pod to pod without NAT: a
// node that keeps the source, a masquerade rule that does not), principle 3 (a Service with a
// stale endpoint) and Pod Security (a namespace whose labels break the seed's practice, a
// violating pod recorded from the API server's audit event). Everything stays running until
// Ctrl-C cleans it up.
//
// The cluster context is one file (the demo's "API server"): the agent and the collector read
// it with --cluster, and the audit event is posted to the collector's webhook as kube-apiserver
// posts it. With a real control plane the same steps read --kubeconfig instead.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLabNode, cleanupStaleLabs, type LabNode } from '../test/lab/lab.js';
import { renderClusterJson, renderIptables, smallCluster, type ClusterDesc } from '../agent/dataplane/testing/generate.js';
import { startDemoPods, type DemoPods } from './pod-processes.js';
import { admitThroughApiServer, demoNamespaces, podCreateAuditEvents, violatingPod } from './pod-security.js';
import { ControlPlane } from '../test/lab/control-plane.js';
import { builtK8sBinDir } from '../test/lab/k8s-bins.js';

/** A third node whose pod CIDR (10.244.4.0/24) lies outside the masquerade rule's exception. */
const NODE_C = { name: 'node-c', ip: '192.168.50.4', podCIDR: '10.244.4.0/24' } as const;
/**
 * Principle 2's fault: a masquerade rule (as ip-masq-agent writes one) whose exception
 * 10.244.0.0/22 is narrower than the cluster CIDR 10.244.0.0/16, so pods on node-c see this
 * node's address instead of the sender's.
 */
const MASQUERADE_RULE = ['-t', 'nat', '-A', 'POSTROUTING', '-s', '10.244.1.0/24', '!', '-d', '10.244.0.0/22',
  '-m', 'comment', '--comment', 'masquerade all but 10.244.0.0/22', '-j', 'MASQUERADE'];

const dist = fileURLToPath(new URL('..', import.meta.url));
const bin = (name: string): string => `${dist}${name}/main.js`;

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

async function pickPort(preferred: number): Promise<number> {
  if (await portFree(preferred)) return preferred;
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin('cli'), ...args, '--insecure'], (error, out, err) => resolve({ code: error ? Number(error.code ?? 1) : 0, out, err }));
  });
}

function agent(args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bin('agent'), ...args], { maxBuffer: 64 * 1024 * 1024 }, (error, out, err) => resolve({ code: error ? Number(error.code ?? 1) : 0, out, err }));
  });
}

const say = (line: string): void => {
  process.stdout.write(line + '\n');
};

interface DemoFinding {
  readonly check: string;
  readonly status: string;
  readonly subject: string;
  readonly message: string;
}

/** One principle's results, passes and failures, one line each. */
function principle(title: string, findings: readonly DemoFinding[], pick: (f: DemoFinding) => boolean): void {
  say('');
  say(`── ${title}`);
  const shown = findings.filter(pick);
  if (shown.length === 0) say('  (no result)');
  const width = Math.max(...shown.map((f) => f.subject.length));
  for (const f of shown) say(`  ${f.status.toUpperCase().padEnd(4)}  ${f.check}  ${f.subject.padEnd(width)}  ${f.message}`);
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    say('The demo builds network namespaces and needs root: run it as root.');
    process.exit(2);
  }
  await cleanupStaleLabs();
  say('netconform demo — building a lab node (network namespaces on this kernel) …');
  // A small cluster as the API server would describe it, and a node whose kube-proxy rules
  // are almost right: shop/web still routes to a pod that was deleted (a stale endpoint).
  const work = mkdtempSync(join(tmpdir(), 'netconform-demo-'));
  // Also on an exit no handler saw coming (an uncaught error): never leave the directory.
  process.on('exit', () => rmSync(work, { recursive: true, force: true }));
  const base = smallCluster('pending');
  const probe: ClusterDesc = { ...base, otherNodes: [...(base.otherNodes ?? []), NODE_C] };
  const lab: LabNode = await createLabNode({
    pods: 3, podCIDR: probe.podCIDR, uplinkAddress: `${probe.nodeIP}/24`,
    routes: (probe.otherNodes ?? []).map((n) => `${n.podCIDR} via ${n.ip} dev eth0`),
  });
  const desc: ClusterDesc = { ...smallCluster(lab.nodeName), otherNodes: probe.otherNodes ?? [] };
  const programmed: ClusterDesc = {
    ...desc,
    services: desc.services.map((svc) => svc.name === 'web'
      ? { ...svc, endpoints: [...svc.endpoints, { ip: '10.244.2.99', node: 'node-b' }] }
      : svc),
  };
  await lab.exec('iptables-restore', ['-w'], renderIptables(programmed));
  await lab.exec('iptables', ['-w', ...MASQUERADE_RULE]);
  let pods: DemoPods | undefined;
  try {
    pods = await startDemoPods(lab);
  } catch (err) {
    await lab.destroy();
    throw err;
  }
  const clusterFile = join(work, 'cluster.json');
  const cluster = JSON.parse(renderClusterJson(desc)) as { items: unknown[] };
  writeFileSync(clusterFile, JSON.stringify({ ...cluster, items: [...cluster.items, ...demoNamespaces(), ...(pods?.objects ?? []), violatingPod('node-b')] }, null, 1));
  const cniConf = join(work, 'net.d');
  const cniBin = join(work, 'bin');
  mkdirSync(cniConf);
  mkdirSync(cniBin);
  writeFileSync(join(cniConf, '10-bridge.conflist'), JSON.stringify({
    cniVersion: '1.0.0', name: 'kubenet-like',
    plugins: [
      { type: 'bridge', bridge: 'cbr0', isGateway: true, ipMasq: false, hairpinMode: true,
        ipam: { type: 'host-local', ranges: [[{ subnet: desc.podCIDR, gateway: lab.gateway }]], routes: [{ dst: '0.0.0.0/0' }] } },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  }, null, 2));
  for (const plugin of ['bridge', 'host-local', 'loopback', 'portmap']) writeFileSync(join(cniBin, plugin), '');
  const children: ChildProcess[] = [];
  let controlPlane: ControlPlane | undefined;
  let cleaning = false;
  const cleanup = async (code: number): Promise<void> => {
    // A second Ctrl-C (a terminal signals the whole process group, npm forwards it too)
    // must not cut the cleanup short and leave the lab behind.
    if (cleaning) return;
    cleaning = true;
    say('\nstopping agent and collector, removing the lab node …');
    try {
      for (const c of children.reverse()) c.kill('SIGTERM');
      await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)))));
      await controlPlane?.stop();
      await pods?.destroy();
      await lab.destroy();
    } finally {
      // The work directory goes whatever happened above (a lab that would not delete included).
      rmSync(work, { recursive: true, force: true });
    }
    say('done: nothing left behind.');
    process.exit(code);
  };
  process.on('SIGINT', () => void cleanup(0));
  process.on('SIGTERM', () => void cleanup(0));

  try {
    const grpcPort = await pickPort(9443);
    const httpPort = await pickPort(8080);
    const auditPort = await pickPort(8443);
    const collectorAddr = `127.0.0.1:${grpcPort}`;
    say(`  node ${lab.nodeName}: netns ${lab.netns}, bridge ${lab.bridge} ${lab.gateway}/${lab.podCIDR.split('/')[1]}, pods ${lab.pods.map((p) => p.ip).join(', ')}`);
    const logOpts = { stdio: ['ignore', 'ignore', 'inherit'] as ['ignore', 'ignore', 'inherit'] };
    const logLevel = process.env['NETCONFORM_LOG_LEVEL'] ?? 'warn';
    // The collector reads the cluster file for what it judges itself (namespace labels, the
    // what-if); each agent reads its own context. The demo runs plaintext on loopback,
    // explicitly (--insecure on every program, --audit-insecure on the webhook).
    children.push(spawn(process.execPath, [bin('collector'), '--insecure', '--grpc-listen', collectorAddr, '--http-listen', `127.0.0.1:${httpPort}`,
      '--cluster', clusterFile, '--audit-listen', `127.0.0.1:${auditPort}`, '--audit-insecure',
      '--db', join(work, 'netconform.db'), '--log-level', logLevel], logOpts));
    // Start the agent once the collector answers, so the demo's log stays quiet.
    const ready = Date.now() + 20_000;
    while ((await cli(['nodes', '--collector', collectorAddr])).code !== 0) {
      if (Date.now() > ready) throw new Error(`the collector did not start on ${collectorAddr}`);
      await new Promise((res) => setTimeout(res, 200));
    }
    children.push(spawn(process.execPath, [bin('agent'), 'run', '--insecure', '--collector', collectorAddr, '--netns', lab.netns, '--node', lab.nodeName, '--interval', '30s',
      '--cluster', clusterFile, '--service-cidr', '10.96.0.0/12', '--cluster-cidr', desc.clusterCIDR,
      '--cni-conf-dir', cniConf, '--cni-bin-dir', cniBin, '--proc-root', '/proc', '--log-level', logLevel], logOpts));
    for (const c of children) c.once('exit', (code) => {
      if (!cleaning) {
        say(`a demo process exited unexpectedly (code ${code}); see the log above`);
        void cleanup(1);
      }
    });

    say(`  collector on ${collectorAddr} (audit webhook on 127.0.0.1:${auditPort}), agent scanning the lab node every 30s`);
    // With the real components built (scripts/k8s-bins.sh, as `npm test` does), the pod goes
    // through the real kube-apiserver and its audit webhook; otherwise the demo posts the event
    // its webhook would send.
    if (builtK8sBinDir()) {
      say('  starting the real etcd and kube-apiserver (built by scripts/k8s-bins.sh) …');
      controlPlane = await ControlPlane.start({ auditWebhook: { url: `http://127.0.0.1:${auditPort}/audit/webhook`, mode: 'blocking' } });
      await admitThroughApiServer(controlPlane, 'node-b');
      say(`  kube-apiserver ready in ${controlPlane.startupSeconds.toFixed(0)} s; payments/report-5d8f7 created through real admission (baseline admitted it; the restricted audit level recorded it)`);
    } else {
      const audit = await fetch(`http://127.0.0.1:${auditPort}/audit/webhook`, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: podCreateAuditEvents(violatingPod('node-b')),
      });
      if (audit.status !== 200) throw new Error(`the audit webhook answered ${audit.status}: ${await audit.text()}`);
      say('  audit event posted as kube-apiserver would: payments/report-5d8f7 created (baseline admitted it; restricted would not)');
    }
    say('waiting for the first report …');
    const deadline = Date.now() + 60_000;
    for (;;) {
      const r = await cli(['nodes', '--collector', collectorAddr, '--output', 'json']);
      // The agent has its cluster context from the start: its first report judges the Services.
      if (r.code === 0 && (JSON.parse(r.out) as { nodes: Array<{ proxyMode: string; lastSequence: number }> }).nodes.some((n) => n.lastSequence >= 1)) break;
      if (Date.now() > deadline) throw new Error('no report from the agent within 60 s');
      await new Promise((res) => setTimeout(res, 300));
    }
    const show = async (title: string, args: string[]): Promise<void> => {
      say('');
      say(`── ${title}`);
      say(`$ netconform ${args.join(' ')}`);
      const r = await cli(args);
      process.stdout.write(r.out || r.err);
    };
    // The collector keeps what fails; a one-shot scan of the same node also shows what passes.
    const scanArgs = ['scan', '--netns', lab.netns, '--node', lab.nodeName, '--cluster', clusterFile, '--cni-conf-dir', cniConf, '--cni-bin-dir', cniBin,
      '--service-cidr', '10.96.0.0/12', '--cluster-cidr', desc.clusterCIDR, '--format', 'json', '--fail-on', 'none'];
    const scan = await agent(scanArgs);
    if (scan.code !== 0) throw new Error(`scan failed: ${scan.err}`);
    const findings = (JSON.parse(scan.out) as { findings: DemoFinding[] }).findings;
    say('');
    say(`$ netconform-agent scan --netns ${lab.netns} --cluster cluster.json --format json …   (one scan of the same node, passes included)`);
    if (!pods) say('\n(principle 1 is not shown: this machine mounts no cgroup hierarchy the lab can use)');
    principle('1. Containers of a pod share one network namespace', findings, (f) => f.check === 'pod-netns.shared');
    principle('2. Pods reach pods without NAT', findings, (f) => f.check === 'no-nat.pod-to-pod');
    principle('3. Services route to exactly their ready endpoints', findings, (f) => f.check === 'service-routing.clusterip' && (f.status !== 'pass' || f.subject === 'kube-system/dns:53/UDP'));
    const at = ['--collector', collectorAddr];
    await show('the collector, continuously: nodes and what fails', ['nodes', ...at]);
    say(`$ netconform findings --status fail --collector ${collectorAddr}`);
    process.stdout.write((await cli(['findings', '--status', 'fail', ...at])).out);
    await show('Pod Security: namespace labels against the seed\'s practice', ['psa', 'namespaces', ...at]);
    await show('Pod Security: what the API server\'s audit events recorded', ['psa', ...at]);
    say('');
    say(`every finding:  node dist/cli/main.js findings --insecure --collector ${collectorAddr}`);
    say(`metrics:        http://127.0.0.1:${httpPort}/metrics`);
    say(`one-shot scan:  node dist/agent/main.js scan --netns ${lab.netns} --node ${lab.nodeName} --cluster ${clusterFile} --cni-conf-dir ${cniConf} --cni-bin-dir ${cniBin}`);
    say(`trace:          node dist/agent/main.js trace --netns ${lab.netns} --src 10.244.1.10 --dst 10.96.0.10:80`);
    say('Running. Press Ctrl-C to stop and clean up.');
  } catch (err) {
    say(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
    await cleanup(1);
  }
}

void main();
