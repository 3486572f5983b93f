// Conversions between domain types and the generated wire types, in one place.
import type { Report } from '../gen/proto/netconform/v1/Report.js';
import type { Finding as WireFinding, Finding__Output } from '../gen/proto/netconform/v1/Finding.js';
import type { CheckSummary__Output } from '../gen/proto/netconform/v1/CheckSummary.js';
import type { Status as WireStatus } from '../gen/proto/netconform/v1/Status.js';
import type { Severity as WireSeverity } from '../gen/proto/netconform/v1/Severity.js';
import type { ClusterContextChunk, ClusterContextChunk__Output } from '../gen/proto/netconform/v1/ClusterContextChunk.js';
import type { ServiceInfo__Output } from '../gen/proto/netconform/v1/ServiceInfo.js';
import { SEVERITIES, STATUSES, type CheckSummary, type Finding, type OmittedFindings, type Severity, type Status } from './findings.js';
import type { OmittedFindings__Output } from '../gen/proto/netconform/v1/OmittedFindings.js';
import type { ClusterContext, ServiceInfo } from './cluster.js';

export function statusToWire(s: Status): WireStatus {
  return s.toUpperCase() as WireStatus;
}

// The collector holds the latest report of thousands of nodes: statuses, severities and
// check ids decoded from the wire are shared strings, not fresh copies per finding.
const STATUS_OF = new Map<string, Status>(STATUSES.map((s) => [s.toUpperCase(), s]));
const SEVERITY_OF = new Map<string, Severity>(SEVERITIES.map((s) => [s.toUpperCase(), s]));
const checkIds = new Map<string, string>();
function checkId(id: string): string {
  const known = checkIds.get(id);
  if (known !== undefined) return known;
  if (checkIds.size < 1000) checkIds.set(id, id);
  return id;
}

export function statusFromWire(s: string | number): Status {
  const v = STATUS_OF.get(String(s).toUpperCase());
  return v ?? 'error';
}

export function severityToWire(s: Severity): WireSeverity {
  return s.toUpperCase() as WireSeverity;
}

export function severityFromWire(s: string | number): Severity {
  return SEVERITY_OF.get(String(s).toUpperCase()) ?? 'info';
}

export function findingToWire(f: Finding): WireFinding {
  return {
    check: f.check, status: statusToWire(f.status), severity: severityToWire(f.severity),
    subject: f.subject, message: f.message, evidenceJson: f.evidence ? JSON.stringify(f.evidence) : '',
  };
}

export function findingFromWire(f: Finding__Output): Finding {
  let evidence: Finding['evidence'];
  if (f.evidenceJson) {
    try {
      evidence = JSON.parse(f.evidenceJson) as Finding['evidence'];
    } catch {
      evidence = { raw: f.evidenceJson };
    }
  }
  return {
    check: checkId(f.check), status: statusFromWire(f.status), severity: severityFromWire(f.severity),
    subject: f.subject, message: f.message, ...(evidence ? { evidence } : {}),
  };
}

export function summaryFromWire(c: CheckSummary__Output): CheckSummary {
  return { id: checkId(c.id), status: statusFromWire(c.status), passed: c.passed, failed: c.failed, warned: c.warned, skipped: c.skipped, errored: c.errored };
}

export function omittedFromWire(o: OmittedFindings__Output): OmittedFindings {
  return { check: checkId(o.check), status: statusFromWire(o.status), severity: severityFromWire(o.severity), count: o.count };
}

export interface ReportInput {
  readonly sequence: number;
  readonly bootId: string;
  readonly scannedAt: string;
  readonly proxyMode: string;
  readonly cni: string;
  readonly checks: readonly CheckSummary[];
  readonly findings: readonly Finding[];
  /** Findings left out by the agent's bound (agent/report/bound.ts), counted. */
  readonly omitted?: readonly OmittedFindings[];
}

/** A report carries every check's summary but only the findings that did not pass. */
export function reportToWire(r: ReportInput): Report {
  return {
    sequence: String(r.sequence), bootId: r.bootId, scannedAt: r.scannedAt, proxyMode: r.proxyMode, cni: r.cni,
    checks: r.checks.map((c) => ({ ...c, status: statusToWire(c.status) })),
    findings: r.findings.filter((f) => f.status !== 'pass').map(findingToWire),
    omitted: (r.omitted ?? []).map((o) => ({ check: o.check, status: statusToWire(o.status), severity: severityToWire(o.severity), count: o.count })),
  };
}

// ---- cluster context, in bounded chunks ---------------------------------------------

/** Services per chunk: keeps each message far below the gRPC limit even for large Services. */
export const SERVICES_PER_CHUNK = 500;

export function contextToChunks(ctx: ClusterContext, version: number, perChunk = SERVICES_PER_CHUNK): ClusterContextChunk[] {
  const total = Math.max(1, Math.ceil(ctx.services.length / perChunk));
  const chunks: ClusterContextChunk[] = [];
  for (let i = 0; i < total; i++) {
    chunks.push({
      version: String(version), index: i, total,
      // Nodes and CIDRs are small: they ride in the first chunk only.
      nodes: i === 0 ? ctx.nodes.map((n) => ({ ...n, podCidrs: [...n.podCIDRs], internalIps: [...n.internalIPs], externalIps: [...n.externalIPs] })) : [],
      serviceCidrs: i === 0 ? [...ctx.serviceCIDRs] : [],
      clusterCidr: i === 0 ? ctx.clusterCIDR : '',
      services: ctx.services.slice(i * perChunk, (i + 1) * perChunk).map((s) => ({
        ...s,
        clusterIps: [...s.clusterIPs], externalIps: [...s.externalIPs], loadBalancerIps: [...s.loadBalancerIPs],
        ports: s.ports.map((p) => ({ ...p, endpoints: p.endpoints.map((e) => ({ ...e })) })),
      })),
    });
  }
  return chunks;
}

/** Assembles chunks of one version; returns undefined until all have arrived. */
export class ContextAssembler {
  private version = '';
  private parts: (ClusterContextChunk__Output | undefined)[] = [];

  add(chunk: ClusterContextChunk__Output): { version: number; context: ClusterContext } | undefined {
    if (chunk.version !== this.version || chunk.total !== this.parts.length) {
      this.version = chunk.version;
      this.parts = new Array<ClusterContextChunk__Output | undefined>(chunk.total).fill(undefined);
    }
    if (chunk.index >= this.parts.length) return undefined;
    this.parts[chunk.index] = chunk;
    if (this.parts.some((p) => p === undefined)) return undefined;
    const parts = this.parts as ClusterContextChunk__Output[];
    this.parts = [];
    this.version = '';
    return { version: Number(chunk.version), context: chunksToContext(parts) };
  }
}

function serviceFromWire(s: ServiceInfo__Output): ServiceInfo {
  return {
    namespace: s.namespace, name: s.name, type: s.type as ServiceInfo['type'], clusterIPs: s.clusterIps,
    externalTrafficPolicy: s.externalTrafficPolicy === 'Local' ? 'Local' : 'Cluster',
    internalTrafficPolicy: s.internalTrafficPolicy === 'Local' ? 'Local' : 'Cluster',
    sessionAffinity: s.sessionAffinity === 'ClientIP' ? 'ClientIP' : 'None',
    sessionAffinityTimeoutSeconds: s.sessionAffinityTimeoutSeconds,
    externalIPs: s.externalIps, loadBalancerIPs: s.loadBalancerIps, hasSelector: s.hasSelector,
    ports: s.ports.map((p) => ({
      name: p.name, protocol: p.protocol as ServiceInfo['ports'][number]['protocol'], port: p.port, nodePort: p.nodePort,
      endpoints: p.endpoints.map((e) => ({ ...e })),
    })),
  };
}

export function chunksToContext(parts: readonly ClusterContextChunk__Output[]): ClusterContext {
  const first = parts[0]!;
  return {
    nodes: first.nodes.map((n) => ({ name: n.name, podCIDRs: n.podCidrs, internalIPs: n.internalIps, externalIPs: n.externalIps, maxPods: n.maxPods })),
    serviceCIDRs: first.serviceCidrs,
    clusterCIDR: first.clusterCidr,
    services: parts.flatMap((p) => p.services.map(serviceFromWire)),
    namespaces: [],
    workloads: [],
  };
}
