// Wires the durable store and the Pod Security inputs into a collector, self-contained so
// collector/main.ts needs three lines and knows nothing of SQLite or audit events:
//
//   const psa = preparePsaStore(storeAuditOptions(flags), log);   // opens + migrates the db
//   const collector = await startCollector({ ...base, ...psa.collectorOptions });
//   await psa.start(collector);                                   // webhook, replay, retention
//
// collectorOptions carries the store's NodeSink (reports + finding history, committed before
// the agent's Ack), the reports to restore (stale until re-reported), the FindingHistory and the
// nodes' findings (kept in the store, not in the registry's memory), the
// shared metrics registry, PsaQueryService, and the namespace label lint as a context sink.
import type { Registry } from 'prom-client';
import type { Options, Parsed } from '../../common/cli.js';
import { str, strList, bool } from '../../common/cli.js';
import { UsageError } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import { parseDuration } from '../../common/duration.js';
import { loadContract } from '../../common/proto.js';
import { createMetricsRegistry } from '../metrics.js';
import type { Collector, CollectorOptions } from '../collector.js';
import { splitHostPort } from '../collector.js';
import { openStore, DEFAULT_DB_PATH, type Store } from '../store/store.js';
import { ReportStore } from '../store/reports.js';
import { AuditEventStore } from '../store/audit-events.js';
import { startRetention, type Retention } from '../store/retention.js';
import { NamespaceLabelsTracker } from '../psa-labels/tracker.js';
import { HealthChecks, type HealthResult } from '../health.js';
import { DEFAULT_EXEMPT_NAMESPACES } from '../psa-labels/lint.js';
import { PsaMetrics } from './metrics.js';
import { AuditIngest } from './ingest.js';
import { startAuditWebhook, DEFAULT_AUDIT_MAX_BODY, DEFAULT_AUDIT_PATH, type AuditWebhook } from './webhook.js';
import { replayAuditLog } from './replay.js';
import { createPsaQueryService } from './queries.js';
import { READ_PODSECURITY } from '../auth/authorize.js';
import { DEFAULT_LISTENER_LIMITS, type ListenerLimits } from '../slow-clients.js';

export const STORE_AUDIT_FLAGS = {
  db: { type: 'string' },
  retention: { type: 'string' },
  'audit-listen': { type: 'string' },
  'audit-tls-cert': { type: 'string' },
  'audit-tls-key': { type: 'string' },
  'audit-client-ca': { type: 'string' },
  'audit-insecure': { type: 'boolean' },
  'audit-path': { type: 'string' },
  'audit-max-body': { type: 'string' },
  'audit-header-timeout': { type: 'string' },
  'audit-max-connections': { type: 'string' },
  'audit-log': { type: 'string' },
  'psa-exempt-namespace': { type: 'string', multiple: true },
} as const satisfies Options;

export const STORE_AUDIT_HELP = `
Store and Pod Security:
  --db PATH                 SQLite store for reports, finding history and audit events (default ${DEFAULT_DB_PATH}; :memory: for none)
  --retention DURATION      prune audit events and closed finding history older than this (default 30d)
  --audit-listen HOST:PORT  serve the API server's audit webhook (audit.k8s.io/v1 EventList) here
  --audit-tls-cert FILE     its TLS certificate (PEM)
  --audit-tls-key FILE      its TLS key (PEM)
  --audit-client-ca FILE    require a client certificate signed by this CA (the API server's)
  --audit-insecure          plain HTTP instead of TLS (tests and demos only)
  --audit-path PATH         the webhook's URL path (default ${DEFAULT_AUDIT_PATH})
  --audit-max-body SIZE     refuse larger bodies with 413 (default 12Mi)
  --audit-header-timeout DURATION
                            a client gets this long for its TLS handshake and again for its request headers (default 10s; slow clients are cut)
  --audit-max-connections N connections beyond this are closed at once (default 1024)
  --audit-log FILE          replay a JSON-lines audit log (log backend format) at start-up
  --psa-exempt-namespace NS namespaces the label lint skips (repeatable; default ${DEFAULT_EXEMPT_NAMESPACES.join(', ')})

`;

export interface StoreAuditOptions {
  readonly dbPath: string;
  readonly retentionMs: number;
  readonly audit?: {
    readonly listen: { host: string; port: number };
    readonly tlsCert?: string;
    readonly tlsKey?: string;
    readonly clientCA?: string;
    readonly insecure: boolean;
    readonly path: string;
    readonly maxBodyBytes: number;
    readonly limits: ListenerLimits;
  };
  readonly auditLog?: string;
  readonly exemptNamespaces: readonly string[];
}

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1e3, kb: 1e3, ki: 1024, kib: 1024, m: 1e6, mb: 1e6, mi: 1024 ** 2, mib: 1024 ** 2, g: 1e9, gb: 1e9, gi: 1024 ** 3, gib: 1024 ** 3 };

/** `12Mi`, `10MB`, `1048576` → bytes. */
export function parseByteSize(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-zA-Z]*)$/.exec(text.trim());
  const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new UsageError(`invalid size "${text}" (use forms like 12Mi, 10MB, 1048576)`, flag);
  const n = Math.floor(Number(m[1]) * unit);
  if (n < 1024) throw new UsageError(`"${text}" is too small (at least 1024 bytes)`, flag);
  return n;
}

function auditListenerLimits(p: Parsed): ListenerLimits {
  const timeoutText = str(p, 'audit-header-timeout');
  const headersTimeoutMs = timeoutText ? parseDuration(timeoutText, '--audit-header-timeout') : DEFAULT_LISTENER_LIMITS.headersTimeoutMs;
  if (headersTimeoutMs < 100 || headersTimeoutMs > DEFAULT_LISTENER_LIMITS.requestTimeoutMs) throw new UsageError(`"${timeoutText}" is outside 100ms–60s`, '--audit-header-timeout');
  const maxText = str(p, 'audit-max-connections');
  const maxConnections = maxText === undefined ? DEFAULT_LISTENER_LIMITS.maxConnections : Number(maxText);
  if (!Number.isInteger(maxConnections) || maxConnections < 1) throw new UsageError(`"${maxText}" is not a number of connections (1 or more)`, '--audit-max-connections');
  return { ...DEFAULT_LISTENER_LIMITS, headersTimeoutMs, handshakeTimeoutMs: headersTimeoutMs, maxConnections };
}

export function storeAuditOptions(p: Parsed): StoreAuditOptions {
  const listen = str(p, 'audit-listen');
  const insecure = bool(p, 'audit-insecure');
  const cert = str(p, 'audit-tls-cert');
  const key = str(p, 'audit-tls-key');
  const ca = str(p, 'audit-client-ca');
  if (listen) {
    if (!insecure && (!cert || !key)) throw new UsageError('needs --audit-tls-cert and --audit-tls-key (or --audit-insecure for plain HTTP)', '--audit-listen');
    if (insecure && (cert || key || ca)) throw new UsageError('cannot be combined with --audit-tls-cert, --audit-tls-key or --audit-client-ca', '--audit-insecure');
  } else if (cert || key || ca || insecure || str(p, 'audit-path') || str(p, 'audit-max-body') || str(p, 'audit-header-timeout') || str(p, 'audit-max-connections')) {
    throw new UsageError('audit webhook flags need --audit-listen HOST:PORT', '--audit-listen');
  }
  const exempt = strList(p, 'psa-exempt-namespace');
  const auditLog = str(p, 'audit-log');
  return {
    dbPath: str(p, 'db') ?? DEFAULT_DB_PATH,
    retentionMs: parseDuration(str(p, 'retention') ?? '30d', '--retention'),
    ...(listen ? {
      audit: {
        listen: splitHostPort(listen, '--audit-listen'),
        ...(cert ? { tlsCert: cert } : {}), ...(key ? { tlsKey: key } : {}), ...(ca ? { clientCA: ca } : {}),
        insecure,
        path: str(p, 'audit-path') ?? DEFAULT_AUDIT_PATH,
        maxBodyBytes: str(p, 'audit-max-body') ? parseByteSize(str(p, 'audit-max-body')!, '--audit-max-body') : DEFAULT_AUDIT_MAX_BODY,
        limits: auditListenerLimits(p),
      },
    } : {}),
    ...(auditLog ? { auditLog } : {}),
    exemptNamespaces: exempt.length ? exempt : DEFAULT_EXEMPT_NAMESPACES,
  };
}

export interface PsaStoreWiring {
  readonly store: Store;
  readonly reports: ReportStore;
  readonly events: AuditEventStore;
  readonly metrics: PsaMetrics;
  readonly ingest: AuditIngest;
  readonly labels: NamespaceLabelsTracker;
  readonly collectorOptions: Pick<CollectorOptions, 'metricsRegistry' | 'restore' | 'sinks' | 'history' | 'findings' | 'services' | 'health' | 'contextSinks'>;
  /** The audit webhook, once start() ran with --audit-listen. */
  webhook(): AuditWebhook | undefined;
  start(collector: Collector): Promise<void>;
  stop(): Promise<void>;
}

export function preparePsaStore(opts: StoreAuditOptions, log: Logger, metricsRegistry: Registry = createMetricsRegistry()): PsaStoreWiring {
  const store = openStore(opts.dbPath);
  const reports = new ReportStore(store);
  const events = new AuditEventStore(store);
  const metrics = new PsaMetrics(metricsRegistry);
  const ingest = new AuditIngest(events, metrics, log.child({ input: 'audit' }));
  const labels = new NamespaceLabelsTracker({ metrics, store, exempt: new Set(opts.exemptNamespaces) });
  const restore = reports.loadReports();
  log.info('store opened', { db: opts.dbPath, schema: store.schemaVersion, reports: restore.length, events: events.count() });
  const contract = loadContract();
  const health = new HealthChecks();
  health.add('store', () => storeHealth(store, events));
  let webhook: AuditWebhook | undefined;
  let retention: Retention | undefined;
  let stopped = false;
  let replay: Promise<unknown> | undefined;
  const replayAbort = new AbortController();
  return {
    store, reports, events, metrics, ingest, labels,
    collectorOptions: {
      metricsRegistry, restore, sinks: [reports], history: reports, findings: reports, health, contextSinks: [labels],
      services: [{ definition: contract.PsaQueryService.service, handlers: createPsaQueryService({ events, labels }), check: READ_PODSECURITY }],
    },
    webhook: () => webhook,
    async start() {
      retention = startRetention({ store, events, retentionMs: opts.retentionMs, log });
      if (opts.audit) webhook = await startAuditWebhook({ ...opts.audit, ingest, metrics, registry: metricsRegistry, log: log.child({ input: 'audit-webhook' }) });
      if (opts.auditLog) {
        const file = opts.auditLog;
        // In the background: a large backfill must not hold up the listeners.
        replay = replayAuditLog(file, ingest, metrics, 1000, replayAbort.signal).then(
          (r) => log.info('audit log replayed', { file, lines: r.lines, stored: r.inserted, duplicates: r.duplicates, rejected: r.rejected, errors: r.errors }),
          (err: unknown) => log.error('audit log replay failed', { file, err: err instanceof Error ? err.message : String(err) }),
        );
      }
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      retention?.stop();
      replayAbort.abort();
      await replay;
      await webhook?.close();
      store.close();
    },
  };
}

/** An audit batch the writer thread has held this long means it is wedged (a commit takes ms). */
const WRITER_BACKLOG_LIMIT_MS = 60_000;

/** The store answers a query on the main connection, and the audit writer thread keeps up. */
function storeHealth(store: Store, events: AuditEventStore): HealthResult {
  store.db.prepare('SELECT 1').get();
  const backlog = events.writerBacklogAgeMs();
  if (backlog > WRITER_BACKLOG_LIMIT_MS) return { ok: false, detail: `the audit writer has held a batch for ${Math.round(backlog / 1000)} s` };
  return { ok: true, detail: `${store.path} answers${events.threaded ? `, audit writer backlog ${backlog} ms` : ''}` };
}
