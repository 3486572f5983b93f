// Dataplane benchmark: a cluster of 10,000 Services and 100,000 endpoints, its kube-proxy
// iptables rules loaded into a lab namespace; times the bare `iptables-save` against a full
// `netconform-agent scan` run inside that namespace (`ip netns exec NS node … scan`: the
// production path, where the DaemonSet agent shares the node's network namespace and does
// its own rule read), and reports the scan's peak RSS and the load average at the time.
// Goal (issue 11): scan ≤ 1.5× the bare dump tool, agent peak RSS ≤ 300 MB, both modes. A secondary line times `scan --netns NS`
// (the lab path: a snapshot child inside the namespace, read back as JSON). Then the same for
// nftables mode (newer dnat-map layout) unless --no-nft. Medians of --runs (default 3).
//   npx tsx bench/dataplane.ts [--services N] [--per-service K] [--runs R] [--no-nft]
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { largeCluster, renderClusterJson, renderIptables, renderNft } from '../agent/dataplane/testing/generate.js';
import { systemTool } from '../agent/inspect/dataplane.js';
import { fastPathDifference } from '../agent/dataplane/testing/fast-path.js';
import { createLabNode, type LabNode } from '../test/lab/lab.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const arg = (name: string, d: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : d;
};
const SERVICES = arg('services', 10_000);
const PER = arg('per-service', 10);
const RUNS = arg('runs', 3);
const loadAvg = (): string => loadavg().map((x) => x.toFixed(2)).join(' ');

function timed(cmd: string, args: readonly string[], input?: string): Promise<{ ms: number; out: string; err: string; code: number }> {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const child = execFile(cmd, args, { maxBuffer: 2 * 1024 * 1024 * 1024, cwd: root }, (err, stdout, stderr) => {
      resolve({ ms: Number(process.hrtime.bigint() - t0) / 1e6, out: stdout, err: stderr, code: err ? Number((err as { code?: unknown }).code ?? 1) : 0 });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

function agentCommand(): string[] {
  const dist = join(root, 'dist/agent/main.js');
  // The built agent when it is current (it holds the dataplane core), else from source via tsx.
  return existsSync(dist) && existsSync(join(root, 'dist/agent/dataplane/tracer.js')) ? [process.execPath, dist] : [process.execPath, '--import', 'tsx', join(root, 'agent/main.ts')];
}

interface ScanRun { ms: number; rss: number; agentRss: number; findings: number; failing: number }

/** One timed scan; GNU time's max RSS is that of the largest process it waited for (the agent). */
async function scanOnce(cmd: readonly string[]): Promise<ScanRun> {
  const r = await timed('/usr/bin/time', ['-f', 'MAXRSS_KB=%M', ...cmd]);
  if (r.code !== 0) throw new Error(`scan: ${r.err.slice(-2000)}`);
  const m = /^MAXRSS_KB=(\d+)/m.exec(r.err);
  const a = /AGENT_MAXRSS_KB=(\d+)/.exec(r.err);
  const out = JSON.parse(r.out) as { findings: { check: string; status: string }[] };
  const sr = out.findings.filter((f) => f.check.startsWith('service-routing.'));
  return { ms: r.ms, rss: m ? Number(m[1]) * 1024 : 0, agentRss: a ? Number(a[1]) * 1024 : 0, findings: sr.length, failing: sr.filter((f) => f.status !== 'pass').length };
}

const med = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function benchMode(name: string, lab: LabNode, clusterFile: string, bare: readonly string[]): Promise<void> {
  const [node, ...rest] = agentCommand();
  const agentArgs = ['--import', join(root, 'bench/agent-rss.mjs'), ...rest];
  const scanArgs = ['scan', '--node', lab.nodeName, '--cluster', clusterFile, '--format', 'json', '--fail-on', 'none'];
  // Interleaved, so a change in machine load affects both alike.
  const saves: number[] = [], inside: ScanRun[] = [], viaNetns: ScanRun[] = [];
  const loadBefore = loadAvg();
  for (let i = 0; i < RUNS; i++) {
    const r = await timed('ip', ['netns', 'exec', lab.netns, ...bare]);
    if (r.code !== 0) throw new Error(`${bare.join(' ')}: ${r.err}`);
    saves.push(r.ms);
    inside.push(await scanOnce(['ip', 'netns', 'exec', lab.netns, node!, ...agentArgs, ...scanArgs]));
  }
  for (let i = 0; i < RUNS; i++) viaNetns.push(await scanOnce([node!, ...agentArgs, ...scanArgs, '--netns', lab.netns]));
  const save = med(saves);
  const scan = med(inside.map((x) => x.ms));
  const rss = med(inside.map((x) => x.rss));
  const lab2 = med(viaNetns.map((x) => x.ms));
  const ratio = scan / save;
  const last = inside[inside.length - 1]!;
  console.log(`${name}:  (medians of ${RUNS}; load average ${loadBefore} before, ${loadAvg()} after)`);
  console.log(`  ${bare.join(' ')} (bare, in the namespace)   ${(save / 1000).toFixed(2)} s`);
  console.log(`  agent scan in the namespace (production path)   ${(scan / 1000).toFixed(2)} s   (${last.findings} service-routing results, ${last.failing} not passing)`);
  console.log(`  ratio scan / bare                               ${ratio.toFixed(2)}×  (goal ≤ 1.5×) ${ratio <= 1.5 ? 'OK' : 'OVER'}`);
  const own = med(inside.map((x) => x.agentRss));
  console.log(`  scan peak RSS, agent process                    ${(own / 2 ** 20).toFixed(0)} MB  (goal ≤ 300 MB) ${own <= 300 * 2 ** 20 ? 'OK' : 'OVER'}`);
  console.log(`  peak RSS of the agent or a tool it ran          ${(rss / 2 ** 20).toFixed(0)} MB  (the tools run while the agent reads: a container holds both)`);
  console.log(`  scan --netns (lab path, snapshot child + JSON)  ${(lab2 / 1000).toFixed(2)} s   (${(lab2 / save).toFixed(2)}×, peak RSS ${(med(viaNetns.map((x) => x.rss)) / 2 ** 20).toFixed(0)} MB)`);
}

/** The tokenizer-free reader of kube-proxy's rule shapes must build exactly what the general reader builds. */
function checkFastPath(text: string): void {
  const r = fastPathDifference(text);
  if (r.difference !== undefined) throw new Error(`fast path: ${r.difference}`);
  console.log(`fast rule reader agrees with the general reader on all ${r.rules} rules`);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'nc-bench-'));
  const labs: LabNode[] = [];
  try {
    const probe = await createLabNode({ pods: 0, bridge: null, uplinkAddress: '192.168.77.2/24' });
    labs.push(probe);
    const desc = largeCluster(probe.nodeName, '192.168.77.2', SERVICES, PER);
    const clusterFile = join(dir, 'cluster.json');
    writeFileSync(clusterFile, renderClusterJson(desc));
    console.log(`cluster: ${SERVICES} Services, ${SERVICES * PER} endpoints`);

    const rules = renderIptables(desc);
    const load = await timed('ip', ['netns', 'exec', probe.netns, 'iptables-restore', '-w'], rules);
    if (load.code !== 0) throw new Error(`iptables-restore: ${load.err}`);
    console.log(`iptables: ${rules.split('\n').length} restore lines, ${(rules.length / 2 ** 20).toFixed(1)} MB, loaded in ${(load.ms / 1000).toFixed(1)} s`);
    const saved = await timed('ip', ['netns', 'exec', probe.netns, 'iptables-save']);
    checkFastPath(saved.out);
    await benchMode('iptables mode (iptables-nft backend)', probe, clusterFile, ['iptables-save']);

    if (!process.argv.includes('--no-nft')) {
      const lab = await createLabNode({ pods: 0, bridge: null, uplinkAddress: '192.168.77.2/24' });
      labs.push(lab);
      const d2 = largeCluster(lab.nodeName, '192.168.77.2', SERVICES, PER);
      const f2 = join(dir, 'cluster-nft.json');
      writeFileSync(f2, renderClusterJson(d2));
      const script = renderNft(d2, { layout: 'dnat-map' });
      const l2 = await timed('ip', ['netns', 'exec', lab.netns, systemTool('nft'), '-f', '-'], script);
      if (l2.code !== 0) throw new Error(`nft -f: ${l2.err.slice(0, 500)}`);
      console.log(`nftables: ${script.split('\n').length} lines (dnat-map layout), loaded in ${(l2.ms / 1000).toFixed(1)} s`);
      await benchMode('nftables mode', lab, f2, [systemTool('nft'), '-j', 'list', 'ruleset']);
    }
  } finally {
    for (const l of labs) await l.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
