// What one probe pod costs: a real probe process (`netconform-probe`, from dist/ when
// built — what the image runs — else through tsx) with K ring peers on other "nodes", the
// probe Service and a collector to report to, at the default interval. The peers' echoes and
// the collector run in this process on 127.0.0.1. Over the window it prints the probe's RSS
// (VmRSS from /proc, median and max) and its CPU (utime+stime from /proc over the window,
// as a share of one core). Goal (issue 14): under 20 MB RSS and under 1 % of a core at K=10.
// Loopback only; stops by itself and kills what it started.
//
//   npx tsx bench/probe.ts [--k 10] [--interval 30s] [--duration 120s] [--connections 0] [--node-options "--max-semi-space-size=1"] [--no-collector]
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseDuration } from '../common/duration.js';
import { createLogger } from '../common/log.js';
import { startEcho } from '../agent/probe/echo.js';
import { startCollector } from '../collector/collector.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({ options: {
  k: { type: 'string' }, interval: { type: 'string' }, duration: { type: 'string' }, connections: { type: 'string' }, 'node-options': { type: 'string' },
  'no-collector': { type: 'boolean' },
} });
const k = Number(values.k ?? '10');
const intervalText = values.interval ?? '30s';
const durationMs = parseDuration(values.duration ?? '120s', '--duration');
const connections = Number(values.connections ?? '0');

const TICKS_PER_SECOND = 100; // getconf CLK_TCK on Linux
const cpuTicks = (pid: number): number => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15 of stat)
};
const rssKb = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const echoes = await Promise.all(Array.from({ length: k }, () => startEcho('127.0.0.1', 0)));
const collector = await startCollector({ grpcListen: '127.0.0.1:0', httpListen: '127.0.0.1:0', log: createLogger({ component: 'bench' }, 'silent'), nodeRetentionMs: 3600_000 });
// The probe DaemonSet's entry point (agent/probe/main.ts), as built into the image.
const dist = join(root, 'dist/agent/probe/main.js');
const runner = existsSync(dist) ? [dist] : ['--import', 'tsx', join(root, 'agent/probe/main.ts')];
const args = ['--pod-ip', '127.0.0.1', '--node', 'bench-0', '--listen', '127.0.0.1:0', '--peers', 'flags', '--interval', intervalText,
  ...echoes.flatMap((e, i) => ['--peer', `peer-${i}@bench-${i + 1}=127.0.0.1:${e.tcpPort}`]), '--service', `127.0.0.1:${echoes[0]!.tcpPort}`,
  ...(values['no-collector'] ? [] : ['--collector', `127.0.0.1:${collector.grpcPort}`, '--insecure']), '--connections', String(connections), '--log-level', 'warn'];
const nodeOptions = values['node-options'] ? values['node-options'].split(' ') : [];
const probe = spawn(process.execPath, [...nodeOptions, ...runner, ...args], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
const pid = probe.pid!;
try {
  // Start-up and the first round (JIT, gRPC connect) are not the steady state.
  await new Promise((r) => setTimeout(r, 15_000));
  const samples: number[] = [];
  const t0 = process.hrtime.bigint();
  const c0 = cpuTicks(pid);
  while (Number(process.hrtime.bigint() - t0) / 1e6 < durationMs) {
    samples.push(rssKb(pid));
    await new Promise((r) => setTimeout(r, 1000));
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = (cpuTicks(pid) - c0) / TICKS_PER_SECOND / seconds;
  const reported = collector.registry.get('bench-0')?.report?.checks.find((c) => c.id === 'no-nat.observed');
  console.log(JSON.stringify({
    k, interval: intervalText, connections, runner: runner.length === 1 ? 'dist' : 'tsx', nodeOptions: nodeOptions.join(' '), windowSeconds: Math.round(seconds),
    rssMedianMiB: +(median(samples) / 1024).toFixed(1), rssMaxMiB: +(Math.max(...samples) / 1024).toFixed(1), cpuPercentOfCore: +(cpu * 100).toFixed(2),
    collectorSaw: reported ? `${reported.status} (${reported.passed} passed)` : 'nothing',
  }));
} finally {
  probe.kill('SIGKILL');
  await collector.stop();
  await Promise.all(echoes.map((e) => e.close()));
}
