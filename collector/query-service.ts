// QueryService: what the `netconform` CLI asks. Reads the node registry, and the store for
// the findings when there is one (the registry then holds none: docs/memory.md).
import type { QueryServiceHandlers } from '../gen/proto/netconform/v1/QueryService.js';
import type { NodeFinding } from '../gen/proto/netconform/v1/NodeFinding.js';
import { findingToWire, severityToWire, statusFromWire, statusToWire } from '../common/wire.js';
import type { FindingFilter, ListedFinding } from './store/reports.js';
import type { NodeRegistry } from './nodes.js';
import type { FindingHistory } from './history.js';
import * as grpc from '@grpc/grpc-js';
import { parseLevel, parseVersion } from '../psa/namespace-labels.js';
import type { Level, PolicyVersion } from '../psa/types.js';
import type { WhatIfReport } from '../psa/whatif.js';
import { InventoryNotReadyError, NO_CLUSTER, type MigrationInventorySource } from './migration-inventory.js';

export type WhatIfProvider = (level: Level, version: PolicyVersion | undefined, namespace: string | undefined) => WhatIfReport | undefined;

/** The store's side of ListFindings: every node's current findings in one query. */
export interface FindingList {
  listFindings(filter: FindingFilter): readonly ListedFinding[];
}

export function createQueryService(deps: { registry: NodeRegistry; history?: FindingHistory; findings?: FindingList; whatIf?: WhatIfProvider; migration?: MigrationInventorySource }): QueryServiceHandlers {
  const { registry, history, findings } = deps;
  const migration = deps.migration ?? NO_CLUSTER;
  return {
    MigrationInventory(_call, callback) {
      let inventoryJson = '';
      try {
        const inv = migration.inventory();
        inventoryJson = inv ? JSON.stringify(inv) : '';
      } catch (err) {
        // FAILED_PRECONDITION, not UNAVAILABLE: the collector is there, its view is not complete yet
        // (clients read UNAVAILABLE as "cannot reach the collector").
        const code = err instanceof InventoryNotReadyError ? grpc.status.FAILED_PRECONDITION : grpc.status.INTERNAL;
        callback({ code, details: `migration inventory: ${(err as Error).message}` });
        return;
      }
      // Restored (stale) reports count: a fingerprint changes only when the node's network
      // does, and reported_at tells how old it is.
      const fingerprints = registry.list()
        .filter((n) => n.report?.fingerprintJson)
        .map((n) => ({ node: n.node, fingerprintJson: n.report!.fingerprintJson!, reportedAt: n.report!.receivedAt }));
      callback(null, { inventoryJson, fingerprints });
    },
    PsaWhatIf(call, callback) {
      const { level: levelText, version: versionText, namespace } = call.request;
      const level = parseLevel(levelText);
      if (!level) {
        callback({ code: grpc.status.INVALID_ARGUMENT, details: `level: "${levelText}" is not one of privileged, baseline, restricted` });
        return;
      }
      const version = versionText ? parseVersion(versionText) : undefined;
      if (versionText && version === undefined) {
        callback({ code: grpc.status.INVALID_ARGUMENT, details: `version: "${versionText}" is not latest or v1.N` });
        return;
      }
      try {
        const report = deps.whatIf?.(level, version, namespace || undefined);
        callback(null, { reportJson: report ? JSON.stringify(report) : '', clusterKnown: report !== undefined });
      } catch (err) {
        callback({ code: grpc.status.INTERNAL, details: `what-if: ${(err as Error).message}` });
      }
    },
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
      if (findings) {
        const stale = new Map(registry.list().map((n) => [n.node, n.stale]));
        const listed = findings.listFindings({ ...(node ? { node } : {}), ...(check ? { check } : {}), ...(wantStatus ? { status: wantStatus } : {}) })
          // Nodes in the registry's order (the store sorts bytewise); the sort is stable, so report order stays.
          .filter((f) => stale.has(f.node)).sort((a, b) => a.node.localeCompare(b.node));
        callback(null, {
          findings: listed.map((f) => ({
            node: f.node, stale: stale.get(f.node)!, since: f.since,
            finding: { check: f.check, status: statusToWire(f.status), severity: severityToWire(f.severity), subject: f.subject, message: f.message, evidenceJson: f.evidenceJson },
          })),
        });
        return;
      }
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
