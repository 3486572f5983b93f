// Assembles the collector: inputs (agent streams, cluster context sources) feed the node
// registry; sinks (metrics, store) hear about changes; servers expose the results.
import * as grpc from '@grpc/grpc-js';
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { loadContract, MAX_MESSAGE_BYTES } from '../common/proto.js';
import type { ClusterContext } from '../common/cluster.js';
import type { Logger } from '../common/log.js';
import { NodeRegistry } from './nodes.js';
import { NodeMetrics, createMetricsRegistry } from './metrics.js';
import { ContextHub } from './context-hub.js';
import { createAgentService, type AgentStreams } from './agent-service.js';
import { createQueryService } from './query-service.js';
import { createHttpServer, type Route } from './http.js';
import type { FindingHistory } from './history.js';
import { PsaReadiness, type PsaReadinessOptions } from './psa-readiness/readiness.js';
import type { NodeReport, NodeSink } from './nodes.js';

/** An extra gRPC service served next to AgentService and QueryService (e.g. PsaQueryService). */
export interface ExtraService {
  readonly definition: grpc.ServiceDefinition;
  readonly handlers: grpc.UntypedServiceImplementation;
}

export interface CollectorOptions {
  readonly grpcListen: string;
  readonly httpListen: string;
  readonly log: Logger;
  /** Forget nodes disconnected this long (ms); their metric series go with them. */
  readonly nodeRetentionMs: number;
  readonly staticContext?: ClusterContext;
  readonly routes?: Record<string, Route>;
  /** Use this metrics registry (so other modules can register on it first); default: a new one. */
  readonly metricsRegistry?: Registry;
  /** Reports known from before a restart (the store): restored, marked stale, before anything listens. */
  readonly restore?: readonly NodeReport[];
  /** More sinks (the store), added after the restore and before anything listens. */
  readonly sinks?: readonly NodeSink[];
  readonly history?: FindingHistory;
  readonly services?: readonly ExtraService[];
  /** Pod Security readiness: the version it is judged at and the cluster's minor version. */
  readonly psa?: PsaReadinessOptions;
  /** `--metrics-detail`: netconform_findings per check and severity too (more series per node). */
  readonly metricsDetail?: boolean;
  /** Extra readiness condition for /readyz (e.g. the Kubernetes watch has synced). */
  readonly ready?: () => boolean;
}

export interface Collector {
  readonly grpcPort: number;
  readonly httpPort: number;
  readonly registry: NodeRegistry;
  readonly metricsRegistry: Registry;
  readonly hub: ContextHub;
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
  const registry = new NodeRegistry();
  const metricsRegistry = opts.metricsRegistry ?? createMetricsRegistry();
  const metrics = new NodeMetrics(metricsRegistry, { detail: opts.metricsDetail ?? false });
  registry.addSink(metrics);
  if (opts.restore?.length) {
    registry.restore(opts.restore);
    log.info('restored last known reports (stale until their agents report)', { nodes: opts.restore.length });
  }
  for (const s of opts.sinks ?? []) registry.addSink(s);
  const hub = new ContextHub();
  if (opts.staticContext) hub.publish(opts.staticContext);

  const contract = loadContract();
  const { handlers, streams } = createAgentService({ registry, metrics, hub, log });
  const grpcServer = new grpc.Server({
    'grpc.max_receive_message_length': MAX_MESSAGE_BYTES,
    'grpc.max_send_message_length': MAX_MESSAGE_BYTES,
    'grpc.keepalive_time_ms': 30_000,
    'grpc.keepalive_timeout_ms': 10_000,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.http2.min_ping_interval_without_data_ms': 10_000,
    // Channelz keeps call counters and a trace per connection: ~1 KB each at 5,000 agents, unused.
    'grpc.enable_channelz': 0,
  });
  grpcServer.addService(contract.AgentService.service, handlers);
  const readiness = new PsaReadiness(metricsRegistry, log.child({ part: 'psa-readiness' }), opts.psa ?? {});
  const detachReadiness = readiness.attach(hub);
  grpcServer.addService(contract.QueryService.service, createQueryService({
    registry,
    ...(opts.history ? { history: opts.history } : {}),
    whatIf: (level, version, namespace) => readiness.whatIf(level, version, namespace),
  }));
  for (const svc of opts.services ?? []) grpcServer.addService(svc.definition, svc.handlers);
  const g = splitHostPort(opts.grpcListen, '--grpc-listen');
  const grpcPort = await new Promise<number>((resolve, reject) => {
    grpcServer.bindAsync(`${g.host.includes(':') ? `[${g.host}]` : g.host}:${g.port}`, grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(new Error(`--grpc-listen ${opts.grpcListen}: ${err.message}`)) : resolve(port)));
  });

  let ready = true;
  const http: HttpServer = createHttpServer({ registry: metricsRegistry, ready: () => ready && (opts.ready?.() ?? true), log, routes: opts.routes });
  const h = splitHostPort(opts.httpListen, '--http-listen');
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

  log.info('collector listening', { grpcPort, httpPort });
  return {
    grpcPort, httpPort, registry, metricsRegistry, hub, streams,
    async stop() {
      ready = false;
      clearInterval(pruneTimer);
      detachReadiness();
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
