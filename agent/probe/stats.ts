// What a probe has seen since it started, as the cumulative counters a ProbeReport carries:
// attempts per path and result, mismatches per path and kind, RTT histograms per path and
// result (bucket bounds shared with the collector, common/probe.ts), the latest round per
// destination node and path, and the disruption mode's connection figures. Cumulative, so a
// report sent twice (a reconnect) adds nothing at the collector, which adds differences.
import { PROBE_RTT_BUCKETS, type MismatchKind, type ProbePathLabel, type ProbeResultLabel } from '../../common/probe.js';
import { classifySource, type AddressBook } from './classify.js';
import type { ProbeResult } from './judge.js';

export interface ProbeOutcome {
  readonly path: ProbePathLabel;
  readonly result: ProbeResultLabel;
  readonly kind?: MismatchKind;
  readonly peerNode: string;
  readonly rttSeconds: number;
}

interface Rtt { buckets: number[]; sum: number; count: number }

/** The metric path of one probe: the Service, the NodePort, a pod on the own node, or a pod elsewhere. */
export function probePath(r: ProbeResult, ownNode: string): ProbePathLabel {
  if (r.path === 'service' || r.path === 'nodeport') return r.path;
  return r.peerNode === ownNode ? 'node-local' : 'pod';
}

/** One probe's outcome: ok, mismatch (with its kind), timeout or error. */
export function outcomeOf(r: ProbeResult, self: { readonly node: string; readonly podIp: string }, book: AddressBook): ProbeOutcome {
  const path = probePath(r, self.node);
  const base = { path, peerNode: r.path === 'pod' ? r.peerNode : '', rttSeconds: r.answer.rttMs / 1000 };
  if (!r.answer.ok) return { ...base, result: /^timeout/.test(r.answer.error ?? '') ? 'timeout' : 'error' };
  if (r.answer.seen === self.podIp) return { ...base, result: 'ok' };
  const c = classifySource(r.answer.seen, self.podIp, self.node, book);
  return { ...base, result: 'mismatch', kind: c.kind === 'preserved' ? 'unknown' : c.kind };
}

export class ProbeStats {
  private readonly attempts = new Map<string, number>();
  private readonly mismatches = new Map<string, number>();
  private readonly rtt = new Map<string, Rtt>();
  private peers = new Map<string, { ok: number; mismatched: number; failed: number }>();

  /** Counts one round's outcomes; the round replaces the previous one in `peers`. */
  addRound(outcomes: readonly ProbeOutcome[]): void {
    const peers = new Map<string, { ok: number; mismatched: number; failed: number }>();
    for (const o of outcomes) {
      const ak = `${o.path}\u0000${o.result}`;
      this.attempts.set(ak, (this.attempts.get(ak) ?? 0) + 1);
      if (o.kind) {
        const mk = `${o.path}\u0000${o.kind}`;
        this.mismatches.set(mk, (this.mismatches.get(mk) ?? 0) + 1);
      }
      let h = this.rtt.get(ak);
      if (!h) this.rtt.set(ak, (h = { buckets: PROBE_RTT_BUCKETS.map(() => 0), sum: 0, count: 0 }));
      PROBE_RTT_BUCKETS.forEach((le, i) => void (o.rttSeconds <= le && h.buckets[i]!++));
      h.sum += o.rttSeconds;
      h.count++;
      const pk = `${o.peerNode}\u0000${o.path}`;
      let p = peers.get(pk);
      if (!p) peers.set(pk, (p = { ok: 0, mismatched: 0, failed: 0 }));
      if (o.result === 'ok') p.ok++;
      else if (o.result === 'mismatch') p.mismatched++;
      else p.failed++;
    }
    this.peers = peers;
  }

  attemptsCount(path: ProbePathLabel, result: ProbeResultLabel): number {
    return this.attempts.get(`${path}\u0000${result}`) ?? 0;
  }

  /** The counters in ProbeReport's shape (fields 6–9). */
  toWire(): {
    attempts: { path: string; key: string; count: string }[];
    mismatches: { path: string; key: string; count: string }[];
    rtt: { path: string; result: string; buckets: string[]; sumSeconds: number; count: string }[];
    peers: { node: string; path: string; ok: number; mismatched: number; failed: number }[];
  } {
    const split = (k: string): [string, string] => k.split('\u0000') as [string, string];
    return {
      attempts: [...this.attempts].map(([k, count]) => ({ path: split(k)[0], key: split(k)[1], count: String(count) })),
      mismatches: [...this.mismatches].map(([k, count]) => ({ path: split(k)[0], key: split(k)[1], count: String(count) })),
      rtt: [...this.rtt].map(([k, h]) => ({ path: split(k)[0], result: split(k)[1], buckets: h.buckets.map(String), sumSeconds: h.sum, count: String(h.count) })),
      peers: [...this.peers].map(([k, p]) => ({ node: split(k)[0], path: split(k)[1], ...p })),
    };
  }
}
