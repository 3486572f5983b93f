// PsaQueryService: what `netconform psa` and `netconform psa namespaces` ask the collector.
import * as grpc from '@grpc/grpc-js';
import type { PsaQueryServiceHandlers } from '../../gen/proto/netconform/v1/PsaQueryService.js';
import type { PsaNamespaceMode } from '../../gen/proto/netconform/v1/PsaNamespaceMode.js';
import { findingToWire } from '../../common/wire.js';
import { formatVersion } from '../../psa/types.js';
import type { NamespaceLint } from '../psa-labels/lint.js';
import type { NamespaceLabelsTracker } from '../psa-labels/tracker.js';
import type { AuditEventStore } from '../store/audit-events.js';

const iso = (ms: number): string => (ms > 0 ? new Date(ms).toISOString() : '');

function modeToWire(l: NamespaceLint): PsaNamespaceMode {
  const p = l.policy;
  return {
    namespace: l.namespace,
    enforce: p.enforce.level, enforceVersion: formatVersion(p.enforce.version),
    audit: p.audit.level, auditVersion: formatVersion(p.audit.version),
    warn: p.warn.level, warnVersion: formatVersion(p.warn.version),
    warnFollowsEnforce: p.warnFollowsEnforce,
    labelErrors: p.errors.map((e) => e.message),
  };
}

export function createPsaQueryService(deps: { events: AuditEventStore; labels: NamespaceLabelsTracker }): PsaQueryServiceHandlers {
  const { events, labels } = deps;
  return {
    PsaSummary(call, callback) {
      const { namespace, since, recentLimit } = call.request;
      let sinceMs = 0;
      if (since) {
        sinceMs = Date.parse(since);
        if (!Number.isFinite(sinceMs)) {
          callback({ code: grpc.status.INVALID_ARGUMENT, details: `since: "${since}" is not an RFC 3339 time` });
          return;
        }
      }
      try {
        const s = events.summary({ ...(namespace ? { namespace } : {}), sinceMs, ...(recentLimit ? { recentLimit } : {}) });
        const lints = labels.lint().namespaces.filter((l) => !namespace || l.namespace === namespace);
        callback(null, {
          namespaces: s.namespaces.map((n) => ({ ...n, auditViolations: String(n.auditViolations), enforceDenials: String(n.enforceDenials), exemptions: String(n.exemptions), errors: String(n.errors), lastEventAt: iso(n.lastEventMs) })),
          controls: s.controls.map((c) => ({ ...c, count: String(c.count) })),
          recent: s.recent.map((r) => ({
            time: iso(r.timeMs), namespace: r.namespace, pod: r.pod, user: r.user, mode: r.mode, level: r.level, version: r.version,
            controls: [...r.controls], responseCode: r.responseCode, verb: r.verb, auditId: r.auditID, source: r.source,
          })),
          modes: lints.map(modeToWire),
          eventsStored: String(s.eventsStored),
          lastEventAt: iso(s.lastEventMs),
        });
      } catch (err) {
        callback({ code: grpc.status.INTERNAL, details: `store: ${(err as Error).message}` });
      }
    },
    PsaNamespaces(call, callback) {
      const { namespace } = call.request;
      const { namespaces, fromCluster } = labels.lint();
      callback(null, {
        fromCluster,
        namespaces: namespaces.filter((l) => !namespace || l.namespace === namespace).map((l) => ({
          namespace: l.namespace, mode: modeToWire(l), exempt: l.exempt, finding: findingToWire(l.finding),
        })),
      });
    },
  };
}
