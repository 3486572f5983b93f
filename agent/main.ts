#!/usr/bin/env node
// netconform-agent: reads one node and judges it. Sub-commands:
//   run      scan periodically and stream reports to the collector
//   scan     one scan, printed (live, from a bundle, or inside a network namespace)
//   capture  write a bundle of the node's facts for later `scan --from`
//   snapshot print the raw NodeSnapshot as JSON (used to inspect another netns)
import './heap-policy.js'; // first: the GC policy applies to everything loaded after it
import { hostname } from 'node:os';
import { join } from 'node:path';
import { runMain, parseFlags, str, bool, choice, logLevelFlag, type Options, type Parsed } from '../common/cli.js';
import { EXIT_FINDINGS, EXIT_OK, InputError, UsageError } from '../common/errors.js';
import { readClusterFile, type ClusterContext } from '../common/cluster.js';
import { dataplaneOf } from './dataplane/load.js';
import { DEFAULT_TOOL_TIMEOUT_MS } from './inspect/tool.js';
import { parseDuration } from '../common/duration.js';
import { VERSION } from '../common/version.js';
import { DEFAULT_BPF_ROOT, inspectLive, type LiveOptions } from './inspect/live.js';
import { inspectNetns } from './inspect/netns.js';
import type { NodeSnapshot } from './snapshot.js';
import { DEFAULT_PROXY_FACTS_INTERVAL, DEFAULT_REVERIFY } from './steady-scan.js';
import { scanSnapshot } from './scan.js';
import { DEFAULT_HEALTH_FILE, judgeHealth, readHealthFile, type HealthVerdict } from './health.js';
import { createLogger } from '../common/log.js';
import type { ClusterSource } from './cluster-source.js';
import { podsOnNode } from '../common/node-pods.js';
import { AGENT_TOKEN_PATH, readTokenFile } from '../common/token.js';
import { DEFAULT_KUBE_PROXY_METRICS, DEFAULT_SETTLE_MS, DEFAULT_STALL_MS, kubeProxyLastSyncMs, type KubeProxyOptions } from './inspect/kube-proxy.js';

const NODE_FLAGS: Options = {
  node: { type: 'string' },
  netns: { type: 'string' },
  'cni-conf-dir': { type: 'string' },
  'cni-bin-dir': { type: 'string' },
  'bpf-root': { type: 'string' },
  'proc-root': { type: 'string' },
  'tool-timeout': { type: 'string' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  'kube-proxy-metrics': { type: 'string' },
  settle: { type: 'string' },
  'kube-proxy-stall': { type: 'string' },
};

const TOOL_TIMEOUT_HELP = `  --tool-timeout DURATION  kill a node tool (iptables-save, nft, ipset, ipvsadm, ip, sysctl) that has not
                          answered by then; the checks that need its output report an error naming it (default 60s)`;
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
  health    exit 0 when the running agent scanned (and reported) recently — for probes
  probe     source-IP echo and prober for a pod on the pod network (no-nat.observed)

Run 'netconform-agent <command> --help' for its flags.
`,
  scan: `Usage: netconform-agent scan [--from DIR] [--cluster FILE | --kubeconfig FILE] [--node NAME] [--format table|json|policyreport] [--fail-on LEVEL]

  --from DIR            scan a bundle directory instead of the live node
  --cluster FILE        cluster context: output of 'kubectl get nodes,services,endpointslices,pods -A -o yaml' (or json)
  --kubeconfig FILE     cluster context: read from the API server this kubeconfig points at
  --service-cidr CIDR   the cluster's Service CIDR (repeatable; not visible in API objects before ServiceCIDR)
  --cluster-cidr CIDR   the cluster-wide pod CIDR (kube-proxy --cluster-cidr)
  --node NAME           node name (default: node.txt of the bundle, $NODE_NAME, or the hostname)
  --netns NAME          inspect network namespace NAME instead of the agent's own
  --cni-conf-dir DIR    CNI config dir (default /etc/cni/net.d)
  --cni-bin-dir DIR     CNI plugin dir (default /opt/cni/bin)
  --format FORMAT       table (default, for people), json (the scan contract), or policyreport
                        (a wgpolicyk8s.io/v1alpha2 ClusterPolicyReport for the node, JSON; kubectl apply -f -)
  --bpf-root DIR        bpffs root with eBPF dataplanes' pinned maps (default /sys/fs/bpf)
  --proc-root DIR       the host's /proc, for the processes of each pod (default /proc)
${TOOL_TIMEOUT_HELP}
  --all                 table: show passing results too
  --fail-on LEVEL       exit 1 at: fail (default), warn, none, or a minimum severity (critical…info) of failures
${KUBE_PROXY_HELP}`,
  capture: `Usage: netconform-agent capture --out DIR [--node NAME] [--netns NAME] [--cni-conf-dir DIR] [--cni-bin-dir DIR] [--bpf-root DIR] [--proc-root DIR] [--tool-timeout 60s]

Writes the node's facts as standard tool output (sysctl.txt, ip-link.json, …, kube-proxy-metrics.txt) into DIR.
A tool that times out is named on stderr and its file is left out (capture exits 1).
${TOOL_TIMEOUT_HELP}
${KUBE_PROXY_HELP}`,
  run: `Usage: netconform-agent run --collector HOST:PORT [--collector-ca FILE | --insecure] [--token-file FILE] [--node NAME] [--interval 30s]
                            [--kubeconfig FILE | --cluster FILE | --no-kube]

  --collector HOST:PORT  collector gRPC address (default $NETCONFORM_COLLECTOR or 127.0.0.1:9443)
  --collector-ca FILE    CA bundle the collector's TLS certificate must chain to (default: the system's roots)
  --tls-server-name NAME name to verify in the collector's certificate (default: the --collector host)
  --token-file FILE      projected ServiceAccount token (audience netconform-collector) proving this node,
                         re-read on every connect (default ${AGENT_TOKEN_PATH})
  --insecure             plaintext to the collector (labs on loopback); no token is sent unless --token-file is given
  --node NAME            node name (default $NODE_NAME or the hostname)
  --interval DURATION    time between scans, jittered ±10% (default 30s)
  --reverify DURATION    a scan re-dumps the rules only when the nf_tables generation changed (every
                         nft, kube-proxy nftables and iptables-nft commit bumps it), and re-judges a
                         Service check only when the rules (by content), the cluster context or the
                         node's links, routes, CNI or eBPF maps changed; the rules are dumped anyway at
                         least this often, for what the generation cannot see (iptables-legacy, ipset,
                         IPVS). 0s: a dump every interval (default ${DEFAULT_REVERIFY})
  --proxy-facts-interval DURATION  how often the facts only the kube-proxy mode migration report uses
                         (conntrack -L --dst-nat, /proc/net/tcp, kube-proxy's /configz) are read again;
                         every report's fingerprint carries the last read. Also read on start. A localhost
                         NodePort client is seen at the next read while its connection is open. 0s: every
                         scan (default ${DEFAULT_PROXY_FACTS_INTERVAL})
  --kubeconfig FILE      list and watch Nodes, Services, EndpointSlices and ServiceCIDRs through this
                         kubeconfig (default: in-cluster, with the Pod's ServiceAccount token, when
                         running as a Pod; changes are applied as they come and trigger a rescan)
  --cluster FILE         a fixed cluster context instead of the API (labs, offline; not watched):
                         'kubectl get nodes,services,endpointslices -A -o yaml' (or json)
  --no-kube              no API access even in a Pod (Service and node checks skip without --cluster)
  --service-cidr CIDR    the cluster's Service CIDR (repeatable; added to those of ServiceCIDR objects)
  --cluster-cidr CIDR    the cluster-wide pod CIDR (kube-proxy --cluster-cidr)
  --netns NAME           inspect network namespace NAME instead of the agent's own (labs)
  --cni-conf-dir DIR     CNI config dir (default /etc/cni/net.d)
  --cni-bin-dir DIR      CNI plugin dir (default /opt/cni/bin)
  --health-file FILE     write the health signal that 'netconform-agent health' reads (default: none;
                         the DaemonSet uses ${DEFAULT_HEALTH_FILE})
  --bpf-root DIR         bpffs root with eBPF dataplanes' pinned maps (default /sys/fs/bpf)
  --proc-root DIR        the host's /proc, for processes by pod (default /proc)
${TOOL_TIMEOUT_HELP}
  --log-level LEVEL      debug, info, warn, error (default info)
${KUBE_PROXY_HELP}
  After a cluster context change the agent rescans once kube-proxy's last sync is past the
  change (polling its metrics), or when the settle window ends — not at once.
`,
  health: `Usage: netconform-agent health [--health-file FILE] [--max-age 3m] [--require-ack]

Reads the health file the running agent rewrites after each completed scan and each report
the collector acknowledged. Exit 0 and "ok: …" when the last scan (with --require-ack also
the last acknowledged report) is younger than --max-age, or the agent started less than
--max-age ago; exit 1 with the reason otherwise (also when the file is missing).

  --health-file FILE   default ${DEFAULT_HEALTH_FILE}
  --max-age DURATION   default 3m
  --require-ack        readiness: reports must be reaching the collector too
`,
  snapshot: `Usage: netconform-agent snapshot [--dataplane-unless-generation N] [--no-proxy-facts] [--node NAME] [--cni-conf-dir DIR] [--cni-bin-dir DIR] [--bpf-root DIR] [--proc-root DIR] [--tool-timeout 60s] [--kube-proxy-metrics URL]

  --dataplane-unless-generation N  leave the rule dumps out (and set dataplaneUnchanged) while the
                         nf_tables generation is still N — what 'run --netns' asks of its child
  --no-proxy-facts       leave out the kube-proxy migration facts (conntrack, /proc/net/tcp, /configz) and
                         set proxyFactsNotRead — what 'run --netns' asks between their periodic reads
${KUBE_PROXY_HELP}`,
};

export function nodeName(p: Parsed): string {
  return str(p, 'node') || process.env['NODE_NAME'] || hostname();
}

function toolTimeout(p: Parsed): number {
  const text = str(p, 'tool-timeout');
  if (text === undefined) return DEFAULT_TOOL_TIMEOUT_MS;
  const ms = parseDuration(text, '--tool-timeout');
  if (ms < 100) throw new UsageError(`"${text}" is too short (at least 100ms)`, '--tool-timeout');
  return ms;
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
    bpfRoot: str(p, 'bpf-root') ?? DEFAULT_BPF_ROOT,
    procRoot: str(p, 'proc-root') ?? '/proc',
    toolTimeoutMs: toolTimeout(p),
    kubeProxy: kubeProxyOptions(p),
  };
}

/**
 * Reads the node: inside --netns when given, else the agent's own namespace. With
 * `dataplaneUnlessGeneration`, the rules are not dumped when the nf_tables generation is still that one;
 * with `proxyFacts` false the kube-proxy migration facets are not read.
 */
export function inspectNode(p: Parsed, dataplaneUnlessGeneration?: number, proxyFacts = true): Promise<NodeSnapshot> {
  const netns = str(p, 'netns');
  const opts: LiveOptions = { ...liveOptions(p), ...(dataplaneUnlessGeneration !== undefined ? { dataplaneUnlessGeneration } : {}), ...(proxyFacts ? {} : { proxyFacts }) };
  return netns ? inspectNetns(netns, opts) : inspectLive(opts);
}

/** `snapshot --dataplane-unless-generation N`: what `run --netns` asks of its child (see inspectNode). */
function generationFlag(p: Parsed): number | undefined {
  const text = str(p, 'dataplane-unless-generation');
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) throw new UsageError(`"${text}" is not a generation number`, '--dataplane-unless-generation');
  return Number(text);
}

export function clusterFromFlags(p: Parsed): ClusterContext | undefined {
  const file = str(p, 'cluster');
  if (!file) return undefined;
  const serviceCIDRs = (p.values['service-cidr'] as string[] | undefined) ?? [];
  const clusterCIDR = str(p, 'cluster-cidr');
  return readClusterFile(file, { serviceCIDRs, ...(clusterCIDR ? { clusterCIDR } : {}) });
}

/** The scanned node's Pods: from the API (node-scoped, with status) or the cluster file's Pods of that node. */
async function withNodePods(p: Parsed, ctx: ClusterContext | undefined, node: string): Promise<ClusterContext | undefined> {
  if (!ctx) return undefined;
  const kubeconfig = str(p, 'kubeconfig');
  if (kubeconfig !== undefined) {
    const [{ loadKubeAccess }, { listNodePods }] = await Promise.all([import('../kube/access.js'), import('../kube/node-pods.js')]);
    return { ...ctx, nodePods: await listNodePods(await loadKubeAccess(kubeconfig), node) };
  }
  return { ...ctx, nodePods: podsOnNode(ctx.workloads, node) };
}

/** `--kubeconfig` reads the context from the API server (one list of each kind); else as clusterFromFlags. */
async function scanClusterFromFlags(p: Parsed): Promise<ClusterContext | undefined> {
  const kubeconfig = str(p, 'kubeconfig');
  if (kubeconfig === undefined) return clusterFromFlags(p);
  if (str(p, 'cluster') !== undefined) throw new UsageError('--cluster and --kubeconfig cannot be combined');
  const clusterCIDR = str(p, 'cluster-cidr');
  // Loaded on use: the Kubernetes client takes ~1 s and ~70 MB to load, which a `scan --cluster`
  // would pay before its rule dump even starts.
  const { loadClusterFromApi } = await import('../kube/load.js');
  return loadClusterFromApi(kubeconfig, {
    serviceCIDRs: (p.values['service-cidr'] as string[] | undefined) ?? [],
    ...(clusterCIDR ? { clusterCIDR } : {}),
    onSkip: (reason) => process.stderr.write(`netconform-agent: skipping API object: ${reason}\n`),
  });
}

async function scanCommand(argv: string[]): Promise<number> {
  // Loaded by the commands that use them, not by `run`: a module's code stays in the process
  // for good, and the agent between scans is measured in MB (docs/memory.md).
  const [{ readBundle }, { writeScanJson, formatScanTable, parseFailOn, breaches }, { nodePolicyReport }] = await Promise.all([
    import('./inspect/bundle.js'), import('./report/format.js'), import('../common/policy-report.js'),
  ]);
  const p = parseFlags(argv, {
    ...NODE_FLAGS, ...CLUSTER_FLAGS,
    kubeconfig: { type: 'string' },
    from: { type: 'string' },
    format: { type: 'string' },
    'fail-on': { type: 'string' },
    all: { type: 'boolean' },
  });
  if (bool(p, 'help')) return help('scan');
  const format = choice(str(p, 'format'), ['table', 'json', 'policyreport'] as const, '--format', 'table');
  const failOn = parseFailOn(str(p, 'fail-on') ?? 'fail');
  const from = str(p, 'from');
  if (from !== undefined && str(p, 'netns')) throw new UsageError('--from and --netns cannot be combined');
  if (from !== undefined && str(p, 'kube-proxy-metrics')) throw new UsageError('--from and --kube-proxy-metrics cannot be combined (a bundle carries kube-proxy-metrics.txt)');
  // Start reading the node first: the rule dump tools print nothing for a while on a large
  // node, and parsing a large cluster file fits in that time.
  const snapshotRead = from !== undefined ? Promise.resolve().then(() => readBundle(from, str(p, 'node'), judgementWindows(p))) : inspectNode(p);
  snapshotRead.catch(() => undefined); // a bad cluster file below is the error to report
  const cluster = await scanClusterFromFlags(p);
  const snapshot = await snapshotRead;
  // The shared list keeps Pods' spec only: this node's Pods are read apart, with their status.
  // A bundle's rule dumps are parsed now, so a malformed one is bad input (exit 2, naming
  // file and line) like any other bundle file; live, a parse error is an `error` finding.
  if (from !== undefined) {
    try {
      dataplaneOf(snapshot);
    } catch (err) {
      if (err instanceof InputError) throw new InputError(join(from, err.file), err.reason, err.line, err.column);
      throw err;
    }
  }
  const result = scanSnapshot(snapshot, await withNodePods(p, cluster, snapshot.node));
  if (format === 'json') await writeScanJson(result, process.stdout);
  else if (format === 'policyreport') process.stdout.write(JSON.stringify(nodePolicyReport(result), null, 2) + '\n');
  else process.stdout.write(formatScanTable(result, { all: bool(p, 'all') }));
  return breaches(result.findings, failOn) ? EXIT_FINDINGS : EXIT_OK;
}

async function captureCommand(argv: string[]): Promise<number> {
  const p = parseFlags(argv, { ...NODE_FLAGS, out: { type: 'string' } });
  if (bool(p, 'help')) return help('capture');
  const out = str(p, 'out');
  if (!out) throw new UsageError('is required (the bundle directory to write)', '--out');
  const { captureBundle } = await import('./inspect/capture.js');
  const snapshot = await inspectNode(p);
  const netns = str(p, 'netns');
  const files = await captureBundle(out, snapshot, {
    ...(netns ? { netns } : {}),
    toolTimeoutMs: toolTimeout(p),
    onToolFailure: (f) => process.stderr.write(`netconform-agent: ${f.tool}: ${f.reason}; its file holds the snapshot's rendering instead\n`),
  });
  process.stderr.write(`wrote ${files.length} files to ${out}: ${files.join(', ')}\n`);
  // Rules a tool never printed cannot be in the bundle; a scan of it would judge without them.
  const failed = snapshot.dataplane?.failed ?? [];
  if (failed.length > 0) throw new Error(`capture incomplete: ${failed.map((f) => `${f.tool}: ${f.reason}`).join('; ')}; ${out} lacks their output`);
  return EXIT_OK;
}

async function snapshotCommand(argv: string[]): Promise<number> {
  const p = parseFlags(argv, { ...NODE_FLAGS, 'dataplane-unless-generation': { type: 'string' }, 'no-proxy-facts': { type: 'boolean' } });
  if (bool(p, 'help')) return help('snapshot');
  process.stdout.write(JSON.stringify(await inspectNode(p, generationFlag(p), !bool(p, 'no-proxy-facts'))) + '\n');
  return EXIT_OK;
}

/**
 * `run`'s context: --cluster (a file), --kubeconfig (that API server), else the in-cluster
 * API when running as a Pod (unless --no-kube), else none.
 */
async function runClusterSource(p: Parsed): Promise<ClusterSource> {
  // The API is read without @kubernetes/client-node (kube/access.ts), loaded only by the commands that use it.
  const [{ inClusterAvailable, loadKubeAccess }, { apiClusterSource, staticClusterSource }] = await Promise.all([import('../kube/access.js'), import('./cluster-source.js')]);
  const kubeconfig = str(p, 'kubeconfig');
  if (kubeconfig !== undefined && str(p, 'cluster') !== undefined) throw new UsageError('--cluster and --kubeconfig cannot be combined');
  if (kubeconfig !== undefined && bool(p, 'no-kube')) throw new UsageError('--kubeconfig and --no-kube cannot be combined');
  if (str(p, 'cluster') !== undefined || (kubeconfig === undefined && (bool(p, 'no-kube') || !inClusterAvailable()))) {
    const ctx = clusterFromFlags(p);
    return staticClusterSource(ctx ? { ...ctx, nodePods: podsOnNode(ctx.workloads, nodeName(p)) } : undefined);
  }
  const clusterCIDR = str(p, 'cluster-cidr');
  const node = nodeName(p);
  return apiClusterSource({
    kubeConfig: await loadKubeAccess(kubeconfig),
    node,
    serviceCIDRs: (p.values['service-cidr'] as string[] | undefined) ?? [],
    ...(clusterCIDR ? { clusterCIDR } : {}),
    logger: createLogger({ component: 'agent', node }, logLevelFlag(p)),
  });
}

async function runCommand(argv: string[]): Promise<number> {
  const p = parseFlags(argv, {
    ...NODE_FLAGS, ...CLUSTER_FLAGS,
    collector: { type: 'string' },
    interval: { type: 'string' },
    'health-file': { type: 'string' },
    kubeconfig: { type: 'string' },
    'no-kube': { type: 'boolean' },
    'collector-ca': { type: 'string' },
    'tls-server-name': { type: 'string' },
    'token-file': { type: 'string' },
    insecure: { type: 'boolean' },
    reverify: { type: 'string' },
    'proxy-facts-interval': { type: 'string' },
  });
  if (bool(p, 'help')) return help('run');
  // gRPC: loaded by the commands that talk to a collector.
  const [{ runAgent }, { clientTransport }] = await Promise.all([import('./run.js'), import('../common/tls.js')]);
  const insecure = bool(p, 'insecure');
  const transport = clientTransport({ insecure, caFile: str(p, 'collector-ca'), serverName: str(p, 'tls-server-name'), caFlag: '--collector-ca' });
  // Over plaintext a token goes out only when asked for explicitly.
  const tokenFile = str(p, 'token-file') ?? (insecure ? undefined : AGENT_TOKEN_PATH);
  return runAgent({
    collector: str(p, 'collector') ?? process.env['NETCONFORM_COLLECTOR'] ?? '127.0.0.1:9443',
    intervalText: str(p, 'interval') ?? '30s',
    node: nodeName(p),
    logLevel: logLevelFlag(p),
    inspect: (dataplaneUnlessGeneration, proxyFacts) => inspectNode(p, dataplaneUnlessGeneration, proxyFacts),
    reverifyMs: parseDuration(str(p, 'reverify') ?? DEFAULT_REVERIFY, '--reverify'),
    proxyFactsMs: parseDuration(str(p, 'proxy-facts-interval') ?? DEFAULT_PROXY_FACTS_INTERVAL, '--proxy-facts-interval'),
    ...(str(p, 'health-file') ? { healthFile: str(p, 'health-file')! } : {}),
    cluster: await runClusterSource(p),
    connection: { transport, ...(tokenFile ? { token: () => readTokenFile(tokenFile) } : {}) },
    settleMs: judgementWindows(p).settleMs,
    kubeProxyLastSync: () => kubeProxyLastSyncMs(kubeProxyOptions(p).url, str(p, 'netns')),
  });
}

async function healthCommand(argv: string[]): Promise<number> {
  const p = parseFlags(argv, {
    'health-file': { type: 'string' },
    'max-age': { type: 'string' },
    'require-ack': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (bool(p, 'help')) return help('health');
  const file = str(p, 'health-file') ?? DEFAULT_HEALTH_FILE;
  const maxAgeMs = parseDuration(str(p, 'max-age') ?? '3m', '--max-age');
  let verdict: HealthVerdict;
  try {
    verdict = judgeHealth(readHealthFile(file), Date.now(), maxAgeMs, bool(p, 'require-ack'));
  } catch (err) {
    verdict = { ok: false, message: `unhealthy: ${err instanceof Error ? err.message : String(err)}` };
  }
  process.stdout.write(verdict.message + '\n');
  return verdict.ok ? EXIT_OK : EXIT_FINDINGS;
}

async function help(topic: string): Promise<number> {
  const text = topic === 'trace' ? (await import('./trace-command.js')).TRACE_HELP
    : topic === 'probe' ? (await import('./probe/command.js')).PROBE_HELP
    : HELP[topic] ?? HELP['main']!;
  process.stdout.write(text);
  return EXIT_OK;
}

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  run: runCommand,
  scan: scanCommand,
  capture: captureCommand,
  snapshot: snapshotCommand,
  trace: async (argv) => (await import('./trace-command.js')).traceCommand(argv),
  health: healthCommand,
  probe: async (argv) => (await import('./probe/command.js')).probeCommand(argv),
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
