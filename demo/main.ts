// The demo: a lab node on this machine's kernel, a collector and an agent on loopback,
// the first findings printed, and everything left running until Ctrl-C cleans it up.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLabNode, cleanupStaleLabs, type LabNode } from '../test/lab/lab.js';
import { renderClusterJson, renderIptables, smallCluster, type ClusterDesc } from '../agent/dataplane/testing/generate.js';

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

const say = (line: string): void => {
  process.stdout.write(line + '\n');
};

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
  const probe = smallCluster('pending');
  const lab: LabNode = await createLabNode({
    pods: 3, podCIDR: probe.podCIDR, uplinkAddress: `${probe.nodeIP}/24`,
    routes: (probe.otherNodes ?? []).map((n) => `${n.podCIDR} via ${n.ip} dev eth0`),
  });
  const desc: ClusterDesc = smallCluster(lab.nodeName);
  const programmed: ClusterDesc = {
    ...desc,
    services: desc.services.map((svc) => svc.name === 'web'
      ? { ...svc, endpoints: [...svc.endpoints, { ip: '10.244.2.99', node: 'node-b' }] }
      : svc),
  };
  await lab.exec('iptables-restore', ['-w'], renderIptables(programmed));
  const clusterFile = join(work, 'cluster.json');
  writeFileSync(clusterFile, renderClusterJson(desc));
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
    const collectorAddr = `127.0.0.1:${grpcPort}`;
    say(`  node ${lab.nodeName}: netns ${lab.netns}, bridge ${lab.bridge} ${lab.gateway}/${lab.podCIDR.split('/')[1]}, pods ${lab.pods.map((p) => p.ip).join(', ')}`);
    const logOpts = { stdio: ['ignore', 'ignore', 'inherit'] as ['ignore', 'ignore', 'inherit'] };
    const logLevel = process.env['NETCONFORM_LOG_LEVEL'] ?? 'warn';
    // The collector needs no cluster context for agents (each agent has its own); without
    // an API server here, the agent reads the cluster file itself. The demo runs plaintext
    // on loopback, explicitly (--insecure on every program).
    children.push(spawn(process.execPath, [bin('collector'), '--insecure', '--grpc-listen', collectorAddr, '--http-listen', `127.0.0.1:${httpPort}`,
      '--no-kube', '--db', join(work, 'netconform.db'), '--log-level', logLevel], logOpts));
    // Start the agent once the collector answers, so the demo's log stays quiet.
    const ready = Date.now() + 20_000;
    while ((await cli(['nodes', '--collector', collectorAddr])).code !== 0) {
      if (Date.now() > ready) throw new Error(`the collector did not start on ${collectorAddr}`);
      await new Promise((res) => setTimeout(res, 200));
    }
    children.push(spawn(process.execPath, [bin('agent'), 'run', '--insecure', '--collector', collectorAddr, '--netns', lab.netns, '--node', lab.nodeName, '--interval', '30s',
      '--cluster', clusterFile, '--service-cidr', '10.96.0.0/12', '--cluster-cidr', desc.clusterCIDR,
      '--cni-conf-dir', cniConf, '--cni-bin-dir', cniBin, '--log-level', logLevel], logOpts));
    for (const c of children) c.once('exit', (code) => {
      if (!cleaning) {
        say(`a demo process exited unexpectedly (code ${code}); see the log above`);
        void cleanup(1);
      }
    });

    say(`  collector on ${collectorAddr}, agent scanning the lab node every 30s`);
    say('waiting for the first report …');
    const deadline = Date.now() + 60_000;
    for (;;) {
      const r = await cli(['nodes', '--collector', collectorAddr, '--output', 'json']);
      // The agent has its cluster context from the start: its first report judges the Services.
      if (r.code === 0 && (JSON.parse(r.out) as { nodes: Array<{ proxyMode: string; lastSequence: number }> }).nodes.some((n) => n.lastSequence >= 1)) break;
      if (Date.now() > deadline) throw new Error('no report from the agent within 60 s');
      await new Promise((res) => setTimeout(res, 300));
    }
    say('');
    say(`$ netconform nodes --collector ${collectorAddr}`);
    process.stdout.write((await cli(['nodes', '--collector', collectorAddr])).out);
    say('');
    say(`$ netconform findings --collector ${collectorAddr}`);
    process.stdout.write((await cli(['findings', '--collector', collectorAddr])).out);
    say('');
    say(`metrics:  http://127.0.0.1:${httpPort}/metrics`);
    say(`queries:  node dist/cli/main.js findings --insecure --collector ${collectorAddr}`);
    say(`one-shot: node dist/agent/main.js scan --netns ${lab.netns} --node ${lab.nodeName} --cluster ${clusterFile} --cni-conf-dir ${cniConf} --cni-bin-dir ${cniBin}`);
    say(`trace:    node dist/agent/main.js trace --netns ${lab.netns} --src 10.244.1.10 --dst 10.96.0.10:80`);
    say('Running. Press Ctrl-C to stop and clean up.');
  } catch (err) {
    say(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
    await cleanup(1);
  }
}

void main();
