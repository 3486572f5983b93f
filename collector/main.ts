#!/usr/bin/env node
// netconform-collector: receives agent reports, serves queries and /metrics.
import { runMain, parseFlags, str, bool, logLevelFlag, onShutdown, strList } from '../common/cli.js';
import { EXIT_OK } from '../common/errors.js';
import { createLogger } from '../common/log.js';
import { parseDuration } from '../common/duration.js';
import { readClusterFile } from '../common/cluster.js';
import { VERSION } from '../common/version.js';
import { startCollector } from './collector.js';
import { STORE_AUDIT_FLAGS, STORE_AUDIT_HELP, preparePsaStore, storeAuditOptions } from './audit/attach.js';

const HELP = `netconform-collector ${VERSION} — receives netconform agent reports, serves queries and metrics

Usage: netconform-collector [flags]

  --grpc-listen HOST:PORT   agents and the query CLI (default 0.0.0.0:9443)
  --http-listen HOST:PORT   /metrics, /healthz, /readyz (default 0.0.0.0:8080)
  --cluster FILE            static cluster context pushed to agents ('kubectl get nodes,services,endpointslices -A -o yaml')
  --service-cidr CIDR       the cluster's Service CIDR (repeatable)
  --cluster-cidr CIDR       the cluster-wide pod CIDR
  --node-retention DURATION forget a node (and its metric series) disconnected this long (default 24h)
  --log-level LEVEL         debug, info, warn, error (default info)
  -h, --help                this help
${STORE_AUDIT_HELP}
Shuts down cleanly on SIGTERM/SIGINT within 5 s.
`;

async function main(argv: string[]): Promise<number> {
  const p = parseFlags(argv, {
    'grpc-listen': { type: 'string' },
    'http-listen': { type: 'string' },
    cluster: { type: 'string' },
    'service-cidr': { type: 'string', multiple: true },
    'cluster-cidr': { type: 'string' },
    'node-retention': { type: 'string' },
    'log-level': { type: 'string' },
    help: { type: 'boolean', short: 'h' },
    version: { type: 'boolean' },
    ...STORE_AUDIT_FLAGS,
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
  const psa = preparePsaStore(storeAuditOptions(p), log);
  const collector = await startCollector({
    ...psa.collectorOptions,
    grpcListen: str(p, 'grpc-listen') ?? '0.0.0.0:9443',
    httpListen: str(p, 'http-listen') ?? '0.0.0.0:8080',
    nodeRetentionMs: parseDuration(str(p, 'node-retention') ?? '24h', '--node-retention'),
    log,
    ...(staticContext ? { staticContext } : {}),
  });
  try {
    await psa.start(collector);
  } catch (err) {
    await collector.stop();
    await psa.stop();
    throw err;
  }
  await onShutdown(async (signal) => {
    log.info('shutting down', { signal });
    await collector.stop();
    await psa.stop();
    log.info('stopped');
  });
  return EXIT_OK;
}

runMain('netconform-collector', main);
