// QueryService: what the `netconform` CLI asks. Reads the node registry only.
import type { QueryServiceHandlers } from '../gen/proto/netconform/v1/QueryService.js';
import type { NodeFinding } from '../gen/proto/netconform/v1/NodeFinding.js';
import { findingToWire, statusFromWire } from '../common/wire.js';
import type { NodeRegistry } from './nodes.js';
import type { FindingHistory } from './history.js';

export function createQueryService(deps: { registry: NodeRegistry; history?: FindingHistory }): QueryServiceHandlers {
  const { registry, history } = deps;
  return {
    ListNodes(_call, callback) {
      const nodes = registry.list().map((n) => {
        const counts = { pass: 0, fail: 0, warn: 0, error: 0, skip: 0 };
        for (const c of n.report?.checks ?? []) counts[c.status]++;
        return {
          node: n.node, connected: n.connected, stale: n.stale,
          lastReportAt: n.report?.receivedAt ?? '',
          counts, proxyMode: n.report?.proxyMode ?? '', cni: n.report?.cni ?? '',
          lastSequence: String(n.report?.sequence ?? 0), agentVersion: n.agentVersion,
        };
      });
      callback(null, { nodes });
    },
    ListFindings(call, callback) {
      const { node, check, status } = call.request;
      const wantStatus = status && status !== 'STATUS_UNSPECIFIED' ? statusFromWire(status) : undefined;
      const out: NodeFinding[] = [];
      for (const n of registry.list()) {
        if (node && n.node !== node) continue;
        for (const f of n.report?.findings ?? []) {
          if (check && f.check !== check) continue;
          if (wantStatus && f.status !== wantStatus) continue;
          out.push({
            node: n.node, finding: findingToWire(f), stale: n.stale,
            since: history?.openedAt(n.node, f.check, f.subject) ?? n.report?.receivedAt ?? '',
          });
        }
      }
      callback(null, { findings: out });
    },
  };
}
