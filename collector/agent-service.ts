// AgentService.Connect: one bidirectional stream per agent. Hello names the node; every
// Report is handed to the node registry (and through it to the sinks) and then acked.
import * as grpc from '@grpc/grpc-js';
import type { AgentMessage__Output } from '../gen/proto/netconform/v1/AgentMessage.js';
import type { CollectorMessage } from '../gen/proto/netconform/v1/CollectorMessage.js';
import type { AgentServiceHandlers } from '../gen/proto/netconform/v1/AgentService.js';
import { findingFromWire, summaryFromWire } from '../common/wire.js';
import type { Logger } from '../common/log.js';
import type { NodeRegistry, NodeReport } from './nodes.js';
import type { NodeMetrics } from './metrics.js';

/** Bounded per-agent memory: a report with more findings than this is truncated. */
export const MAX_FINDINGS_PER_REPORT = 20_000;

export interface AgentStreams {
  /** Asks every connected agent (or one node's) to scan now. */
  scanNow(reason: string, node?: string): number;
  /** Ends every stream (shutdown). */
  closeAll(): void;
}

export function createAgentService(deps: {
  registry: NodeRegistry;
  metrics: NodeMetrics;
  log: Logger;
}): { handlers: AgentServiceHandlers; streams: AgentStreams } {
  const { registry, metrics, log } = deps;
  const open = new Map<grpc.ServerDuplexStream<AgentMessage__Output, CollectorMessage>, string>();

  const handlers: AgentServiceHandlers = {
    Connect(call) {
      let node = '';
      let agentVersion = '';
      const send = (msg: CollectorMessage): void => {
        if (!call.writable || call.destroyed) return;
        call.write(msg);
      };

      call.on('data', (msg: AgentMessage__Output) => {
        try {
          if (msg.hello) {
            if (node) return; // a second Hello changes nothing
            node = msg.hello.node.trim();
            agentVersion = msg.hello.agentVersion;
            if (!node) {
              call.destroy(new Error('Hello without a node name'));
              return;
            }
            open.set(call, node);
            registry.connected(node, agentVersion);
            log.info('agent connected', { node, agentVersion, peer: call.getPeer() });
            return;
          }
          if (msg.report) {
            if (!node) {
              log.warn('report before Hello ignored', { peer: call.getPeer() });
              return;
            }
            const r = msg.report;
            metrics.reportsReceived.inc();
            const report: NodeReport = {
              node,
              sequence: Number(r.sequence),
              bootId: r.bootId,
              scannedAt: r.scannedAt,
              receivedAt: new Date().toISOString(),
              proxyMode: r.proxyMode,
              cni: r.cni,
              agentVersion,
              checks: r.checks.map(summaryFromWire),
              findings: r.findings.slice(0, MAX_FINDINGS_PER_REPORT).map(findingFromWire),
            };
            const verdict = registry.acceptReport(report);
            if (verdict === 'duplicate') metrics.reportsDuplicate.inc();
            log.debug('report', { node, sequence: report.sequence, verdict, findings: report.findings.length });
            // Acked only now: the sinks (the store among them) have taken it.
            send({ ack: { sequence: r.sequence } });
            return;
          }
        } catch (err) {
          log.error('agent message failed', { node, err: err instanceof Error ? err.message : String(err) });
          call.destroy(err instanceof Error ? err : new Error(String(err)));
        }
      });

      const finish = (why: string): void => {
        if (!open.has(call)) return;
        open.delete(call);
        registry.disconnected(node);
        log.info('agent disconnected', { node, why });
      };
      call.on('end', () => {
        finish('stream ended');
        call.end();
      });
      call.on('error', (err) => finish(err.message));
      call.on('close', () => finish('closed'));
      call.on('cancelled', () => finish('cancelled'));
    },
  };

  const streams: AgentStreams = {
    scanNow(reason, only) {
      let n = 0;
      for (const [call, node] of open) {
        if (only && node !== only) continue;
        if (call.writable) {
          call.write({ scanNow: { reason } });
          n++;
        }
      }
      return n;
    },
    closeAll() {
      for (const call of open.keys()) call.end();
    },
  };
  return { handlers, streams };
}
