// `netconform psa` (the default view): Pod Security violations the collector recorded from
// API-server audit events — by namespace and control, the newest pods and users — and what
// each namespace enforces. `netconform psa namespaces`: the psa.namespace-labels lint table.
import * as grpc from '@grpc/grpc-js';
import { parseFlags, str, bool, choice } from '../common/cli.js';
import { EXIT_FINDINGS, EXIT_OK, UsageError } from '../common/errors.js';
import { parseDuration } from '../common/duration.js';
import { findingFromWire } from '../common/wire.js';
import { loadContract } from '../common/proto.js';
import { renderTable } from '../common/table.js';
import type { PsaQueryServiceClient } from '../gen/proto/netconform/v1/PsaQueryService.js';
import type { PsaSummaryRequest } from '../gen/proto/netconform/v1/PsaSummaryRequest.js';
import type { PsaSummaryResponse__Output } from '../gen/proto/netconform/v1/PsaSummaryResponse.js';
import type { PsaNamespacesRequest } from '../gen/proto/netconform/v1/PsaNamespacesRequest.js';
import type { PsaNamespacesResponse__Output } from '../gen/proto/netconform/v1/PsaNamespacesResponse.js';
import type { PsaNamespaceMode__Output } from '../gen/proto/netconform/v1/PsaNamespaceMode.js';
import { CONNECTION_FLAGS, callError, clientOptions, collectorAddress, connectionFromFlags, type CollectorConnection } from './collector-client.js';
import { channelCredentials } from '../common/tls.js';
import type { Command } from './command.js';

function psaClient(address: string, conn: CollectorConnection): PsaQueryServiceClient {
  return new (loadContract().PsaQueryService)(address, channelCredentials(conn.transport), clientOptions(conn));
}

function call<Req, Res>(
  client: PsaQueryServiceClient,
  address: string,
  method: (req: Req, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: Res) => void) => unknown,
  req: Req,
  timeoutMs = 5000,
): Promise<Res> {
  return new Promise((resolve, reject) => {
    method.call(client, req, { deadline: Date.now() + timeoutMs }, (err, res) => {
      if (!err) return resolve(res as Res);
      reject(err.code === grpc.status.UNIMPLEMENTED
        ? new UsageError(`the collector at ${address} does not serve Pod Security queries (too old?)`)
        : callError(err, address));
    });
  });
}

/** `24h` (relative to now) or an RFC 3339 time → RFC 3339. */
export function sinceToTime(value: string, nowMs = Date.now()): string {
  if (/^\d{4}-\d{2}-\d{2}T/.test(value)) {
    const t = Date.parse(value);
    if (!Number.isFinite(t)) throw new UsageError(`"${value}" is not a valid time`, '--since');
    return new Date(t).toISOString();
  }
  return new Date(nowMs - parseDuration(value, '--since')).toISOString();
}

const policy = (level: string, version: string): string => (level ? `${level}:${version}` : '-');

function modeCells(m: PsaNamespaceMode__Output | undefined): [string, string, string] {
  if (!m) return ['?', '?', '?'];
  return [policy(m.enforce, m.enforceVersion), policy(m.audit, m.auditVersion), policy(m.warn, m.warnVersion) + (m.warnFollowsEnforce ? ' (=enforce)' : '')];
}

const FLAGS = {
  collector: { type: 'string' },
  output: { type: 'string', short: 'o' },
  namespace: { type: 'string', short: 'n' },
  help: { type: 'boolean', short: 'h' },
  ...CONNECTION_FLAGS,
} as const;

export const psaSummaryCommand: Command = {
  summary: 'violations recorded from audit events, by namespace and control; newest pods and users; what each namespace enforces',
  async run(argv) {
    const p = parseFlags(argv, { ...FLAGS, since: { type: 'string' }, limit: { type: 'string' } });
    if (bool(p, 'help')) {
      process.stdout.write(`Usage: netconform psa [--namespace N] [--since 24h|RFC3339] [--limit 20] [--collector HOST:PORT] [--output table|json]

Pod Security Admission results the collector recorded from the API server's audit events
(audit-violations annotations and enforce denials), with what each namespace's labels apply.

Other views: netconform psa namespaces (label lint)${'\n'}`);
      return EXIT_OK;
    }
    const output = choice(str(p, 'output'), ['table', 'json'] as const, '--output', 'table');
    const since = str(p, 'since') !== undefined ? sinceToTime(str(p, 'since')!) : '';
    const limitText = str(p, 'limit') ?? '20';
    if (!/^\d+$/.test(limitText) || Number(limitText) < 1 || Number(limitText) > 1000) throw new UsageError(`"${limitText}" is not a number from 1 to 1000`, '--limit');
    const address = collectorAddress(str(p, 'collector'));
    const client = psaClient(address, await connectionFromFlags(p));
    try {
      const req: PsaSummaryRequest = { namespace: str(p, 'namespace') ?? '', since, recentLimit: Number(limitText) };
      const res = await call<PsaSummaryRequest, PsaSummaryResponse__Output>(client, address, client.PsaSummary, req);
      if (output === 'json') {
        const n = (s: string): number => Number(s);
        process.stdout.write(JSON.stringify({
          since: since || null,
          eventsStored: n(res.eventsStored), lastEventAt: res.lastEventAt || null,
          namespaces: res.namespaces.map((x) => ({ ...x, auditViolations: n(x.auditViolations), enforceDenials: n(x.enforceDenials), exemptions: n(x.exemptions), errors: n(x.errors) })),
          controls: res.controls.map((c) => ({ ...c, count: n(c.count) })),
          recent: res.recent,
          modes: res.modes,
        }, null, 2) + '\n');
        return EXIT_OK;
      }
      const modes = new Map(res.modes.map((m) => [m.namespace, m]));
      const counts = new Map(res.namespaces.map((c) => [c.namespace, c]));
      const names = [...new Set([...modes.keys(), ...counts.keys()])].sort();
      const out: string[] = [];
      out.push(`${res.eventsStored} audit ${res.eventsStored === '1' ? 'event' : 'events'} stored; newest ${res.lastEventAt || 'none'}${since ? `; counting since ${since}` : ''}\n\n`);
      if (names.length === 0) out.push('no namespaces known and no Pod Security events recorded\n');
      else out.push(renderTable(
        ['NAMESPACE', 'ENFORCE', 'AUDIT', 'WARN', 'AUDIT-VIOLATIONS', 'DENIED', 'EXEMPT', 'LAST EVENT'],
        names.map((ns) => {
          const c = counts.get(ns);
          return [ns, ...modeCells(modes.get(ns)), c?.auditViolations ?? '0', c?.enforceDenials ?? '0', c?.exemptions ?? '0', c?.lastEventAt || '-'];
        }),
      ));
      if (res.controls.length) {
        out.push('\nViolations by control\n');
        out.push(renderTable(['NAMESPACE', 'MODE', 'LEVEL', 'CONTROL', 'COUNT'],
          res.controls.map((c) => [c.namespace, c.mode, c.level, c.control === 'unknown' ? `unknown: ${c.reason}` : c.control, c.count])));
      }
      if (res.recent.length) {
        out.push('\nNewest events\n');
        out.push(renderTable(['TIME', 'NAMESPACE', 'POD', 'USER', 'RESULT', 'POLICY', 'CONTROLS'],
          res.recent.map((r) => [r.time, r.namespace, r.pod || '-', r.user || '-', r.mode === 'enforce' ? 'denied' : r.mode, policy(r.level, r.version), r.controls.join(', ') || '-'])));
      }
      process.stdout.write(out.join(''));
      return EXIT_OK;
    } finally {
      client.close();
    }
  },
};

export const psaNamespacesCommand: Command = {
  summary: 'namespace label lint (psa.namespace-labels): pinned versions, enforce/audit/warn consistency',
  async run(argv) {
    const p = parseFlags(argv, FLAGS);
    if (bool(p, 'help')) {
      process.stdout.write(`Usage: netconform psa namespaces [--namespace N] [--collector HOST:PORT] [--output table|json]

One row per namespace: the level and version it applies in each mode (as the API server
reads its labels) and the psa.namespace-labels finding. Exit code 1 when a namespace fails
(a label value the API server would refuse).
`);
      return EXIT_OK;
    }
    const output = choice(str(p, 'output'), ['table', 'json'] as const, '--output', 'table');
    const address = collectorAddress(str(p, 'collector'));
    const client = psaClient(address, await connectionFromFlags(p));
    try {
      const req: PsaNamespacesRequest = { namespace: str(p, 'namespace') ?? '' };
      const res = await call<PsaNamespacesRequest, PsaNamespacesResponse__Output>(client, address, client.PsaNamespaces, req);
      const rows = res.namespaces.map((n) => ({ namespace: n.namespace, exempt: n.exempt, mode: n.mode, finding: findingFromWire(n.finding!) }));
      if (output === 'json') {
        process.stdout.write(JSON.stringify({ fromCluster: res.fromCluster, namespaces: rows }, null, 2) + '\n');
      } else if (rows.length === 0) {
        process.stdout.write('the collector knows no namespaces (give it --cluster FILE with `kubectl get namespaces -o yaml`, or the Kubernetes watch)\n');
      } else {
        if (!res.fromCluster) process.stdout.write('namespaces as last stored (no current cluster context)\n\n');
        process.stdout.write(renderTable(
          ['NAMESPACE', 'ENFORCE', 'AUDIT', 'WARN', 'STATUS', 'SEVERITY', 'MESSAGE'],
          rows.map((r) => [r.namespace, ...modeCells(r.mode ?? undefined), r.finding.status.toUpperCase(), r.finding.severity, r.finding.message]),
          200,
        ));
      }
      return rows.some((r) => r.finding.status === 'fail') ? EXIT_FINDINGS : EXIT_OK;
    } finally {
      client.close();
    }
  },
};
