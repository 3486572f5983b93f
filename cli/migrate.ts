// `netconform migrate check` and `netconform diff`: CNI migration readiness before a move,
// and proof afterwards of what a node's data path became.
import { writeFileSync } from 'node:fs';
import { parseFlags, str, bool, choice, strList } from '../common/cli.js';
import { EXIT_FINDINGS, EXIT_OK, UsageError } from '../common/errors.js';
import { readClusterFile, readKubeObjectsFile, type KubeObject } from '../common/cluster.js';
import { parseCidr } from '../common/cidr.js';
import { readBundle } from '../agent/inspect/bundle.js';
import { scanSnapshot } from '../agent/scan.js';
import { loadKubeConfig } from '../kube/config.js';
import { listAll } from '../kube/rest.js';
import { fingerprintNode } from '../agent/fingerprint.js';
import { clusterInventory, type ClusterInventory } from '../migrate/inventory.js';
import { migrationCheck } from '../migrate/check.js';
import { PROFILES, profileById } from '../migrate/profiles/index.js';
import { formatMigrationMarkdown, formatMigrationTable } from '../migrate/render.js';
import { formatMigrationHtml, formatProxyMigrationHtml } from '../migrate/html.js';
import { PROXY_TARGETS, proxyTargetById } from '../migrate/proxy/profiles.js';
import { proxyMigrationCheck } from '../migrate/proxy/check.js';
import { diffSnapshots, formatDiffText } from '../migrate/diff.js';
import type { Command } from './command.js';
import { CONNECTION_FLAGS, CONNECTION_HELP, connectionFromFlags } from './collector-client.js';
import { migrationInputsFromCollector } from './migrate-collector.js';
import type { NodeFingerprint } from '../agent/fingerprint.js';

const ALL_TARGETS = (): string[] => [...PROFILES.map((p) => p.id), ...PROXY_TARGETS.map((p) => p.id)];

const MIGRATE_HELP = `Usage: netconform migrate check --to PROFILE [--target-pod-cidr CIDR] [--target-mtu N] [--declared-cidr CIDR …]
                                [--cluster FILE | --kubeconfig FILE] [--from BUNDLE_DIR …] [--format table|json|markdown|html] [--out FILE]
       netconform migrate check --to PROFILE --collector HOST:PORT [--ca FILE] [--token-file FILE] [--insecure] [same options]

What a move to PROFILE would break, before it happens. Exit 0 when ready, 1 with blockers, 2 on bad input.

  --to PROFILE           a CNI: ${PROFILES.map((p) => p.id).join(', ')}
                         or a kube-proxy mode: ${PROXY_TARGETS.map((p) => p.id).join(', ')} (docs/proxy-mode-migration.md)
  --kube-proxy-version V the kube-proxy release that will run the new mode (e.g. 1.36); default: each node's current one
  --localhost-nodeport-proxy
                         the plan enables KEP-6032's userspace proxy for localhost NodePorts (kube-proxy 1.37+, alpha, TCP)
  --target-pod-cidr CIDR the pod CIDR the new CNI will use (checked against nodes, Services, pods, --declared-cidr)
  --target-mtu N         the pod MTU you plan (checked against each node's underlay MTU minus the overlay's overhead)
  --declared-cidr CIDR   another range pods must not overlap: the VNet/VPC, on-prem, peered networks (repeatable)
  --cluster FILE         kubectl get nodes,pods,services,networkpolicies,daemonsets -A -o yaml (or json)
  --kubeconfig FILE      read the same from the API server
  --from DIR             a node bundle (netconform-agent capture): its fingerprint (repeatable, one per node)
  --collector HOST:PORT  the collector's cluster view and every node's latest fingerprint (from the agents' reports)
                         instead of --cluster/--kubeconfig and --from; needs get on migration.netconform.io
                         (the ClusterRole netconform-reader)
  --format FORMAT        table (default), json, markdown or html (one self-contained file with the data path pictured)
  --out FILE             write the report there instead of stdout
With --collector:
${CONNECTION_HELP}`;

/** The kinds a migration check reads from the API server, by collection path. */
const MIGRATION_COLLECTIONS: readonly [string, string][] = [
  ['Node', '/api/v1/nodes'], ['Pod', '/api/v1/pods'], ['Service', '/api/v1/services'],
  ['NetworkPolicy', '/apis/networking.k8s.io/v1/networkpolicies'], ['DaemonSet', '/apis/apps/v1/daemonsets'],
];

async function clusterObjects(file: string | undefined, kubeconfig: string | undefined): Promise<KubeObject[] | undefined> {
  if (file && kubeconfig) throw new UsageError('--cluster and --kubeconfig cannot be combined');
  if (file) return readKubeObjectsFile(file);
  if (kubeconfig) {
    const kc = loadKubeConfig(kubeconfig);
    const lists = await Promise.all(MIGRATION_COLLECTIONS.map(async ([kind, path]) => (await listAll(kc, path)).items.map((i) => ({ ...(i as object), kind }) as KubeObject)));
    return lists.flat();
  }
  return undefined;
}

async function migrateCheck(argv: string[]): Promise<number> {
  const p = parseFlags(argv, {
    to: { type: 'string' }, 'target-pod-cidr': { type: 'string' }, 'target-mtu': { type: 'string' },
    'declared-cidr': { type: 'string', multiple: true }, cluster: { type: 'string' }, kubeconfig: { type: 'string' },
    from: { type: 'string', multiple: true }, format: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' },
    collector: { type: 'string' }, ...CONNECTION_FLAGS,
    'kube-proxy-version': { type: 'string' }, 'localhost-nodeport-proxy': { type: 'boolean' },
  });
  if (bool(p, 'help')) {
    process.stdout.write(MIGRATE_HELP);
    return EXIT_OK;
  }
  const to = str(p, 'to');
  if (!to) throw new UsageError(`is required: one of ${ALL_TARGETS().join(', ')}`, '--to');
  const target = profileById(to);
  const proxyTarget = proxyTargetById(to);
  if (!target && !proxyTarget) throw new UsageError(`"${to}" is not a known target; one of ${ALL_TARGETS().join(', ')}`, '--to');
  const kubeProxyVersion = str(p, 'kube-proxy-version');
  if (kubeProxyVersion !== undefined && !/^v?\d+\.\d+(\.\d+)?$/.test(kubeProxyVersion)) throw new UsageError(`"${kubeProxyVersion}" is not a Kubernetes version like 1.36 or 1.36.2`, '--kube-proxy-version');
  if (!proxyTarget && (kubeProxyVersion !== undefined || bool(p, 'localhost-nodeport-proxy'))) throw new UsageError('--kube-proxy-version and --localhost-nodeport-proxy apply to a kube-proxy mode target', '--to');
  const format = choice(str(p, 'format'), ['table', 'json', 'markdown', 'html'] as const, '--format', 'table');
  const podCidr = str(p, 'target-pod-cidr');
  if (podCidr !== undefined && !parseCidr(podCidr)) throw new UsageError(`"${podCidr}" is not a CIDR`, '--target-pod-cidr');
  for (const c of strList(p, 'declared-cidr')) if (!parseCidr(c)) throw new UsageError(`"${c}" is not a CIDR`, '--declared-cidr');
  const mtuText = str(p, 'target-mtu');
  const mtu = mtuText === undefined ? undefined : Number(mtuText);
  if (mtu !== undefined && (!Number.isInteger(mtu) || mtu < 576 || mtu > 65535)) throw new UsageError(`"${mtuText}" is not an MTU (576–65535)`, '--target-mtu');
  const bundles = strList(p, 'from');
  const collector = str(p, 'collector');
  let inv: ClusterInventory | undefined;
  let nodes: readonly NodeFingerprint[];
  if (collector !== undefined) {
    const other = [...(['cluster', 'kubeconfig'] as const).filter((f) => str(p, f) !== undefined), ...(bundles.length ? ['from'] : [])];
    if (other.length) throw new UsageError(`gives the cluster and the nodes' fingerprints itself: it cannot be combined with ${other.map((f) => `--${f}`).join(', ')}`, '--collector');
    const got = await migrationInputsFromCollector(collector, await connectionFromFlags(p));
    inv = got.inventory;
    nodes = got.nodes;
    process.stderr.write(`netconform migrate check: ${nodes.length} node fingerprint${nodes.length === 1 ? '' : 's'} from the collector at ${collector} (oldest reported ${got.oldestReportedAt})${inv ? '' : '; the collector watches no cluster, so NetworkPolicies, CIDRs, pods and DaemonSets are not judged'}\n`);
  } else {
    const objects = await clusterObjects(str(p, 'cluster'), str(p, 'kubeconfig'));
    if (!objects && bundles.length === 0) throw new UsageError('give the cluster (--cluster FILE or --kubeconfig) and/or node bundles (--from DIR), or --collector HOST:PORT');
    inv = objects ? clusterInventory(objects) : undefined;
    nodes = bundles.map((dir) => fingerprintNode(readBundle(dir)));
  }
  if (proxyTarget) {
    const report = proxyMigrationCheck(proxyTarget, nodes, inv, {
      ...(kubeProxyVersion !== undefined ? { targetVersion: kubeProxyVersion.replace(/^v/, '') } : {}), localhostNodePortProxy: bool(p, 'localhost-nodeport-proxy'),
    });
    const text = format === 'json' ? JSON.stringify(report, null, 2) + '\n'
      : format === 'markdown' ? formatMigrationMarkdown(report)
      : format === 'html' ? formatProxyMigrationHtml(report)
      : formatMigrationTable(report);
    const out = str(p, 'out');
    if (out) writeFileSync(out, text);
    else process.stdout.write(text);
    return report.ready ? EXIT_OK : EXIT_FINDINGS;
  }
  if (!target) throw new UsageError(`"${to}" is not a known target`, '--to');
  const report = migrationCheck(target, nodes, inv, {
    ...(podCidr ? { targetPodCidr: podCidr } : {}), ...(mtu !== undefined ? { targetMtu: mtu } : {}), declaredCidrs: strList(p, 'declared-cidr'),
  });
  const text = format === 'json' ? JSON.stringify(report, null, 2) + '\n'
    : format === 'markdown' ? formatMigrationMarkdown(report)
    : format === 'html' ? formatMigrationHtml(report, target, { ...(podCidr ? { targetPodCidr: podCidr } : {}), ...(mtu !== undefined ? { targetMtu: mtu } : {}) })
    : formatMigrationTable(report);
  const out = str(p, 'out');
  if (out) writeFileSync(out, text);
  else process.stdout.write(text);
  return report.ready ? EXIT_OK : EXIT_FINDINGS;
}

export const migrateCommand: Command = {
  summary: 'CNI and kube-proxy mode migration readiness: migrate check --to PROFILE',
  async run(argv) {
    const [name, ...rest] = argv;
    if (name === 'check') return migrateCheck(rest);
    if (name === undefined || name === '-h' || name === '--help') {
      process.stdout.write(MIGRATE_HELP);
      return EXIT_OK;
    }
    throw new UsageError(`unknown migrate command "${name}" (see netconform migrate --help)`);
  },
};

const DIFF_HELP = `Usage: netconform diff BEFORE_DIR AFTER_DIR [--cluster FILE] [--format text|json]

Two bundles of one node (netconform-agent capture): what changed in its data path (links,
routes, CNI config, masquerade rules, proxy mode, rule counts) and which check results flipped.
With --cluster (kubectl get nodes,services,endpointslices -A -o yaml) every Service port is
judged in both bundles: the output says how many got the same verdict and names each that did
not — after a kube-proxy mode switch, the proof that every Service still routes.
Exit 0 when nothing changed, 1 when something did, 2 on bad input.
`;

export const diffCommand: Command = {
  summary: 'what changed between two bundles of one node',
  async run(argv) {
    const p = parseFlags(argv, { format: { type: 'string' }, cluster: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, true);
    if (bool(p, 'help')) {
      process.stdout.write(DIFF_HELP);
      return EXIT_OK;
    }
    if (p.positionals.length !== 2) throw new UsageError('takes two bundle directories: BEFORE_DIR AFTER_DIR (see netconform diff --help)');
    const format = choice(str(p, 'format'), ['text', 'json'] as const, '--format', 'text');
    const [beforeDir, afterDir] = p.positionals as [string, string];
    const before = readBundle(beforeDir), after = readBundle(afterDir);
    const clusterFile = str(p, 'cluster');
    const cluster = clusterFile !== undefined ? readClusterFile(clusterFile) : undefined;
    const d = diffSnapshots(before, after, { before: scanSnapshot(before, cluster), after: scanSnapshot(after, cluster) });
    process.stdout.write(format === 'json' ? JSON.stringify(d, null, 2) + '\n' : formatDiffText(d));
    const same = !d.links.added.length && !d.links.removed.length && !d.links.changed.length && !d.routes.added.length && !d.routes.removed.length
      && !d.cni && !d.dataPath && !d.masquerade && !d.proxyMode && !d.ruleCounts.length && !d.checks.length && !d.services.changed.length;
    return same ? EXIT_OK : EXIT_FINDINGS;
  },
};
