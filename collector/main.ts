#!/usr/bin/env node
// netconform-collector: receives agent reports, serves queries and /metrics.
import '../common/heap-policy.js'; // first: the GC policy applies to everything loaded after it
import { runMain, parseFlags, str, bool, choice, logLevelFlag, onShutdown, strList, type Parsed } from '../common/cli.js';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../common/log.js';
import { PolicyReportWriter } from './policy-reports/writer.js';
import { namespaceFindings } from './policy-reports/psa-findings.js';
import { EXIT_OK } from '../common/errors.js';
import { createLogger } from '../common/log.js';
import { parseDuration } from '../common/duration.js';
import { readClusterFile, readKubeObjectsFile } from '../common/cluster.js';
import { fileInventorySource, watchInventorySource } from './migration-inventory.js';
import { VERSION } from '../common/version.js';
import { startCollector } from './collector.js';
import { STORE_AUDIT_FLAGS, STORE_AUDIT_HELP, preparePsaStore, storeAuditOptions, type PsaStoreWiring } from './audit/attach.js';
import { UsageError } from '../common/errors.js';
import { ClusterWatcher } from '../kube/watcher.js';
import { inClusterAvailable, loadKubeConfig } from '../kube/config.js';
import { kubernetesMinorFlag, versionFlag } from '../psa/flags.js';
import { TRUST_FLAGS, TRUST_HELP, trustSettings } from './auth/flags.js';

const HELP = `netconform-collector ${VERSION} — receives netconform agent reports, serves queries and metrics

Usage: netconform-collector [flags]

  --grpc-listen HOST:PORT   agents and the query CLI (default 0.0.0.0:9443)
  --http-listen HOST:PORT   /metrics, /healthz, /readyz (default 0.0.0.0:8080)
  --kubeconfig FILE         watch the Kubernetes API with this kubeconfig (default: in-cluster when running in a Pod);
                            also the API server that reviews tokens (with --cluster: only that)
  --no-kube                 do not watch the Kubernetes API even in a cluster
  --cluster FILE            static cluster context instead of the API ('kubectl get nodes,services,endpointslices,
                            namespaces,pods,networkpolicies,daemonsets -A -o yaml'; the last two for migrate check)
  --kubernetes-version 1.N  the cluster's version, resolving Pod Security "latest" (default: newest known)
  --psa-version V           policy version netconform_psa_namespace_ready is judged at (default latest)
  --service-cidr CIDR       the cluster's Service CIDR (repeatable)
  --cluster-cidr CIDR       the cluster-wide pod CIDR
  --node-retention DURATION forget a node (and its metric series) disconnected this long (default 24h)
  --policy-reports FLAVOUR  keep results in the cluster as PolicyReports: wgpolicyk8s (wgpolicyk8s.io/v1alpha2,
                            what Kyverno's policy-reporter reads), openreports (openreports.io/v1alpha1) or off
                            (default); needs the API (--kubeconfig or in-cluster) and the RBAC component
  --policy-report-interval DURATION
                            how often namespace PolicyReports are refreshed from recorded admission results (default 60s)
  --metrics-detail          netconform_findings per node, check, status and severity (default: per node and status;
                            one series per check, status and severity present on each node)
  --log-level LEVEL         debug, info, warn, error (default info)
  -h, --help                this help
${TRUST_HELP}${STORE_AUDIT_HELP}
Shuts down cleanly on SIGTERM/SIGINT within 5 s.
`;

async function main(argv: string[]): Promise<number> {
  const p = parseFlags(argv, {
    'grpc-listen': { type: 'string' },
    'http-listen': { type: 'string' },
    cluster: { type: 'string' },
    kubeconfig: { type: 'string' },
    'no-kube': { type: 'boolean' },
    'kubernetes-version': { type: 'string' },
    'psa-version': { type: 'string' },
    'service-cidr': { type: 'string', multiple: true },
    'cluster-cidr': { type: 'string' },
    'node-retention': { type: 'string' },
    'policy-reports': { type: 'string' },
    'policy-report-interval': { type: 'string' },
    'metrics-detail': { type: 'boolean' },
    'log-level': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
    version: { type: 'boolean' },
    ...STORE_AUDIT_FLAGS,
    ...TRUST_FLAGS,
  });
  if (bool(p, 'help')) {
    process.stdout.write(HELP);
    return EXIT_OK;
  }
  if (bool(p, 'version')) {
    process.stdout.write(`netconform-collector ${VERSION}\n`);
    return EXIT_OK;
  }
  const log = createLogger({ component: 'collector' }, logLevelFlag(p));
  const clusterFile = str(p, 'cluster');
  const clusterCIDR = str(p, 'cluster-cidr');
  const staticContext = clusterFile
    ? readClusterFile(clusterFile, { serviceCIDRs: strList(p, 'service-cidr'), ...(clusterCIDR ? { clusterCIDR } : {}), onSkip: (reason) => log.warn('cluster object skipped', { file: clusterFile, reason }) })
    : undefined;
  // The migration inventory reads every kind of the same file (NetworkPolicies, DaemonSets).
  const migration = clusterFile ? fileInventorySource(readKubeObjectsFile(clusterFile)) : undefined;
  const kubeconfig = str(p, 'kubeconfig');
  // With --cluster the context comes from the file; a --kubeconfig then only authenticates.
  const watchKube = !clusterFile && !bool(p, 'no-kube') && (kubeconfig !== undefined || inClusterAvailable());
  const kubeConfig = watchKube ? loadKubeConfig(kubeconfig) : undefined;
  // Authentication asks the same API server (even with --cluster or --no-kube for the context).
  const trust = trustSettings(p, () => kubeConfig ?? loadKubeConfig(kubeconfig, '--auth kubernetes'), log);
  const psaVersion = versionFlag(str(p, 'psa-version'), '--psa-version');
  const kubernetesMinor = kubernetesMinorFlag(str(p, 'kubernetes-version'));
  const psa = preparePsaStore(storeAuditOptions(p), log);
  const policyReports = policyReportWriterFromFlags(p, kubeConfig, psa, log);
  let watcher: ClusterWatcher | undefined;
  const collector = await startCollector({
    ...psa.collectorOptions,
    ...(policyReports ? { sinks: [...(psa.collectorOptions.sinks ?? []), policyReports] } : {}),
    grpcListen: str(p, 'grpc-listen') ?? '0.0.0.0:9443',
    httpListen: str(p, 'http-listen') ?? '0.0.0.0:8080',
    metricsDetail: bool(p, 'metrics-detail'),
    nodeRetentionMs: parseDuration(str(p, 'node-retention') ?? '24h', '--node-retention'),
    log,
    ...(staticContext ? { staticContext } : {}),
    psa: { version: psaVersion, kubernetesMinor },
    ...(trust.tls ? { tls: trust.tls } : {}),
    access: trust.access,
    limits: trust.limits,
    ...(kubeConfig ? { ready: () => watcher?.synced ?? false } : {}),
    ...(migration ? { migration } : kubeConfig ? { migration: watchInventorySource(() => watcher) } : {}),
  });
  // The Kubernetes watch feeds the collector's own consumers (label lint, Pod Security
  // readiness and what-if), as a --cluster file would. Agents watch the API themselves.
  if (kubeConfig) {
    watcher = new ClusterWatcher({
      kubeConfig,
      cluster: { serviceCIDRs: strList(p, 'service-cidr'), ...(clusterCIDR ? { clusterCIDR } : {}) },
      logger: log.child({ input: 'kube' }),
      onContext: (ctx) => collector.updateContext(ctx),
    });
    watcher.start();
    log.info('watching the Kubernetes API', { kubeconfig: kubeconfig ?? 'in-cluster' });
  } else if (!staticContext) {
    log.info('no cluster context source (no --kubeconfig, --cluster, or in-cluster ServiceAccount): Pod Security what-if and namespace lint have no cluster');
  }
  try {
    await psa.start(collector);
    policyReports?.start();
  } catch (err) {
    await collector.stop();
    await psa.stop();
    throw err;
  }
  await onShutdown(async (signal) => {
    log.info('shutting down', { signal });
    await watcher?.stop();
    await collector.stop();
    await policyReports?.stop();
    await psa.stop();
    log.info('stopped');
  });
  return EXIT_OK;
}

/** Pod Security findings per namespace are reported over this window of recorded admission results. */
const POLICY_REPORT_PSA_WINDOW_MS = 24 * 3600_000;

function policyReportWriterFromFlags(p: Parsed, kubeConfig: KubeConfig | undefined, psa: PsaStoreWiring, log: Logger): PolicyReportWriter | undefined {
  const flavour = choice(str(p, 'policy-reports'), ['wgpolicyk8s', 'openreports', 'off'] as const, '--policy-reports', 'off');
  // Checked whatever --policy-reports says: a bad value is refused, not silently unused.
  const interval = str(p, 'policy-report-interval');
  const refreshMs = interval === undefined ? 60_000 : parseDuration(interval, '--policy-report-interval');
  if (refreshMs < 1000) throw new UsageError(`"${interval}" is below 1s`, '--policy-report-interval');
  if (flavour === 'off') return undefined;
  if (!kubeConfig) throw new UsageError('needs the Kubernetes API to write to (--kubeconfig, or in-cluster); --cluster and --no-kube have none', '--policy-reports');
  return new PolicyReportWriter({
    kubeConfig, flavour, log, metricsRegistry: psa.collectorOptions.metricsRegistry!, refreshMs,
    namespaceFindings: () => namespaceFindings(
      psa.labels.lint().namespaces,
      psa.events.summary({ sinceMs: Date.now() - POLICY_REPORT_PSA_WINDOW_MS }).controls,
      '24h',
    ),
  });
}

runMain('netconform-collector', main);
