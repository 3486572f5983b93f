// Assembles the collector: inputs (agent streams) feed the node registry; sinks (metrics,
// store) hear about changes; servers expose the results. The cluster context (a --cluster
// file or the collector's own Kubernetes watch) feeds only the collector's own consumers
// (Pod Security readiness and what-if, namespace label lint): agents watch the API
// server themselves, nothing is pushed to them.
import * as grpc from '@grpc/grpc-js';
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { loadContract, MAX_MESSAGE_BYTES } from '../common/proto.js';
import { countOversizedMessages } from './oversized-messages.js';
import type { ClusterContext } from '../common/cluster.js';
import type { Logger } from '../common/log.js';
import { NodeRegistry } from './nodes.js';
import { NodeMetrics, createMetricsRegistry } from './metrics.js';
import { createAgentService, type AgentStreams } from './agent-service.js';
import { createQueryService, type FindingList } from './query-service.js';
import { createHttpServer, type Route } from './http.js';
import { HealthChecks, grpcListenerProbe } from './health.js';
import type { FindingHistory } from './history.js';
import { PsaReadiness, type PsaReadinessOptions } from './psa-readiness/readiness.js';
import type { FindingKeeper, NodeReport, NodeSink } from './nodes.js';
import type { Server as HttpsServer } from 'node:https';
import { isLoopbackHost, type ServingCertificate } from '../common/tls.js';
import { OPEN_ACCESS, headerAuthorization, type CollectorAccess } from './auth/access.js';
import { READ_FINDINGS, READ_METRICS, READ_MIGRATION, READ_PODSECURITY, type AccessCheck } from './auth/authorize.js';
import type { MigrationInventorySource } from './migration-inventory.js';
import { guardUnaryHandlers } from './auth/guard.js';
import { TrustMetrics } from './auth/metrics.js';
import { DEFAULT_STREAM_LIMITS, type StreamLimits } from './limits.js';
import { ProbeMetrics } from './probe-metrics.js';

/** An extra gRPC service served next to AgentService and QueryService (e.g. PsaQueryService). */
export interface ExtraService {
  readonly definition: grpc.ServiceDefinition;
  readonly handlers: grpc.UntypedServiceImplementation;
  /** What a caller must be allowed to call it (collector/auth/authorize.ts). */
  readonly check: AccessCheck;
}

/** What each QueryService method reads (collector/auth/authorize.ts); the rest read findings. */
const QUERY_METHOD_CHECKS: Readonly<Record<string, AccessCheck>> = { PsaWhatIf: READ_PODSECURITY, MigrationInventory: READ_MIGRATION };

export interface CollectorOptions {
  readonly grpcListen: string;
  readonly httpListen: string;
  readonly log: Logger;
  /** Forget nodes disconnected this long (ms); their metric series go with them. */
  readonly nodeRetentionMs: number;
  /** A cluster context known at start (--cluster); the watch's contexts come through updateContext. */
  readonly staticContext?: ClusterContext;
  /** More consumers of the cluster context (the namespace label lint), next to PSA readiness. */
  readonly contextSinks?: readonly ClusterContextSink[];
  readonly routes?: Record<string, Route>;
  /** Use this metrics registry (so other modules can register on it first); default: a new one. */
  readonly metricsRegistry?: Registry;
  /** Reports known from before a restart (the store): restored, marked stale, before anything listens. */
  readonly restore?: readonly NodeReport[];
  /** More sinks (the store), added after the restore and before anything listens. */
  readonly sinks?: readonly NodeSink[];
  readonly history?: FindingHistory;
  /**
   * Keeps the nodes' current findings and lists them (the store): the registry then holds
   * each node's report without them, and ListFindings is answered from here.
   */
  readonly findings?: FindingKeeper & FindingList;
  readonly services?: readonly ExtraService[];
  /** Pod Security readiness: the version it is judged at and the cluster's minor version. */
  readonly psa?: PsaReadinessOptions;
  /** `--metrics-detail`: netconform_findings per check and severity too (more series per node). */
  readonly metricsDetail?: boolean;
  /** Extra readiness condition for /readyz (e.g. the Kubernetes watch has synced). */
  readonly ready?: () => boolean;
  /** /healthz probes of other parts (the store); the collector adds its gRPC listener's. */
  readonly health?: HealthChecks;
  /** Serve gRPC and HTTP over TLS with this certificate; undefined: plaintext (--insecure). */
  readonly tls?: ServingCertificate;
  /** Who may stream and read, built on the collector's metrics (default: everyone, for --insecure labs). */
  readonly access?: (metrics: TrustMetrics) => CollectorAccess;
  readonly limits?: StreamLimits;
  /** The cluster view for MigrationInventory (the watch or --cluster file); default: none. */
  readonly migration?: MigrationInventorySource;
}

/** Something in the collector that follows the cluster context. */
export interface ClusterContextSink {
  update(ctx: ClusterContext): void;
}

export interface Collector {
  readonly grpcPort: number;
  readonly httpPort: number;
  readonly registry: NodeRegistry;
  readonly metricsRegistry: Registry;
  /** The cluster context changed (the collector's Kubernetes watch): every context sink hears it. */
  updateContext(ctx: ClusterContext): void;
  readonly streams: AgentStreams;
  stop(): Promise<void>;
}

export function splitHostPort(listen: string, flag: string): { host: string; port: number } {
  const m = /^(.*):(\d+)$/.exec(listen);
  if (!m) throw new Error(`${flag}: "${listen}" is not HOST:PORT`);
  return { host: m[1]!.replace(/^\[(.*)\]$/, '$1') || '0.0.0.0', port: Number(m[2]) };
}

export async function startCollector(opts: CollectorOptions): Promise<Collector> {
  const { log } = opts;
  const registry = new NodeRegistry(opts.findings);
  const metricsRegistry = opts.metricsRegistry ?? createMetricsRegistry();
  const metrics = new NodeMetrics(metricsRegistry, { detail: opts.metricsDetail ?? false });
  registry.addSink(metrics);
  if (opts.restore?.length) {
    registry.restore(opts.restore);
    log.info('restored last known reports (stale until their agents report)', { nodes: opts.restore.length });
  }
  for (const s of opts.sinks ?? []) registry.addSink(s);
  // The probe mesh's counters; CNI pairs read each node's CNI from its agent's latest report.
  const probeMetrics = new ProbeMetrics(metricsRegistry, (node) => registry.get(node)?.report?.cni);
  registry.addSink(probeMetrics);

  const contract = loadContract();
  const trust = new TrustMetrics(metricsRegistry);
  const access = opts.access?.(trust) ?? OPEN_ACCESS;
  const { handlers, streams } = createAgentService({ registry, metrics, log, trust, access, limits: opts.limits ?? DEFAULT_STREAM_LIMITS, probeMetrics });
  const grpcServer = new grpc.Server({
    'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
    'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
    'grpc.keepalive_time_ms': 30_000,
    'grpc.keepalive_timeout_ms': 10_000,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.http2.min_ping_interval_without_data_ms': 10_000,
    // Channelz keeps call counters and a trace per connection: ~1 KB each at 5,000 agents, unused.
    'grpc.enable_channelz': 0,
    interceptors: [countOversizedMessages(() => trust.oversizedMessages.inc())],
  });
  grpcServer.addService(contract.AgentService.service, handlers);
  const readiness = new PsaReadiness(metricsRegistry, log.child({ part: 'psa-readiness' }), opts.psa ?? {});
  const contextSinks: readonly ClusterContextSink[] = [readiness, ...(opts.contextSinks ?? [])];
  const updateContext = (ctx: ClusterContext): void => {
    for (const sink of contextSinks) {
      try {
        sink.update(ctx);
      } catch (err) {
        log.error('cluster context consumer failed', { err: err instanceof Error ? err.message : String(err) });
      }
    }
  };
  if (opts.staticContext) updateContext(opts.staticContext);
  const queries = createQueryService({
    registry,
    ...(opts.history ? { history: opts.history } : {}),
    ...(opts.findings ? { findings: opts.findings } : {}),
    whatIf: (level, version, namespace) => readiness.whatIf(level, version, namespace),
    ...(opts.migration ? { migration: opts.migration } : {}),
  }) as unknown as grpc.UntypedServiceImplementation;
  grpcServer.addService(contract.QueryService.service, guardUnaryHandlers(queries, (m) => QUERY_METHOD_CHECKS[m] ?? READ_FINDINGS, access));
  for (const svc of opts.services ?? []) grpcServer.addService(svc.definition, guardUnaryHandlers(svc.handlers, () => svc.check, access));
  const g = splitHostPort(opts.grpcListen, '--grpc-listen');
  const h = splitHostPort(opts.httpListen, '--http-listen');
  if (!opts.tls) {
    for (const [flag, l] of [['--grpc-listen', g], ['--http-listen', h]] as const) {
      if (!isLoopbackHost(l.host)) log.warn('listening without TLS on a non-loopback address: anything that reaches it can read and write', { flag, host: l.host, port: l.port });
    }
  }
  const grpcPort = await new Promise<number>((resolve, reject) => {
    const creds = opts.tls ? opts.tls.serverCredentials() : grpc.ServerCredentials.createInsecure();
    grpcServer.bindAsync(`${g.host.includes(':') ? `[${g.host}]` : g.host}:${g.port}`, creds, (err, port) => (err ? reject(new Error(`--grpc-listen ${opts.grpcListen}: ${err.message}`)) : resolve(port)));
  });

  let ready = true;
  const health = opts.health ?? new HealthChecks();
  health.add('grpc', grpcListenerProbe(g.host, grpcPort, 1000, opts.tls !== undefined));
  const http: HttpServer = createHttpServer({
    registry: metricsRegistry, ready: () => ready && (opts.ready?.() ?? true), log, routes: opts.routes, health,
    ...(opts.tls ? { tls: opts.tls.secureContextOptions() } : {}),
    ...(access.enforcing ? {
      metricsGuard: async (req) => {
        const refusal = await access.authorize(headerAuthorization(req.headers), READ_METRICS, 'metrics');
        return refusal && { status: refusal.httpStatus, message: refusal.details };
      },
    } : {}),
  });
  const detachTls = opts.tls?.onChange((ctx) => (http as HttpsServer).setSecureContext(ctx));
  opts.tls?.start();
  await new Promise<void>((resolve, reject) => {
    http.once('error', (err) => reject(new Error(`--http-listen ${opts.httpListen}: ${err.message}`)));
    http.listen(h.port, h.host, () => resolve());
  });
  const httpPort = (http.address() as AddressInfo).port;

  const pruneTimer = setInterval(() => {
    const removed = registry.pruneDisconnected(opts.nodeRetentionMs);
    if (removed.length) log.info('forgot nodes disconnected past retention', { nodes: removed });
  }, Math.min(60_000, Math.max(1000, opts.nodeRetentionMs / 10)));
  pruneTimer.unref();

  log.info('collector listening', { grpcPort, httpPort, tls: opts.tls !== undefined, authentication: access.enforcing });
  return {
    grpcPort, httpPort, registry, metricsRegistry, streams, updateContext,
    async stop() {
      ready = false;
      clearInterval(pruneTimer);
      detachTls?.();
      opts.tls?.stop();
      readiness.stop();
      streams.closeAll();
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          grpcServer.forceShutdown();
          resolve();
        }, 2000);
        grpcServer.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
      await new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      });
    },
  };
}
