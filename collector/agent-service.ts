// AgentService.Connect: one bidirectional stream per agent. Hello names the node; every
// Report is handed to the node registry (and through it to the sinks) and then acked.
// Before the first message is read the stream is admitted (collector/auth/access.ts: the
// token reviewed, the node it speaks for resolved); a Hello for another node is refused.
// One stream per node and role: a newer stream for a node replaces the older one (a
// restarted agent is not locked out by its predecessor's half-open connection).
// A probe pod's stream (Hello.role "probe", admitted only for the probe ServiceAccount)
// carries ProbeReports: their no-nat.observed results become the node's (NodeRegistry
// merges them with the agent's report) and their counters feed the probe metrics. Its
// Hello's pod IP must be one of its Pod's (read by the admission, cached by the Pod's uid).
import * as grpc from '@grpc/grpc-js';
import type { AgentMessage__Output } from '../gen/proto/netconform/v1/AgentMessage.js';
import type { CollectorMessage } from '../gen/proto/netconform/v1/CollectorMessage.js';
import type { AgentServiceHandlers } from '../gen/proto/netconform/v1/AgentService.js';
import { findingFromWire, omittedFromWire, summaryFromWire } from '../common/wire.js';
import type { Logger } from '../common/log.js';
import { probeLayer, type NodeRegistry, type NodeReport } from './nodes.js';
import type { NodeMetrics } from './metrics.js';
import { OPEN_ACCESS, type CollectorAccess } from './auth/access.js';
import type { StreamRejectReason, TrustMetrics } from './auth/metrics.js';
import { DEFAULT_STREAM_LIMITS, MAX_FINGERPRINT_BYTES, ReportThrottle, type StreamLimits } from './limits.js';
import type { StreamRole } from './auth/node-identity.js';
import type { ProbeMetrics } from './probe-metrics.js';
import { NO_NAT_OBSERVED } from '../common/probe.js';

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
  probeMetrics?: ProbeMetrics;
}): { handlers: AgentServiceHandlers; streams: AgentStreams } {
  const { registry, metrics, log, trust } = deps;
  const access = deps.access ?? OPEN_ACCESS;
  const limits = deps.limits ?? DEFAULT_STREAM_LIMITS;
  type Call = grpc.ServerDuplexStream<AgentMessage__Output, CollectorMessage>;
  const open = new Map<Call, string>();
  /** Probe streams by call → node (never asked to scan; not the node's agent connection). */
  const probes = new Map<Call, string>();
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
          else serve(call, admission.node, admission.role, admission.podIps);
        },
        (err: unknown) => refuse(call, grpc.status.INTERNAL, 'review_failed', `admission failed: ${(err as Error).message}`),
      );
    },
  };

  // The stream's body, indented as it was inside Connect (kept so merges stay small).
  function serve(call: Call, boundNode: string | undefined, boundRole: StreamRole | undefined, boundPodIps: readonly string[] | undefined): void {
      let node = '';
      let role: StreamRole = 'agent';
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
            role = msg.hello.role === 'probe' ? 'probe' : 'agent';
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
            if (boundRole !== undefined && role !== boundRole) {
              const claimed = node;
              node = '';
              refuse(call, grpc.status.PERMISSION_DENIED, 'wrong_role', `this stream's token is the ${boundRole}'s ServiceAccount; it may not speak as ${role === 'probe' ? 'a probe' : 'an agent'} for ${claimed}`);
              return;
            }
            if (role === 'probe' && boundPodIps !== undefined && !boundPodIps.includes(msg.hello.podIp)) {
              // Peers judge what they saw against this address: a forged one would turn a rewrite into a pass.
              const claimed = node;
              node = '';
              refuse(call, grpc.status.PERMISSION_DENIED, 'wrong_pod_ip', `this probe's Pod has IPs ${boundPodIps.join(', ') || '(none yet)'}; it may not speak for pod IP ${msg.hello.podIp || '(none)'} on ${claimed}`);
              return;
            }
            if (role === 'probe') {
              for (const [other, otherNode] of probes) {
                if (otherNode === node) refuse(other, grpc.status.ABORTED, 'superseded', `a newer probe stream for node ${node} replaced this one`);
              }
              probes.set(call, node);
              log.info('probe connected', { node, podIp: msg.hello.podIp, peer: call.getPeer() });
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
          if (msg.probeReport) {
            if (!node || role !== 'probe') {
              log.warn('probe report outside a probe stream ignored', { node, peer: call.getPeer() });
              return;
            }
            metrics.reportsReceived.inc();
            const pr = msg.probeReport;
            throttle.offer(() => acceptProbe(pr));
            return;
          }
          if (msg.report) {
            if (role === 'probe') {
              refuse(call, grpc.status.PERMISSION_DENIED, 'wrong_role', `a probe stream may not send the agent's report for ${node}`);
              return;
            }
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

      const acceptProbe = (r: NonNullable<AgentMessage__Output['probeReport']>): void => {
        if (!probes.has(call)) return;
        deps.probeMetrics?.observe(node, r);
        // A probe speaks for no-nat.observed only; anything else in its report is dropped.
        const results = r.findings.filter((f) => f.check === NO_NAT_OBSERVED).slice(0, limits.maxFindingsPerReport).map(findingFromWire);
        const sequence = Number(r.sequence);
        registry.acceptProbe(node, probeLayer({ bootId: r.bootId, sequence, observedAt: r.observedAt, receivedAt: new Date().toISOString() }, results)).then((verdict) => {
          if (verdict === 'duplicate') metrics.reportsDuplicate.inc();
          log.debug('probe report', { node, sequence, verdict, results: results.length });
          send({ ack: { sequence: r.sequence } });
        }, (err: unknown) => {
          log.error('probe report not stored; no Ack', { node, sequence, err: err instanceof Error ? err.message : String(err) });
          call.destroy(err instanceof Error ? err : new Error(String(err)));
        });
      };

      const finish = (why: string): void => {
        throttle.close();
        if (probes.delete(call)) {
          log.info('probe disconnected', { node, why });
          return;
        }
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
      for (const call of probes.keys()) call.end();
    },
  };
  return { handlers, streams };
}
