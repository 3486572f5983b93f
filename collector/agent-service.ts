// AgentService.Connect: one bidirectional stream per agent. Hello names the node; every
// Report is handed to the node registry (and through it to the sinks) and then acked.
import * as grpc from '@grpc/grpc-js';
import type { AgentMessage__Output } from '../gen/proto/netconform/v1/AgentMessage.js';
import type { CollectorMessage } from '../gen/proto/netconform/v1/CollectorMessage.js';
import type { AgentServiceHandlers } from '../gen/proto/netconform/v1/AgentService.js';
import { findingFromWire, omittedFromWire, summaryFromWire } from '../common/wire.js';
import type { Logger } from '../common/log.js';
import type { NodeRegistry, NodeReport } from './nodes.js';
import type { NodeMetrics } from './metrics.js';
import type { ContextHub } from './context-hub.js';

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
  hub: ContextHub;
  log: Logger;
}): { handlers: AgentServiceHandlers; streams: AgentStreams } {
  const { registry, metrics, hub, log } = deps;
  const open = new Map<grpc.ServerDuplexStream<AgentMessage__Output, CollectorMessage>, string>();

  const handlers: AgentServiceHandlers = {
    Connect(call) {
      let node = '';
      let agentVersion = '';
      let unsubscribe: (() => void) | undefined;
      const send = (msg: CollectorMessage): void => {
        if (!call.writable || call.destroyed) return;
        call.write(msg);
      };
      const sendContext = (chunks: readonly CollectorMessage['context'][]): void => {
        for (const c of chunks) send({ context: c });
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
            const current = hub.current();
            if (current) sendContext(current.chunks);
            unsubscribe = hub.subscribe((chunks) => sendContext(chunks));
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
              ...(r.omitted.length ? { omitted: r.omitted.map(omittedFromWire) } : {}),
            };
            // Acked only once the sinks (the store among them) have it on disk.
            registry.acceptAndStore(report).then((verdict) => {
              if (verdict === 'duplicate') metrics.reportsDuplicate.inc();
              log.debug('report', { node, sequence: report.sequence, verdict, findings: report.findings.length });
              send({ ack: { sequence: r.sequence } });
            }, (err: unknown) => {
              log.error('report not stored; no Ack', { node, sequence: report.sequence, err: err instanceof Error ? err.message : String(err) });
              call.destroy(err instanceof Error ? err : new Error(String(err)));
            });
            return;
          }
          if (msg.contextAck) {
            log.debug('context acknowledged', { node, version: msg.contextAck.version });
          }
        } catch (err) {
          log.error('agent message failed', { node, err: err instanceof Error ? err.message : String(err) });
          call.destroy(err instanceof Error ? err : new Error(String(err)));
        }
      });

      const finish = (why: string): void => {
        if (!open.has(call)) return;
        open.delete(call);
        unsubscribe?.();
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
