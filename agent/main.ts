#!/usr/bin/env node
// netconform-agent: reads one node and judges it. Sub-commands:
//   run      scan periodically and stream reports to the collector
//   scan     one scan, printed (live, from a bundle, or inside a network namespace)
//   capture  write a bundle of the node's facts for later `scan --from`
//   snapshot print the raw NodeSnapshot as JSON (used to inspect another netns)
import { hostname } from 'node:os';
import { runMain, parseFlags, str, bool, choice, logLevelFlag, type Options, type Parsed } from '../common/cli.js';
import { EXIT_FINDINGS, EXIT_OK, UsageError } from '../common/errors.js';
import { readClusterFile, type ClusterContext } from '../common/cluster.js';
import { VERSION } from '../common/version.js';
import { inspectLive, type LiveOptions } from './inspect/live.js';
import { inspectNetns } from './inspect/netns.js';
import { readBundle } from './inspect/bundle.js';
import { captureBundle } from './inspect/capture.js';
import type { NodeSnapshot } from './snapshot.js';
import { scanSnapshot } from './scan.js';
import { writeScanJson, formatScanTable, parseFailOn, breaches } from './report/format.js';
import { runAgent } from './run.js';
import { traceCommand, TRACE_HELP } from './trace-command.js';
import { loadClusterFromApi } from '../kube/load.js';
import { parseDuration } from '../common/duration.js';
import { DEFAULT_KUBE_PROXY_METRICS, DEFAULT_SETTLE_MS, DEFAULT_STALL_MS, kubeProxyLastSyncMs, type KubeProxyOptions } from './inspect/kube-proxy.js';

const NODE_FLAGS: Options = {
  node: { type: 'string' },
  netns: { type: 'string' },
  'cni-conf-dir': { type: 'string' },
  'cni-bin-dir': { type: 'string' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  'kube-proxy-metrics': { type: 'string' },
  settle: { type: 'string' },
  'kube-proxy-stall': { type: 'string' },
};

const KUBE_PROXY_HELP = `  --kube-proxy-metrics URL  kube-proxy's metrics, scraped to tell converging from wrong (default ${DEFAULT_KUBE_PROXY_METRICS})
  --settle DURATION      without kube-proxy metrics, a Service mismatch this soon after the Service changed is "converging" (default 30s)
  --kube-proxy-stall DURATION  changes pending and no kube-proxy sync for this long fails service-routing.kube-proxy (default 5m)
`;

const CLUSTER_FLAGS: Options = {
  cluster: { type: 'string' },
  'service-cidr': { type: 'string', multiple: true },
  'cluster-cidr': { type: 'string' },
};

const HELP: Record<string, string> = {
  main: `netconform-agent ${VERSION} — checks one Kubernetes node against the Kubernetes network model

Usage: netconform-agent <command> [flags]

Commands:
  run       scan on start and every --interval, stream reports to the collector
  scan      scan once and print the result (exit 0 ok, 1 findings, 2 bad input)
  capture   write this node's facts as a bundle directory (scan it anywhere with --from)
  snapshot  print the node's raw facts as JSON
  trace     explain what the node's rules do with one packet (outcomes, probabilities, rule path)

Run 'netconform-agent <command> --help' for its flags.
`,
  scan: `Usage: netconform-agent scan [--from DIR] [--cluster FILE | --kubeconfig FILE] [--node NAME] [--format table|json] [--fail-on LEVEL]

  --from DIR            scan a bundle directory instead of the live node
  --cluster FILE        cluster context: output of 'kubectl get nodes,services,endpointslices -A -o yaml' (or json)
  --kubeconfig FILE     cluster context: read from the API server this kubeconfig points at
  --service-cidr CIDR   the cluster's Service CIDR (repeatable; not visible in API objects before ServiceCIDR)
  --cluster-cidr CIDR   the cluster-wide pod CIDR (kube-proxy --cluster-cidr)
  --node NAME           node name (default: node.txt of the bundle, $NODE_NAME, or the hostname)
  --netns NAME          inspect network namespace NAME instead of the agent's own
  --cni-conf-dir DIR    CNI config dir (default /etc/cni/net.d)
  --cni-bin-dir DIR     CNI plugin dir (default /opt/cni/bin)
  --format table|json   output (default table)
  --all                 table: show passing results too
  --fail-on LEVEL       exit 1 at: fail (default), warn, none, or a minimum severity (critical…info) of failures
${KUBE_PROXY_HELP}`,
  capture: `Usage: netconform-agent capture --out DIR [--node NAME] [--netns NAME] [--cni-conf-dir DIR] [--cni-bin-dir DIR]

Writes the node's facts as standard tool output (sysctl.txt, ip-link.json, …, kube-proxy-metrics.txt) into DIR.

${KUBE_PROXY_HELP}`,
  run: `Usage: netconform-agent run --collector HOST:PORT [--node NAME] [--interval 30s]

  --collector HOST:PORT  collector gRPC address (default $NETCONFORM_COLLECTOR or 127.0.0.1:9443)
  --node NAME            node name (default $NODE_NAME or the hostname)
  --interval DURATION    time between scans, jittered ±10% (default 30s)
  --netns NAME           inspect network namespace NAME instead of the agent's own (labs)
  --cni-conf-dir DIR     CNI config dir (default /etc/cni/net.d)
  --cni-bin-dir DIR      CNI plugin dir (default /opt/cni/bin)
  --log-level LEVEL      debug, info, warn, error (default info)
${KUBE_PROXY_HELP}
  After a cluster context change the agent rescans once kube-proxy's last sync is past the
  change (polling its metrics), or when the settle window ends — not at once.
`,
  trace: TRACE_HELP,
  snapshot: `Usage: netconform-agent snapshot [--node NAME] [--cni-conf-dir DIR] [--cni-bin-dir DIR] [--kube-proxy-metrics URL]
${KUBE_PROXY_HELP}`,
};

export function nodeName(p: Parsed): string {
  return str(p, 'node') || process.env['NODE_NAME'] || hostname();
}

/** --settle and --kube-proxy-stall: how long kube-proxy may take before a mismatch is wrong. */
export function judgementWindows(p: Parsed): { settleMs: number; stallMs: number } {
  const settle = str(p, 'settle');
  const stall = str(p, 'kube-proxy-stall');
  return {
    settleMs: settle !== undefined ? parseDuration(settle, '--settle') : DEFAULT_SETTLE_MS,
    stallMs: stall !== undefined ? parseDuration(stall, '--kube-proxy-stall') : DEFAULT_STALL_MS,
  };
}

export function kubeProxyOptions(p: Parsed): KubeProxyOptions {
  const url = str(p, 'kube-proxy-metrics') ?? DEFAULT_KUBE_PROXY_METRICS;
  try {
    const u = new URL(url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('scheme');
  } catch {
    throw new UsageError(`"${url}" is not an http(s) URL`, '--kube-proxy-metrics');
  }
  return { url, ...judgementWindows(p) };
}

export function liveOptions(p: Parsed): LiveOptions {
  return {
    node: nodeName(p),
    cniConfDir: str(p, 'cni-conf-dir') ?? '/etc/cni/net.d',
    cniBinDir: str(p, 'cni-bin-dir') ?? '/opt/cni/bin',
    kubeProxy: kubeProxyOptions(p),
  };
}

/** Reads the node: inside --netns when given, else the agent's own namespace. */
export function inspectNode(p: Parsed): Promise<NodeSnapshot> {
  const netns = str(p, 'netns');
  return netns ? inspectNetns(netns, liveOptions(p)) : inspectLive(liveOptions(p));
}

export function clusterFromFlags(p: Parsed): ClusterContext | undefined {
  const file = str(p, 'cluster');
  if (!file) return undefined;
  const serviceCIDRs = (p.values['service-cidr'] as string[] | undefined) ?? [];
  const clusterCIDR = str(p, 'cluster-cidr');
  return readClusterFile(file, { serviceCIDRs, ...(clusterCIDR ? { clusterCIDR } : {}) });
}

/** `--kubeconfig` reads the context from the API server (one list of each kind); else as clusterFromFlags. */
async function scanClusterFromFlags(p: Parsed): Promise<ClusterContext | undefined> {
  const kubeconfig = str(p, 'kubeconfig');
  if (kubeconfig === undefined) return clusterFromFlags(p);
  if (str(p, 'cluster') !== undefined) throw new UsageError('--cluster and --kubeconfig cannot be combined');
  const clusterCIDR = str(p, 'cluster-cidr');
  return loadClusterFromApi(kubeconfig, {
    serviceCIDRs: (p.values['service-cidr'] as string[] | undefined) ?? [],
    ...(clusterCIDR ? { clusterCIDR } : {}),
    onSkip: (reason) => process.stderr.write(`netconform-agent: skipping API object: ${reason}\n`),
  });
}

async function scanCommand(argv: string[]): Promise<number> {
  const p = parseFlags(argv, {
    ...NODE_FLAGS, ...CLUSTER_FLAGS,
    kubeconfig: { type: 'string' },
    from: { type: 'string' },
    format: { type: 'string' },
    'fail-on': { type: 'string' },
    all: { type: 'boolean' },
  });
  if (bool(p, 'help')) return help('scan');
  const format = choice(str(p, 'format'), ['table', 'json'] as const, '--format', 'table');
  const failOn = parseFailOn(str(p, 'fail-on') ?? 'fail');
  const from = str(p, 'from');
  if (from !== undefined && str(p, 'netns')) throw new UsageError('--from and --netns cannot be combined');
  if (from !== undefined && str(p, 'kube-proxy-metrics')) throw new UsageError('--from and --kube-proxy-metrics cannot be combined (a bundle carries kube-proxy-metrics.txt)');
  // Start reading the node first: the rule dump tools print nothing for a while on a large
  // node, and parsing a large cluster file fits in that time.
  const snapshotRead = from !== undefined ? Promise.resolve().then(() => readBundle(from, str(p, 'node'), judgementWindows(p))) : inspectNode(p);
  snapshotRead.catch(() => undefined); // a bad cluster file below is the error to report
  const cluster = await scanClusterFromFlags(p);
  const result = scanSnapshot(await snapshotRead, cluster);
  if (format === 'json') await writeScanJson(result, process.stdout);
  else process.stdout.write(formatScanTable(result, { all: bool(p, 'all') }));
  return breaches(result.findings, failOn) ? EXIT_FINDINGS : EXIT_OK;
}

async function captureCommand(argv: string[]): Promise<number> {
  const p = parseFlags(argv, { ...NODE_FLAGS, out: { type: 'string' } });
  if (bool(p, 'help')) return help('capture');
  const out = str(p, 'out');
  if (!out) throw new UsageError('is required (the bundle directory to write)', '--out');
  const snapshot = await inspectNode(p);
  const netns = str(p, 'netns');
  const files = await captureBundle(out, snapshot, netns ? { netns } : {});
  process.stderr.write(`wrote ${files.length} files to ${out}: ${files.join(', ')}\n`);
  return EXIT_OK;
}

async function snapshotCommand(argv: string[]): Promise<number> {
  const p = parseFlags(argv, NODE_FLAGS);
  if (bool(p, 'help')) return help('snapshot');
  process.stdout.write(JSON.stringify(await inspectNode(p)) + '\n');
  return EXIT_OK;
}

async function runCommand(argv: string[]): Promise<number> {
  const p = parseFlags(argv, {
    ...NODE_FLAGS, ...CLUSTER_FLAGS,
    collector: { type: 'string' },
    interval: { type: 'string' },
  });
  if (bool(p, 'help')) return help('run');
  return runAgent({
    collector: str(p, 'collector') ?? process.env['NETCONFORM_COLLECTOR'] ?? '127.0.0.1:9443',
    intervalText: str(p, 'interval') ?? '30s',
    node: nodeName(p),
    logLevel: logLevelFlag(p),
    inspect: () => inspectNode(p),
    localCluster: clusterFromFlags(p),
    settleMs: judgementWindows(p).settleMs,
    kubeProxyLastSync: () => kubeProxyLastSyncMs(kubeProxyOptions(p).url, str(p, 'netns')),
  });
}

function help(topic: string): number {
  process.stdout.write(HELP[topic] ?? HELP['main']!);
  return EXIT_OK;
}

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  run: runCommand,
  scan: scanCommand,
  capture: captureCommand,
  snapshot: snapshotCommand,
  trace: traceCommand,
};

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') return help('main');
  if (name === '--version' || name === 'version') {
    process.stdout.write(`netconform-agent ${VERSION}\n`);
    return EXIT_OK;
  }
  const cmd = COMMANDS[name];
  if (!cmd) throw new UsageError(`unknown command "${name}" (see netconform-agent --help)`);
  return cmd(rest);
}

runMain('netconform-agent', main);
