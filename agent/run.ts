// The agent's long-running loop: scan on start and every interval (jittered so a fleet
// does not scan in lockstep), on ScanNow, and when the cluster context changes; each
// scan becomes a report. Errors are logged and retried; the agent never exits on them.
import type { ClusterContext } from '../common/cluster.js';
import { createLogger, type LogLevel } from '../common/log.js';
import { parseDuration } from '../common/duration.js';
import { onShutdown } from '../common/cli.js';
import { EXIT_OK } from '../common/errors.js';
import { VERSION } from '../common/version.js';
import type { NodeSnapshot } from './snapshot.js';
import { scanSnapshot } from './scan.js';
import { Reporter } from './reporter.js';
import { boundFindings } from './report/bound.js';

export interface AgentRunOptions {
  readonly collector: string;
  readonly intervalText: string;
  readonly node: string;
  readonly logLevel: LogLevel;
  readonly inspect: () => Promise<NodeSnapshot>;
  /** Used until (or unless) the collector pushes a context. */
  readonly localCluster: ClusterContext | undefined;
}

export function jittered(ms: number, fraction = 0.1, random = Math.random): number {
  return Math.round(ms * (1 - fraction + 2 * fraction * random()));
}

export async function runAgent(opts: AgentRunOptions): Promise<number> {
  const intervalMs = parseDuration(opts.intervalText, '--interval');
  const log = createLogger({ component: 'agent', node: opts.node }, opts.logLevel);
  let cluster = opts.localCluster;
  let timer: NodeJS.Timeout | undefined;
  let scanning = false;
  let again = false;
  let stopped = false;

  const reporter = new Reporter(opts.collector, opts.node, VERSION, log, {
    onContext(ctx, version) {
      log.info('cluster context received', { version, services: ctx.services.length, nodes: ctx.nodes.length });
      cluster = ctx;
      void scan('cluster context changed');
    },
    onScanNow(reason) {
      void scan(`collector asked: ${reason || 'scan now'}`);
    },
    onAck(sequence) {
      log.debug('report acknowledged', { sequence });
    },
  });

  async function scan(why: string): Promise<void> {
    if (stopped) return;
    if (scanning) {
      again = true; // coalesce: one more scan after this one, not one per trigger
      return;
    }
    scanning = true;
    if (timer) clearTimeout(timer);
    try {
      const started = Date.now();
      const snapshot = await opts.inspect();
      const result = scanSnapshot(snapshot, cluster);
      const sequence = reporter.submit({
        scannedAt: result.scannedAt, proxyMode: result.proxyMode, cni: result.cni,
        checks: result.checks, ...boundFindings(result.findings),
      });
      const failed = result.findings.filter((f) => f.status === 'fail').length;
      log.info('scan complete', { why, sequence, durationMs: Date.now() - started, failed, findings: result.findings.length });
    } catch (err) {
      log.error('scan failed; will retry at the next interval', { why, err: err instanceof Error ? err.message : String(err) });
    } finally {
      scanning = false;
      if (!stopped) {
        if (again) {
          again = false;
          void scan('coalesced trigger');
        } else {
          timer = setTimeout(() => void scan('interval'), jittered(intervalMs));
        }
      }
    }
  }

  log.info('agent starting', { collector: opts.collector, intervalMs, version: VERSION });
  reporter.start();
  void scan('start');
  await onShutdown(async (signal) => {
    stopped = true;
    if (timer) clearTimeout(timer);
    log.info('shutting down', { signal });
    await reporter.stop();
  });
  return EXIT_OK;
}
