// A node tool that never answers (iptables-save waiting on the xtables lock, nft on a huge
// ruleset) is killed after --tool-timeout, with everything it started, and the checks that
// need its output report an `error` naming it; the agent keeps scanning and reporting.
//
// The stand-in: in a private mount namespace (unshare -m, propagation private: nothing is
// visible outside it and it vanishes with its processes), a script that blocks is bind-mounted
// over /usr/sbin/ipset and over xtables-nft-multi (iptables-nft-save, ip6tables-nft-save).
// The agent inspects a lab network namespace with --netns, so it reads no host rules.
import test from 'ava';
import { spawn } from 'node:child_process';
import { chmodSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, eventually, sample, scrape, startCollectorProcess } from './support/processes.js';
import { tempDir } from './support/tmp.js';
import { createLabNode } from './lab/lab.js';

const DATAPLANE_CHECKS = ['service-routing.mode', 'service-routing.clusterip', 'service-routing.nodeport', 'service-routing.stale-rules', 'no-nat.pod-to-pod'];

/** A script that records its pid and its child's, then waits forever (a forked helper included). */
function blockingTool(dir: string): { script: string; pids: () => number[] } {
  const pidFile = join(dir, 'pids');
  writeFileSync(pidFile, '');
  const script = join(dir, 'blocking-tool');
  writeFileSync(script, `#!/bin/sh\necho $$ >> ${pidFile}\nsleep 300 &\necho $! >> ${pidFile}\nwait\n`);
  chmodSync(script, 0o755);
  return { script, pids: () => readFileSync(pidFile, 'utf8').split('\n').filter(Boolean).map(Number) };
}

/** A cluster with this node and one Service, so the Service checks have something to judge. */
function clusterFile(dir: string, node: string): string {
  const file = join(dir, 'cluster.yaml');
  writeFileSync(file, [
    'apiVersion: v1', 'kind: List', 'items:',
    `- {apiVersion: v1, kind: Node, metadata: {name: ${node}}, spec: {podCIDR: 10.244.1.0/24}}`,
    '- {apiVersion: v1, kind: Service, metadata: {namespace: default, name: web}, spec: {clusterIP: 10.96.0.10, ports: [{port: 80}]}}', '',
  ].join('\n'));
  return file;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Runs the agent with the stand-in mounted over the tools, in its own mount namespace. */
function agentWithBlockedTools(script: string, args: readonly string[]): { done: Promise<{ code: number | null; stdout: string; stderr: string; ms: number }>; kill: () => void } {
  const targets = [realpathSync('/usr/sbin/ipset'), realpathSync('/usr/sbin/iptables-nft-save')];
  const mounts = targets.map((t) => `mount --bind ${script} ${t}`).join(' && ');
  const started = Date.now();
  const child = spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', `${mounts} && exec "$@"`, 'sh',
    process.execPath, '--import', 'tsx', `${ROOT}agent/main.ts`, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '', stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string; ms: number }>((resolve) => {
    child.on('close', (code) => resolve({ code, stdout, stderr, ms: Date.now() - started }));
  });
  return { done, kill: () => child.kill('SIGKILL') };
}

test('a blocking iptables-nft-save and ipset are killed after --tool-timeout and named in error findings', async (t) => {
  const lab = await createLabNode({ pods: 0, bridge: null });
  t.teardown(() => lab.destroy());
  const dir = tempDir(t, 'nc-tool-');
  const { script, pids } = blockingTool(dir);
  const agent = agentWithBlockedTools(script, ['scan', '--netns', lab.netns, '--node', lab.nodeName, '--cluster', clusterFile(dir, lab.nodeName),
    '--cni-conf-dir', '/nonexistent', '--tool-timeout', '2s', '--format', 'json']);
  t.teardown(agent.kill);
  const r = await agent.done;
  t.is(r.code, 1, r.stderr); // error findings fail the scan (--fail-on fail counts errors)
  t.true(r.ms < 30_000, `took ${r.ms} ms`);
  const out = JSON.parse(r.stdout) as { findings: { check: string; status: string; severity: string; message: string; evidence?: Record<string, unknown> }[] };
  const reason = 'did not answer within 2s (--tool-timeout); killed';
  for (const id of DATAPLANE_CHECKS) {
    t.deepEqual(out.findings.filter((f) => f.check === id), [{
      check: id, status: 'error', severity: 'high', subject: lab.nodeName,
      message: `cannot judge: iptables-nft-save, ip6tables-nft-save, ipset save: ${reason}`,
      evidence: { source: 'iptables-nft-save, ip6tables-nft-save, ipset save', reason },
    }] as never, id);
  }
  // The checks that do not need the rules still ran.
  t.is(out.findings.find((f) => f.check === 'pod-network.sysctl')?.status, 'pass');
  // Three stand-ins ran; each and the sleep it forked were killed with their process group.
  t.is(pids().length, 6);
  await eventually(() => (pids().every((p) => !alive(p)) ? true : undefined), 5_000, 'stand-in processes to be gone');
});

test('the agent keeps scanning and reporting while a tool blocks', async (t) => {
  const lab = await createLabNode({ pods: 0, bridge: null });
  t.teardown(() => lab.destroy());
  const dir = tempDir(t, 'nc-tool-');
  const cluster = clusterFile(dir, lab.nodeName);
  const collector = await startCollectorProcess(['--cluster', cluster]);
  t.teardown(() => collector.stop());
  const { script } = blockingTool(dir);
  // The agent takes its cluster context itself (the collector pushes none).
  const agent = agentWithBlockedTools(script, ['run', '--insecure', '--collector', collector.address, '--cluster', cluster, '--netns', lab.netns, '--node', lab.nodeName, '--cni-conf-dir', '/nonexistent', '--tool-timeout', '1s', '--interval', '1s']);
  t.teardown(agent.kill);
  const node = lab.nodeName;
  await eventually(async () => {
    const m = await scrape(collector.httpPort);
    return (sample(m, 'netconform_collector_reports_received_total') ?? 0) >= 2 ? m : undefined;
  }, 90_000, 'two reports'); // each scan waits out three blocked tools in turn; a loaded machine doubles that
  const m = await scrape(collector.httpPort);
  // netconform_check_status is the status's rank: 3 = error, 0 = pass.
  for (const check of DATAPLANE_CHECKS) t.is(sample(m, 'netconform_check_status', { node, check }), 3, check);
  t.is(sample(m, 'netconform_check_status', { node, check: 'pod-network.sysctl' }), 0);
});
