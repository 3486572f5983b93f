// The agent's long-running loop: scan on start and every interval (jittered so a fleet
// does not scan in lockstep), on ScanNow, and when the cluster context changes (the
// agent's own API watch, coalesced); each scan becomes a report. With the API as the
// source the first scan waits (up to FIRST_CONTEXT_WAIT_MS) for the first complete
// context, so the first report is not one without Services. Later changes are scanned once
// kube-proxy has synced past them, or the settle window ends (rescan-policy.ts), not in
// lockstep with kube-proxy. A scan re-dumps and re-judges only what changed, with a fresh
// dump at least every --reverify, and every check when the collector asks (steady-scan.ts).
// Errors are logged and retried; the agent never exits on them.
import { createLogger, type LogLevel } from '../common/log.js';
import { parseDuration } from '../common/duration.js';
import { onShutdown } from '../common/cli.js';
import { EXIT_OK } from '../common/errors.js';
import { VERSION } from '../common/version.js';
import type { NodeSnapshot } from './snapshot.js';
import { DEFAULT_PROXY_FACTS_INTERVAL, DEFAULT_REVERIFY, SteadyScanner } from './steady-scan.js';
import { DEFAULT_BACKOFF, Reporter, type ReporterConnection } from './reporter.js';
import { HealthFile } from './health.js';
import type { ClusterSource } from './cluster-source.js';
import { RescanScheduler } from './rescan-policy.js';

/** How long the first scan waits for the API watch's first context before going without. */
export const FIRST_CONTEXT_WAIT_MS = 30_000;
import { boundFindings } from './report/bound.js';

export interface AgentRunOptions {
  readonly collector: string;
  readonly intervalText: string;
  readonly node: string;
  readonly logLevel: LogLevel;
  /**
   * Reads the node; with a generation, leaves the rules out while nf_tables is still at it;
   * with `proxyFacts` false, leaves out the kube-proxy migration facets.
   */
  readonly inspect: (dataplaneUnlessGeneration: number | undefined, proxyFacts: boolean) => Promise<NodeSnapshot>;
  /** A full scan (fresh dump, every check) at least this often; 0: every scan (default 10m). */
  readonly reverifyMs?: number;
  /** The kube-proxy migration facts are read at least this often; 0: every scan (default 10m). */
  readonly proxyFactsMs?: number;
  /** Where the health signal goes (agent/health.ts); undefined: none. */
  readonly healthFile?: string;
  /** The cluster context: the API watch, a file, or none (agent/cluster-source.ts). */
  readonly cluster: ClusterSource;
  readonly firstContextWaitMs?: number;
  readonly connection: ReporterConnection;
  /** After a context change: wait up to this long for kube-proxy to sync before scanning. */
  readonly settleMs: number;
  /** kube-proxy's last successful sync (epoch ms), undefined when unknown. */
  readonly kubeProxyLastSync: () => Promise<number | undefined>;
}

export function jittered(ms: number, fraction = 0.1, random = Math.random): number {
  return Math.round(ms * (1 - fraction + 2 * fraction * random()));
}

export async function runAgent(opts: AgentRunOptions): Promise<number> {
  const intervalMs = parseDuration(opts.intervalText, '--interval');
  const log = createLogger({ component: 'agent', node: opts.node }, opts.logLevel);
  const health = opts.healthFile ? new HealthFile(opts.healthFile, log) : undefined;
  const scanner = new SteadyScanner({
    reverifyMs: opts.reverifyMs ?? parseDuration(DEFAULT_REVERIFY, '--reverify'),
    proxyFactsMs: opts.proxyFactsMs ?? parseDuration(DEFAULT_PROXY_FACTS_INTERVAL, '--proxy-facts-interval'),
    inspect: opts.inspect,
  });
  let timer: NodeJS.Timeout | undefined;
  let scanning = false;
  let again = false;
  let stopped = false;
  // Context changes are scanned once kube-proxy has caught up (see rescan-policy.ts).
  const rescan = new RescanScheduler({ settleMs: opts.settleMs, lastSync: opts.kubeProxyLastSync, scan: (why) => void scan(why) });
  const scheduleAfterContextChange = (changedAtMs: number): void => rescan.scheduleAfterContextChange(changedAtMs);

  const reporter = new Reporter(opts.collector, opts.node, VERSION, log, {
    onScanNow(reason) {
      void scan(`collector asked: ${reason || 'scan now'}`, true);
    },
    onAck(sequence) {
      health?.reportAcked();
      log.debug('report acknowledged', { sequence });
    },
  }, DEFAULT_BACKOFF, opts.connection);

  let againForced = false;
  async function scan(why: string, forced = false): Promise<void> {
    if (stopped) return;
    if (scanning) {
      again = true; // coalesce: one more scan after this one, not one per trigger
      againForced ||= forced;
      return;
    }
    scanning = true;
    if (timer) clearTimeout(timer);
    try {
      const started = Date.now();
      const { result, dumped, sameText, dumpReason, reused, proxyFactsRead, carried } = await scanner.scan(opts.cluster.current(), forced);
      const sequence = reporter.submit({
        scannedAt: result.scannedAt, proxyMode: result.proxyMode, cni: result.cni,
        checks: result.checks, ...boundFindings(result.findings),
        fingerprintJson: JSON.stringify(result.fingerprint),
      });
      health?.scanCompleted();
      const failed = result.findings.filter((f) => f.status === 'fail').length;
      log.info('scan complete', { why, sequence, durationMs: Date.now() - started, failed, findings: result.findings.length, rulesDumped: dumped, sameRules: sameText, dumpReason, reusedChecks: reused.length, proxyFactsRead, ...(carried ? { tracesCarried: carried.kept, tracesRetraced: carried.dropped } : {}) });
    } catch (err) {
      health?.scanFailed(err instanceof Error ? err.message : String(err));
      log.error('scan failed; will retry at the next interval', { why, err: err instanceof Error ? err.message : String(err) });
    } finally {
      scanning = false;
      if (!stopped) {
        if (again) {
          const f = againForced;
          again = false;
          againForced = false;
          void scan('coalesced trigger', f);
        } else {
          timer = setTimeout(() => void scan('interval'), jittered(intervalMs));
        }
      }
    }
  }

  log.info('agent starting', { collector: opts.collector, intervalMs, version: VERSION, cluster: opts.cluster.origin });
  reporter.start();
  let firstWait: NodeJS.Timeout | undefined;
  opts.cluster.start((ctx, update) => {
    const what = { services: ctx.services.length, nodes: ctx.nodes.length, changedServices: update.changes.services.length };
    if (update.initial) log.info('cluster context synced', what);
    else log.info('cluster context changed', what);
    if (firstWait) clearTimeout(firstWait);
    firstWait = undefined;
    if (update.initial) void scan('cluster context synced');
    // Service or Node changes wait for kube-proxy to program them; a change of this node's
    // Pods alone concerns no kube-proxy rule.
    else if (update.changes.services.length > 0 || update.changes.nodes || update.changes.serviceCIDRs) scheduleAfterContextChange(Date.now());
    else void scan('cluster context changed');
  });
  if (opts.cluster.origin === 'api' && !opts.cluster.current()) {
    firstWait = setTimeout(() => {
      firstWait = undefined;
      log.warn('no cluster context yet; scanning without it', { waitedMs: opts.firstContextWaitMs ?? FIRST_CONTEXT_WAIT_MS });
      void scan('start');
    }, opts.firstContextWaitMs ?? FIRST_CONTEXT_WAIT_MS);
  } else {
    void scan('start');
  }
  await onShutdown(async (signal) => {
    stopped = true;
    rescan.stop();
    if (timer) clearTimeout(timer);
    if (firstWait) clearTimeout(firstWait);
    log.info('shutting down', { signal });
    await Promise.all([reporter.stop(), opts.cluster.stop()]);
  });
  return EXIT_OK;
}
