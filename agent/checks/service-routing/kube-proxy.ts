// Principle (seed, Services; issue 10): kube-proxy programs every Service change into the
// node's dataplane, with some delay. Changes it has received but not programmed are
// normal for seconds; with changes pending and no successful sync for longer than
// --kube-proxy-stall (default 5m), kube-proxy is stuck and every later Service change on
// this node is silently not routed. Read from kube-proxy's own metrics: the
// `*_changes_pending` gauges, a sync queued (`*_last_queued_timestamp_seconds`) after the
// last successful one — kube-proxy zeroes the pending gauges when a sync starts, so a sync
// that keeps failing shows only there — and the last successful sync's timestamp (measured
// from kube-proxy's start when it has never synced). A kube-proxy that answered earlier in
// the agent's run and has been silent for longer than the stall window, while its rules are
// still on the node, has stopped or hangs: no Service change since reaches the dataplane.
import type { CheckDefinition, CheckResult } from '../types.js';
import { dataplaneOf } from '../../dataplane/load.js';
import { modeFacts } from '../../dataplane/mode.js';
import { formatAge, kubeProxyProgress } from '../../dataplane/convergence.js';
import { isAvailable } from '../../inspect/kube-proxy.js';
import { FACET_SOURCES } from '../../snapshot.js';

export const kubeProxyCheck: CheckDefinition = {
  id: 'service-routing.kube-proxy',
  title: 'kube-proxy keeps up: no changes pending longer than --kube-proxy-stall without a sync',
  // The facet is checked here, not through `needs`, so that a node without kube-proxy rules
  // skips for that reason whether or not a scrape was attempted (live and bundle agree).
  needs: [],
  run(snapshot) {
    const facts = snapshot.kubeProxy;
    const subject = `${snapshot.node} kube-proxy`;
    const dp = dataplaneOf(snapshot);
    if (dp && modeFacts(dp).present.length === 0) {
      return [{ status: 'skip', severity: 'info', subject, message: 'skipped: the node has no kube-proxy rules (iptables, IPVS or nftables), so kube-proxy is not what routes Services here' }];
    }
    if (!facts) return [{ status: 'skip', severity: 'info', subject, message: `skipped: no ${FACET_SOURCES.kubeProxy}`, evidence: { missing: ['kubeProxy'] } }];
    const m = facts.metrics;
    if (!isAvailable(m)) {
      if (facts.lastAnsweredAt !== undefined) return [silentKubeProxy(subject, facts.source, m.unavailable, facts.lastAnsweredAt, Date.parse(snapshot.capturedAt), facts.stallMs)];
      return [{ status: 'skip', severity: 'info', subject, message: `skipped: kube-proxy's metrics are unavailable (${m.unavailable})`, evidence: { source: facts.source } }];
    }
    if (m.lastSyncSeconds === undefined && m.endpointChangesPending === undefined && m.serviceChangesPending === undefined) {
      return [{ status: 'skip', severity: 'info', subject, message: `skipped: ${facts.source} has no kube-proxy sync metrics`, evidence: { source: facts.source } }];
    }
    const now = Date.parse(snapshot.capturedAt);
    const p = kubeProxyProgress(m, now);
    // Never synced: the stall clock runs from kube-proxy's start.
    // A family with a sync queued since its last success is judged by that family's last sync.
    const familySyncMs = m.unsyncedLastSyncSeconds !== undefined && m.unsyncedLastSyncSeconds > 0 ? now - m.unsyncedLastSyncSeconds * 1000 : undefined;
    const sinceMs = familySyncMs ?? p.lastSyncAgeMs ?? (m.processStartSeconds !== undefined ? now - m.processStartSeconds * 1000 : undefined);
    const evidence = { source: facts.source, ...p.evidence, stallSeconds: facts.stallMs / 1000 };
    if (!p.waiting) {
      return [{ status: 'pass', severity: 'info', subject, message: `kube-proxy is in sync: nothing pending${p.lastSyncAgeMs !== undefined ? `, last sync ${formatAge(p.lastSyncAgeMs)} ago` : ''}`, evidence }];
    }
    if (sinceMs === undefined || sinceMs > facts.stallMs) {
      const age = familySyncMs !== undefined ? `its last successful sync was ${formatAge(familySyncMs)} ago`
        : p.lastSyncAgeMs !== undefined ? `its last successful sync was ${formatAge(p.lastSyncAgeMs)} ago`
        : sinceMs !== undefined ? `it has completed no sync in the ${formatAge(sinceMs)} since it started` : 'it reports no successful sync';
      return [{
        status: 'fail', severity: 'high', subject,
        message: `kube-proxy is stalled: ${p.pendingWords} and ${age} (more than ${formatAge(facts.stallMs)}); Service changes are not reaching this node's dataplane — check kube-proxy's logs`,
        evidence,
      }];
    }
    return [{ status: 'pass', severity: 'info', subject, message: `kube-proxy is converging: ${p.words} (within ${formatAge(facts.stallMs)})`, evidence }];
  },
};

/**
 * kube-proxy's metrics do not answer now but did earlier in this agent's run. Within the stall
 * window a restart is normal (skip, saying when it last answered); past it, kube-proxy has
 * stopped or hangs while its rules stay behind, frozen at its last sync.
 */
function silentKubeProxy(subject: string, source: string, unavailable: string, lastAnsweredAt: string, nowMs: number, stallMs: number): CheckResult {
  const silentMs = nowMs - Date.parse(lastAnsweredAt);
  const evidence = { source, unavailable, lastAnsweredAt, silentSeconds: Math.round(silentMs / 100) / 10, stallSeconds: stallMs / 1000 };
  if (silentMs > stallMs) {
    return {
      status: 'fail', severity: 'high', subject,
      message: `kube-proxy has not answered for ${formatAge(silentMs)} (more than ${formatAge(stallMs)}): ${unavailable}; its rules are still on the node, frozen at its last sync, and no Service change since reaches this node's dataplane — check that kube-proxy is running`,
      evidence,
    };
  }
  return {
    status: 'skip', severity: 'info', subject,
    message: `skipped: kube-proxy's metrics are unavailable (${unavailable}); it last answered ${formatAge(silentMs)} ago, and silence longer than ${formatAge(stallMs)} fails`,
    evidence,
  };
}
