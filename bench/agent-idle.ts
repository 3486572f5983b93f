// The agent's memory between scans, as the DaemonSet runs it: `netconform-agent run` inside a
// lab node's network namespace holding kube-proxy's iptables rules for N Services (10
// endpoints each), listing and watching its cluster context from an API server (the test
// fake, with the same N Services and their EndpointSlices), reporting to a collector. Both
// servers live in this process on 127.0.0.1 and are relayed into the namespace (a program
// inside sees them at the same addresses). After the first report is acknowledged the
// agent's RSS is sampled once a second until just before its next scan; the figure is the
// median of those samples, next to its peak (VmHWM) and its heap at the last sample.
// Goal (issue 23): ≤ 80 MB between scans at 50 Services, ≤ 150 MB at 10,000.
//   npx tsx bench/agent-idle.ts [--services 50,1000,10000] [--agent dist/agent/main.js] [--interval 40s]
// The built agent (npm run build) is what a node runs; --agent points at another build.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { largeCluster, renderClusterJson, renderIptables } from '../agent/dataplane/testing/generate.js';
import { startCollector } from '../collector/collector.js';
import { createLogger } from '../common/log.js';
import { parseDuration } from '../common/duration.js';
import { createLabNode } from '../test/lab/lab.js';
import { FakeApiServer, type Obj } from '../test/kube/fake-apiserver.js';
import { relayIntoNetns } from '../test/support/netns-relay.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({ options: { services: { type: 'string' }, agent: { type: 'string' }, interval: { type: 'string' } } });
const COUNTS = (values.services ?? '50,1000,10000').split(',').map(Number);
const AGENT = resolve(values.agent ?? join(root, 'dist/agent/main.js'));
const INTERVAL_MS = parseDuration(values.interval ?? '40s', '--interval');
const load = (): string => loadavg().map((x) => x.toFixed(2)).join(' ');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const MB = 2 ** 20;

function status(pid: number): { rss: number; hwm: number; anon: number; file: number } {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string): number => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(text)?.[1] ?? 0) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM'), anon: kb('RssAnon'), file: kb('RssFile') };
}

async function run(n: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'nc-bench-idle-'));
  const lab = await createLabNode({ pods: 0, bridge: null, uplinkAddress: '192.168.77.2/24' });
  const desc = largeCluster(lab.nodeName, '192.168.77.2', n, 10);
  const api = await FakeApiServer.start();
  const collector = await startCollector({ grpcListen: '127.0.0.1:0', httpListen: '127.0.0.1:0', log: createLogger({ component: 'bench' }, 'silent'), nodeRetentionMs: 3_600_000 });
  const stops: (() => Promise<unknown>)[] = [() => collector.stop(), () => api.close(), () => lab.destroy()];
  try {
    await lab.exec('iptables-restore', ['-w'], renderIptables(desc));
    for (const o of (JSON.parse(renderClusterJson(desc)) as { items: Obj[] }).items) api.upsert(o);
    // As JSON (a kubeconfig may be either): the DaemonSet's agent reads no kubeconfig at all
    // (in-cluster access), so it never loads the YAML parser, and neither should this one.
    const kubeconfig = join(dir, 'kubeconfig.json');
    writeFileSync(kubeconfig, JSON.stringify(parseYaml(readFileSync(api.writeKubeconfig(join(dir, 'kubeconfig')), 'utf8'))));
    const relay = await relayIntoNetns(lab.netns, [Number(new URL(api.url).port), collector.grpcPort], dir);
    stops.unshift(() => relay.stop());
    const agent = spawn('ip', ['netns', 'exec', lab.netns, process.execPath, AGENT, 'run', '--node', lab.nodeName, '--collector', `127.0.0.1:${collector.grpcPort}`,
      '--insecure', '--kubeconfig', kubeconfig, '--interval', `${INTERVAL_MS / 1000}s`, '--log-level', 'info'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    agent.stderr!.on('data', (d: Buffer) => void (log = (log + d.toString()).slice(-20_000)));
    stops.unshift(async () => {
      agent.kill('SIGTERM');
      await Promise.race([new Promise((r) => agent.once('exit', r)), sleep(10_000).then(() => agent.kill('SIGKILL'))]);
    });
    const t0 = Date.now();
    while (!collector.registry.get(lab.nodeName)?.report) {
      if (agent.exitCode !== null) throw new Error(`agent exited ${agent.exitCode}: ${log.slice(-2000)}`);
      if (Date.now() - t0 > 300_000) throw new Error(`no report from the agent in 300 s: ${log.slice(-2000)}`);
      await sleep(200);
    }
    const firstMs = Date.now() - t0;
    const scanned = Number(/"msg":"scan complete".*?"durationMs":(\d+)/.exec(log)?.[1] ?? NaN);
    // Between scans: from the Ack until ~3 s before the next (jittered, ≥ 0.9 × interval) scan.
    const samples: number[] = [];
    const until = Date.now() + 0.9 * INTERVAL_MS - 3000;
    while (Date.now() < until) {
      samples.push(status(agent.pid!).rss);
      await sleep(1000);
    }
    const s = status(agent.pid!);
    const sorted = [...samples].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)]!;
    console.log(`${String(n).padStart(6)} Services: between scans RSS median ${(median / MB).toFixed(1)} MB (min ${(sorted[0]! / MB).toFixed(1)}, last ${(samples.at(-1)! / MB).toFixed(1)}, ${samples.length} samples), `
      + `peak ${(s.hwm / MB).toFixed(1)} MB; at the last sample ${(s.anon / MB).toFixed(1)} MB anonymous + ${(s.file / MB).toFixed(1)} MB file-backed (node's own code); first report ${(firstMs / 1000).toFixed(1)} s after start (scan ${(scanned / 1000).toFixed(1)} s); load ${load()}`);
    writeFileSync(join(dir, 'agent.log'), log);
  } finally {
    for (const stop of stops) await stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`agent between scans: ${AGENT}, interval ${INTERVAL_MS / 1000} s, load ${load()}`);
for (const n of COUNTS) await run(n);
process.exit(0);
