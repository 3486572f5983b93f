// AgentService.Connect: one bidirectional stream per agent. Hello names the node; every
// Report is handed to the node registry (and through it to the sinks) and then acked.
// Before the first message is read the stream is admitted (collector/auth/access.ts: the
// token reviewed, the node it speaks for resolved); a Hello for another node is refused.
// One stream per node: a newer stream for a node replaces the older one (a restarted
// agent is not locked out by its predecessor's half-open connection).
import * as grpc from '@grpc/grpc-js';
import type { AgentMessage__Output } from '../gen/proto/netconform/v1/AgentMessage.js';
import type { CollectorMessage } from '../gen/proto/netconform/v1/CollectorMessage.js';
import type { AgentServiceHandlers } from '../gen/proto/netconform/v1/AgentService.js';
import { findingFromWire, omittedFromWire, summaryFromWire } from '../common/wire.js';
import type { Logger } from '../common/log.js';
import type { NodeRegistry, NodeReport } from './nodes.js';
import type { NodeMetrics } from './metrics.js';
import { OPEN_ACCESS, type CollectorAccess } from './auth/access.js';
import type { StreamRejectReason, TrustMetrics } from './auth/metrics.js';
import { DEFAULT_STREAM_LIMITS, MAX_FINGERPRINT_BYTES, ReportThrottle, type StreamLimits } from './limits.js';

/** Bounded per-agent memory: a report with more findings than this is truncated (and counted). */
export const MAX_FINDINGS_PER_REPORT = DEFAULT_STREAM_LIMITS.maxFindingsPerReport;

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
  trust: TrustMetrics;
  access?: CollectorAccess;
  limits?: StreamLimits;
}): { handlers: AgentServiceHandlers; streams: AgentStreams } {
  const { registry, metrics, log, trust } = deps;
  const access = deps.access ?? OPEN_ACCESS;
  const limits = deps.limits ?? DEFAULT_STREAM_LIMITS;
  type Call = grpc.ServerDuplexStream<AgentMessage__Output, CollectorMessage>;
  const open = new Map<Call, string>();
  let active = 0;

  const refuse = (call: Call, code: grpc.status, reason: StreamRejectReason, details: string): void => {
    trust.rejectedStreams.inc({ reason });
    log.warn('agent stream refused', { reason, details, peer: call.getPeer() });
    call.emit('error', { code, details });
  };

  const handlers: AgentServiceHandlers = {
    Connect(call) {
      if (active >= limits.maxStreams) {
        refuse(call, grpc.status.RESOURCE_EXHAUSTED, 'too_many_streams', `the collector already has ${active} agent streams (--max-agent-streams)`);
        return;
      }
      active++;
      let counted = true;
      const release = (): void => {
        if (counted) active--;
        counted = false;
      };
      call.once('close', release);
      call.once('cancelled', release);
      // Messages wait in the stream's buffer (no 'data' listener yet) while the token is reviewed.
      access.admitAgent(call.metadata).then(
        (admission) => {
          if (call.cancelled || call.destroyed) return;
          if (!admission.ok) refuse(call, admission.code, admission.reason, admission.details);
          else serve(call, admission.node);
        },
        (err: unknown) => refuse(call, grpc.status.INTERNAL, 'review_failed', `admission failed: ${(err as Error).message}`),
      );
    },
  };

  // The stream's body, indented as it was inside Connect (kept so merges stay small).
  function serve(call: Call, boundNode: string | undefined): void {
      let node = '';
      let agentVersion = '';
      const send = (msg: CollectorMessage): void => {
        if (!call.writable || call.destroyed) return;
        call.write(msg);
      };
      const throttle = new ReportThrottle(limits.reportsPerMinute, () => trust.reportsRateLimited.inc());

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
            if (boundNode !== undefined && node !== boundNode) {
              const claimed = node;
              node = '';
              refuse(call, grpc.status.PERMISSION_DENIED, 'wrong_node', `this stream's token is for node ${boundNode}, not ${claimed}`);
              return;
            }
            for (const [other, otherNode] of open) {
              if (otherNode === node) refuse(other, grpc.status.ABORTED, 'superseded', `a newer stream for node ${node} replaced this one`);
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
            if (r.findings.length > limits.maxFindingsPerReport) {
              trust.reportsTruncated.inc();
              log.warn('report truncated', { node, findings: r.findings.length, kept: limits.maxFindingsPerReport });
            }
            throttle.offer(() => accept(r));
            return;
          }
        } catch (err) {
          log.error('agent message failed', { node, err: err instanceof Error ? err.message : String(err) });
          call.destroy(err instanceof Error ? err : new Error(String(err)));
        }
      });

      const accept = (r: NonNullable<AgentMessage__Output['report']>): void => {
        if (!open.has(call)) return;
        try {
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
              findings: r.findings.slice(0, limits.maxFindingsPerReport).map(findingFromWire),
              ...(r.omitted.length ? { omitted: r.omitted.map(omittedFromWire) } : {}),
              ...(r.fingerprintJson ? { fingerprintJson: boundedFingerprint(r.fingerprintJson, node) } : {}),
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
        } catch (err) {
          log.error('agent message failed', { node, err: err instanceof Error ? err.message : String(err) });
          call.destroy(err instanceof Error ? err : new Error(String(err)));
        }
      };

      const boundedFingerprint = (json: string, from: string): string => {
        if (json.length <= MAX_FINGERPRINT_BYTES) return json;
        log.warn('fingerprint too large; not kept', { node: from, bytes: json.length, limit: MAX_FINGERPRINT_BYTES });
        return '';
      };

      const finish = (why: string): void => {
        throttle.close();
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
  }

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
