// Steady-state benchmark (issue #23 §1): what watching costs. For 1,000 and 10,000 Services
// (10 endpoints each) kube-proxy-shaped iptables rules are loaded into a lab namespace and
// `netconform-agent run` (built, from dist/) runs inside it — the production path: the
// DaemonSet agent shares the node's network namespace — streaming to a real collector in the
// same namespace. The agent's CPU (its own and that of the tools it ran and waited for, from
// /proc/<pid>/stat) is measured after its first report, over a window, for:
//   dump every interval  --reverify 0s: the rules dumped every 30 s (re-judged when they differ)
//   idle    nothing changes, the defaults (--interval 30s --reverify 10m); a window shorter
//           than 10 min holds no re-verification, so the hour's figure adds six re-verifying
//           dumps at the per-dump cost measured in the first scenario (--compress K instead
//           runs idle with interval and re-verification K× shorter; on a loaded machine a
//           10k dump outlasts the shortened period, so that undercounts there)
//   churn   one endpoint change every 10 s at the default 30 s interval and 10 m
//           re-verification: kube-proxy's partial restore of one Service's chain (its
//           endpoints reordered, so the verdicts stay pass with the fixed cluster file)
// and reported as CPU-seconds per hour and % of one core, with the agent's RSS, next to the
// bare dump's cost at one dump per 30 s. Goal: idle ≤ 1 % of a core at 10k (≤ 0.1 % at 1k),
// churn ≤ 5 % (0.5 %).
//   npx tsx bench/steady.ts [--services 1000,10000] [--per-service 10] [--minutes 2] [--compress 10] [--only idle,churn] [--agent DIST/agent/main.js]
// --agent runs another build (e.g. a copy of the previous commit's dist/, with proto/ and
// package.json next to it) for a before/after comparison on the same machine.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { largeCluster, renderClusterJson, renderIptables, type ClusterDesc } from '../agent/dataplane/testing/generate.js';
import { createLabNode, type LabNode } from '../test/lab/lab.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const argOf = (name: string, d: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : d;
};
const SIZES = argOf('services', '1000,10000').split(',').map(Number);
const PER = Number(argOf('per-service', '10'));
const MINUTES = Number(argOf('minutes', '2'));
const COMPRESS = Number(argOf('compress', '1'));
const AGENT = resolve(argOf('agent', join(root, 'dist/agent/main.js')));
const TICK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
const loadAvg = (): string => loadavg().map((x) => x.toFixed(2)).join(' ');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

if (!existsSync(join(root, 'dist/agent/steady-scan.js'))) throw new Error('dist/ is not current: npm run build (npm run bench does)');

function run(cmd: string, args: readonly string[], input?: string): Promise<{ out: string; err: string; code: number }> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { maxBuffer: 2 * 1024 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ out: stdout, err: stderr, code: err ? Number((err as { code?: unknown }).code ?? 1) : 0 });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** CPU seconds of a process: its own, and its waited-for children's (the tools it ran). */
function cpuOf(pid: number): { own: number; tools: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // f[0] is field 3 (state)
  const n = (i: number): number => Number(f[i - 3]);
  return { own: (n(14) + n(15)) / TICK, tools: (n(16) + n(17)) / TICK };
}

function rssOf(pid: number): { rss: number; hwm: number } {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? 0) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

interface Proc { readonly child: ChildProcess; readonly logs: Record<string, unknown>[]; waitFor(pred: (l: Record<string, unknown>) => boolean, ms: number, what: string): Promise<Record<string, unknown>> }

/** A program inside the lab namespace (`ip netns exec` execs it: the pid is the program's). */
function startInNetns(netns: string, args: readonly string[]): Proc {
  const child = spawn('ip', ['netns', 'exec', netns, process.execPath, ...args], { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  const logs: Record<string, unknown>[] = [];
  const waiters: { pred: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }[] = [];
  let partial = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    const lines = (partial + d).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.startsWith('{')) continue;
      const l = JSON.parse(line) as Record<string, unknown>;
      logs.push(l);
      for (const w of [...waiters]) if (w.pred(l)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(l); }
    }
  });
  return {
    child, logs,
    waitFor(pred, ms, what) {
      const seen = logs.find(pred);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
        waiters.push({ pred, resolve: (l) => { clearTimeout(timer); resolve(l); } });
      });
    },
  };
}

async function stop(p: Proc): Promise<void> {
  if (p.child.exitCode !== null) return;
  const done = new Promise((r) => p.child.once('exit', r));
  p.child.kill('SIGTERM');
  await Promise.race([done, sleep(10_000)]);
  if (p.child.exitCode === null) p.child.kill('SIGKILL');
}

/** kube-proxy's partial restore for one Service: its service chain rewritten (endpoints reversed). */
function endpointChange(desc: ClusterDesc, i: number, flip: boolean): string {
  const s = desc.services[i]!;
  const changed = { ...desc, services: [{ ...s, endpoints: flip ? [...s.endpoints].reverse() : s.endpoints }] };
  const lines = renderIptables(changed).split('\n').filter((l) => l.startsWith(':KUBE-SVC-') || l.startsWith('-A KUBE-SVC-'));
  return `*nat\n${lines.join('\n')}\nCOMMIT\n`;
}

interface Scenario { readonly name: string; readonly interval: string; readonly reverify: string; readonly simulatedPerReal: number; readonly churn: boolean }

const ONLY = argOf('only', 'dump,idle,churn').split(',');
const SCENARIOS: readonly Scenario[] = [
  { name: 'dump every 30 s (--reverify 0s)', interval: '30s', reverify: '0s', simulatedPerReal: 1, churn: false },
  { name: COMPRESS === 1 ? 'idle' : `idle (compressed ${COMPRESS}×)`, interval: `${30 / COMPRESS}s`, reverify: `${600 / COMPRESS}s`, simulatedPerReal: COMPRESS, churn: false },
  { name: 'churn (1 endpoint change / 10 s)', interval: '30s', reverify: '10m', simulatedPerReal: 1, churn: true },
].filter((s) => ONLY.some((o) => s.name.startsWith(o)));

interface Measured { readonly line: string; readonly cpuPerHour: number; readonly dumps: number; readonly cpu: number }

async function measure(lab: LabNode, desc: ClusterDesc, clusterFile: string, collector: string, sc: Scenario): Promise<Measured> {
  const agent = startInNetns(lab.netns, [AGENT, 'run', '--collector', collector, '--insecure', '--cluster', clusterFile,
    '--node', lab.nodeName, '--interval', sc.interval, '--reverify', sc.reverify]);
  try {
    await agent.waitFor((l) => l['msg'] === 'scan complete', 300_000, 'the first scan');
    await agent.waitFor((l) => l['msg'] === 'connected to collector', 60_000, 'the collector stream');
    await sleep(2000); // the first report on its way
    const pid = agent.child.pid!;
    const c0 = cpuOf(pid);
    const scans0 = agent.logs.filter((l) => l['msg'] === 'scan complete').length;
    const t0 = Date.now();
    const windowMs = MINUTES * 60_000;
    let changes = 0;
    while (Date.now() - t0 < windowMs) {
      if (sc.churn) {
        const r = await run('ip', ['netns', 'exec', lab.netns, 'iptables-restore', '-w', '--noflush'], endpointChange(desc, (changes * 7919) % desc.services.length, changes % 2 === 0));
        if (r.code !== 0) throw new Error(`iptables-restore --noflush: ${r.err}`);
        changes++;
      }
      await sleep(Math.min(10_000, windowMs - (Date.now() - t0)));
    }
    const c1 = cpuOf(pid);
    const realS = (Date.now() - t0) / 1000;
    const { rss, hwm } = rssOf(pid);
    const scans = agent.logs.filter((l) => l['msg'] === 'scan complete').slice(scans0);
    const dumps = scans.filter((l) => l['rulesDumped'] === true).length;
    const rejudged = scans.filter((l) => l['rulesDumped'] === true && l['sameRules'] !== true).length;
    const failing = scans.at(-1)?.['failed'];
    const perHour = (cpu: number): number => (cpu / realS) * 3600 / sc.simulatedPerReal;
    const own = perHour(c1.own - c0.own);
    const tools = perHour(c1.tools - c0.tools);
    const pct = ((own + tools) / 3600) * 100;
    const line = `  ${sc.name.padEnd(36)} ${own.toFixed(0).padStart(6)} + ${tools.toFixed(0).padStart(5)} CPU-s/h (agent + tools) = ${pct.toFixed(2).padStart(5)} % of a core;`
      + ` ${scans.length} scans, ${dumps} dumps (${rejudged} of new rules)${sc.churn ? `, ${changes} changes` : ''} in ${realS.toFixed(0)} s; RSS ${(rss / 2 ** 20).toFixed(0)} MB (peak ${(hwm / 2 ** 20).toFixed(0)} MB); failing ${String(failing)}`;
    return { line, cpuPerHour: own + tools, dumps, cpu: c1.own - c0.own + c1.tools - c0.tools };
  } finally {
    await stop(agent);
  }
}

async function bareDumpCpu(lab: LabNode): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < 3; i++) {
    const r = await run('/usr/bin/time', ['-f', 'CPU=%U+%S', 'ip', 'netns', 'exec', lab.netns, 'iptables-save']);
    const m = /CPU=([\d.]+)\+([\d.]+)/.exec(r.err);
    if (r.code !== 0 || !m) throw new Error(`iptables-save: ${r.err.slice(-500)}`);
    xs.push(Number(m[1]) + Number(m[2]));
  }
  return xs.sort((a, b) => a - b)[1]!;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'nc-steady-'));
  console.log(`steady state: ${AGENT}, windows of ${MINUTES} min after the first report; load average ${loadAvg()} at start`);
  try {
    for (const n of SIZES) {
      const lab = await createLabNode({ pods: 0, bridge: null, uplinkAddress: '192.168.77.2/24' });
      let collector: Proc | undefined;
      try {
        const desc = largeCluster(lab.nodeName, '192.168.77.2', n, PER);
        const clusterFile = join(dir, `cluster-${n}.json`);
        writeFileSync(clusterFile, renderClusterJson(desc));
        const load = await run('ip', ['netns', 'exec', lab.netns, 'iptables-restore', '-w'], renderIptables(desc));
        if (load.code !== 0) throw new Error(`iptables-restore: ${load.err}`);
        collector = startInNetns(lab.netns, [join(root, 'dist/collector/main.js'), '--insecure', '--grpc-listen', '127.0.0.1:0', '--http-listen', '127.0.0.1:0', '--db', ':memory:']);
        const listening = await collector.waitFor((l) => l['msg'] === 'collector listening', 60_000, 'the collector');
        const address = `127.0.0.1:${String(listening['grpcPort'])}`;
        const bare = await bareDumpCpu(lab);
        console.log(`\n${n} Services, ${n * PER} endpoints (iptables-nft):`);
        console.log(`  bare iptables-save every 30 s             ${(bare * 120).toFixed(0).padStart(6)} CPU-s/h = ${(bare * 120 / 36).toFixed(2)} % of a core (one dump: ${bare.toFixed(2)} CPU-s)`);
        let perDump: number | undefined;
        for (const sc of SCENARIOS) {
          const m = await measure(lab, desc, clusterFile, address, sc);
          console.log(m.line);
          console.log(`    (load average ${loadAvg()})`);
          if (sc.reverify === '0s' && m.dumps > 0) perDump = m.cpu / m.dumps;
          if (sc.name.startsWith('idle') && sc.simulatedPerReal === 1 && perDump !== undefined) {
            const hour = m.cpuPerHour + 6 * perDump;
            console.log(`  idle hour: ${m.cpuPerHour.toFixed(0)} + 6 re-verifications × ${perDump.toFixed(2)} CPU-s = ${hour.toFixed(0)} CPU-s/h = ${(hour / 36).toFixed(2)} % of a core`);
          }
        }
      } finally {
        if (collector) await stop(collector);
        await lab.destroy();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
