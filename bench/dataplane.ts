// Dataplane benchmark: a cluster of 10,000 Services and 100,000 endpoints, its kube-proxy
// iptables rules loaded into a lab namespace; times the bare `iptables-save` against a full
// `netconform-agent scan --netns` of that namespace (which does its own rule read), and
// reports the scan's peak RSS. Goal: scan ≤ 2× iptables-save, peak RSS ≤ 300 MB.
// Then the same for nftables mode (newer dnat-map layout) unless --no-nft.
//   npx tsx bench/dataplane.ts [--services N] [--per-service K] [--no-nft]
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { largeCluster, renderClusterJson, renderIptables, renderNft } from '../agent/dataplane/testing/generate.js';
import { systemTool } from '../agent/inspect/dataplane.js';
import { createLabNode, type LabNode } from '../test/lab/lab.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const arg = (name: string, d: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : d;
};
const SERVICES = arg('services', 10_000);
const PER = arg('per-service', 10);

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

async function median(n: number, f: () => Promise<number>): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < n; i++) xs.push(await f());
  xs.sort((a, b) => a - b);
  return xs[Math.floor(n / 2)]!;
}

async function benchMode(name: string, lab: LabNode, clusterFile: string, bare: readonly string[]): Promise<void> {
  const save = await median(3, async () => {
    const r = await timed('ip', ['netns', 'exec', lab.netns, ...bare]);
    if (r.code !== 0) throw new Error(`${bare.join(' ')}: ${r.err}`);
    return r.ms;
  });
  const [node, ...agentArgs] = agentCommand();
  let rss = 0;
  let findings = 0;
  let failing = 0;
  const scan = await median(3, async () => {
    // GNU time's max RSS covers the scan and the snapshot process it runs inside the namespace.
    const r = await timed('/usr/bin/time', ['-f', 'MAXRSS_KB=%M', node!, ...agentArgs, 'scan', '--netns', lab.netns, '--node', lab.nodeName, '--cluster', clusterFile, '--format', 'json', '--fail-on', 'none']);
    if (r.code !== 0) throw new Error(`scan: ${r.err.slice(-2000)}`);
    const m = /MAXRSS_KB=(\d+)/.exec(r.err);
    rss = Math.max(rss, m ? Number(m[1]) * 1024 : 0);
    const out = JSON.parse(r.out) as { findings: { check: string; status: string }[] };
    const sr = out.findings.filter((f) => f.check.startsWith('service-routing.'));
    findings = sr.length;
    failing = sr.filter((f) => f.status !== 'pass').length;
    return r.ms;
  });
  const ratio = scan / save;
  console.log(`${name}:`);
  console.log(`  ${bare.join(' ')} (bare)     ${(save / 1000).toFixed(2)} s`);
  console.log(`  netconform-agent scan --netns     ${(scan / 1000).toFixed(2)} s   (${findings} service-routing results, ${failing} not passing)`);
  console.log(`  ratio scan / bare                 ${ratio.toFixed(2)}×  (goal ≤ 2×) ${ratio <= 2 ? 'OK' : 'OVER'}`);
  console.log(`  scan peak RSS                     ${(rss / 2 ** 20).toFixed(0)} MB  (goal ≤ 300 MB) ${rss <= 300 * 2 ** 20 ? 'OK' : 'OVER'}`);
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
