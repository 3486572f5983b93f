// Is a Service port whose dataplane disagrees with its endpoints wrong, or is kube-proxy
// still programming it? kube-proxy lags the API by design (a minimum sync period, and a
// full iptables-restore takes seconds on a large node), so right after a change the rules
// are old. The answer comes from kube-proxy's own metrics, else from a settle window:
//   - kube-proxy reports changes pending, or a sync queued after its last successful one
//                                                            → converging
//   - the Service changed (as the agent saw it) after the last sync → converging
//   - no usable metrics, and the change is within --settle   → converging
//   - otherwise (kube-proxy synced after the change, nothing pending; or nothing known)
//                                                            → the mismatch is real: fail
// No timer replaces this reasoning: a kube-proxy that synced and still disagrees fails at
// once. Pure: "now" is the snapshot's capture time. Shared by every dataplane's judgement.
import type { Evidence } from '../../common/findings.js';
import type { ServiceInfo } from '../../common/cluster.js';
import type { NodeSnapshot } from '../snapshot.js';
import { isAvailable, type KubeProxyFacts, type KubeProxyMetrics } from '../inspect/kube-proxy.js';

export type Convergence =
  | { readonly converging: true; readonly reason: string; readonly evidence: Evidence }
  /** Not converging; evidence (when metrics exist) says why the mismatch is judged real. */
  | { readonly converging: false; readonly evidence?: Evidence };

/** How a "converging" verdict's message names it after the path (see routing.ts judge). */
export const CONVERGING_WORD = ': converging — ';

/**
 * A verdict that judged a mismatch as still converging: time alone (the settle window
 * ending) can turn it into a fail, so it may not be carried over to a later scan.
 */
export function isConvergingResult(r: { readonly status: string; readonly message: string }): boolean {
  return r.status === 'warn' && r.message.includes(CONVERGING_WORD);
}

/** `4s`, `2m5s`, `1h3m` — ages in messages. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60 ? `${s % 60}s` : ''}`;
  const m = Math.floor(s / 60);
  return `${Math.floor(m / 60)}h${m % 60 ? `${m % 60}m` : ''}`;
}

const seconds = (ms: number): number => Math.round(ms / 100) / 10;
const plural = (n: number, what: string): string => `${n} ${what} change${n === 1 ? '' : 's'}`;

/** Pending counts and the last sync's age, as evidence and as words. */
export function kubeProxyProgress(m: KubeProxyMetrics, nowMs: number): { evidence: Evidence; pending: number; waiting: boolean; pendingWords: string; words: string; lastSyncAgeMs?: number } {
  const endpoints = m.endpointChangesPending ?? 0;
  const services = m.serviceChangesPending ?? 0;
  const lastSyncAgeMs = m.lastSyncSeconds !== undefined ? nowMs - m.lastSyncSeconds * 1000 : undefined;
  const evidence: Evidence = {
    ...(m.endpointChangesPending !== undefined ? { endpointChangesPending: m.endpointChangesPending } : {}),
    ...(m.serviceChangesPending !== undefined ? { serviceChangesPending: m.serviceChangesPending } : {}),
    ...(m.lastSyncSeconds !== undefined ? { lastSync: new Date(m.lastSyncSeconds * 1000).toISOString(), lastSyncAgeSeconds: seconds(lastSyncAgeMs!) } : { lastSync: 'none since kube-proxy started' }),
    ...(m.syncDuration && m.syncDuration.count > 0 ? { meanSyncSeconds: Math.round((m.syncDuration.sumSeconds / m.syncDuration.count) * 1000) / 1000 } : {}),
    ...(m.unsyncedSinceSeconds !== undefined ? { syncQueuedAt: new Date(m.unsyncedSinceSeconds * 1000).toISOString(), syncQueuedAgeSeconds: seconds(nowMs - m.unsyncedSinceSeconds * 1000) } : {}),
  };
  const last = lastSyncAgeMs !== undefined ? `last sync ${formatAge(lastSyncAgeMs)} ago` : 'no sync completed yet';
  // kube-proxy zeroes the pending gauges when a sync starts, even one that fails: a sync
  // queued after the last successful one is what says changes still wait.
  const queued = m.unsyncedSinceSeconds !== undefined ? `, a sync queued ${formatAge(nowMs - m.unsyncedSinceSeconds * 1000)} ago not completed` : '';
  const pendingWords = `${plural(endpoints, 'endpoint')} and ${plural(services, 'service')} pending${queued}`;
  return {
    evidence, pending: endpoints + services, waiting: endpoints + services > 0 || m.unsyncedSinceSeconds !== undefined, pendingWords,
    words: `${pendingWords}, ${last}`,
    ...(lastSyncAgeMs !== undefined ? { lastSyncAgeMs } : {}),
  };
}

export function convergence(facts: KubeProxyFacts | undefined, changedAtMs: number | undefined, nowMs: number): Convergence {
  if (!facts) return { converging: false }; // a bundle without kube-proxy-metrics.txt: judged as always
  const changed: Evidence = changedAtMs !== undefined
    ? { serviceChangedAt: new Date(changedAtMs).toISOString(), serviceChangedAgeSeconds: seconds(nowMs - changedAtMs) }
    : {};
  const m = facts.metrics;
  if (isAvailable(m) && (m.lastSyncSeconds !== undefined || m.endpointChangesPending !== undefined || m.serviceChangesPending !== undefined)) {
    const p = kubeProxyProgress(m, nowMs);
    const evidence: Evidence = { kubeProxy: { source: facts.source, ...p.evidence }, ...changed };
    if (p.waiting) {
      return { converging: true, reason: `kube-proxy reports ${p.words}`, evidence };
    }
    if (changedAtMs !== undefined && (m.lastSyncSeconds === undefined || changedAtMs > m.lastSyncSeconds * 1000)) {
      const last = p.lastSyncAgeMs !== undefined ? `after kube-proxy's last sync ${formatAge(p.lastSyncAgeMs)} ago` : 'and kube-proxy has completed no sync since it started';
      return { converging: true, reason: `the Service changed ${formatAge(nowMs - changedAtMs)} ago, ${last}`, evidence };
    }
    return { converging: false, evidence };
  }
  const unavailable = isAvailable(m) ? `${facts.source} has no sync metrics` : m.unavailable;
  if (changedAtMs !== undefined && nowMs - changedAtMs < facts.settleMs) {
    return {
      converging: true,
      reason: `the Service changed ${formatAge(nowMs - changedAtMs)} ago, within the ${formatAge(facts.settleMs)} settle window, and kube-proxy's metrics are unavailable (${unavailable})`,
      evidence: { kubeProxy: { source: facts.source, unavailable }, ...changed, settleSeconds: seconds(facts.settleMs) },
    };
  }
  return { converging: false };
}

/** The convergence of one Service on the node a snapshot was taken from. */
export function serviceConvergence(snapshot: NodeSnapshot, service: ServiceInfo): Convergence {
  return convergence(snapshot.kubeProxy, service.changedAt, Date.parse(snapshot.capturedAt));
}
