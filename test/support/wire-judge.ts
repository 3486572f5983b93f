// What real packets must do, derived from what netconform traced: one probe per Service path
// a scan judged (ClusterIP from a pod, NodePort from outside), and the judgement of what the
// wire showed — every connection answered by an expected endpoint, spread as the traced
// probabilities say (Pearson's chi-square: a missing endpoint of three, ≥ 100 expected
// answers at 0, gives p < 1e-20; the test fails below 1e-6), affinity sticking to one
// endpoint, REJECT refusing and DROP timing out every connection.
import type { Finding } from '../../common/findings.js';
import type { WireLab, WireTally, WireTarget } from '../lab/wire.js';
import { chiSquareFit } from './chi-square.js';

/** Connections per spread Service port: a missing endpoint (expected ≥ 100 answers) cannot hide. */
export const SPREAD_N = 300;
/** A spread this unlikely under the traced probabilities fails (chance of a false alarm: 1e-6 per port). */
export const P_MIN = 1e-6;

export type Expectation =
  | { readonly kind: 'spread'; readonly probabilities: Readonly<Record<string, number>> }
  | { readonly kind: 'sticky'; readonly endpoints: readonly string[] }
  | { readonly kind: 'refused' | 'dropped' };

export interface Probe { readonly subject: string; readonly from: 'pod' | 'outside'; readonly target: WireTarget; readonly expect: Expectation }

/** One wire probe per traced path the scan passed: what the tracer says is what packets must do. */
export function probesFromFindings(fs: readonly Finding[]): { probes: Probe[]; skipped: string[] } {
  const probes: Probe[] = [];
  const skipped: string[] = [];
  for (const f of fs) {
    if (f.check !== 'service-routing.clusterip' && f.check !== 'service-routing.nodeport') continue;
    const ev = f.evidence!;
    const m = /^(ClusterIP|NodePort) (\S+):(\d+)\/(TCP|UDP|SCTP)/.exec(String(ev['path']));
    if (!m) throw new Error(`unexpected path ${String(ev['path'])}`);
    const [, kind, host, port, proto] = m;
    const from = kind === 'NodePort' ? 'outside' : 'pod';
    // IPv6 paths and endpoints are written [addr]:port; the sockets speak plain addresses.
    const bare = (h: string): string => h.replace(/^\[(.*)\]$/, '$1');
    // Both families of a dual-stack Service port share the subject: the path keeps their probes apart.
    const id = `${f.check.split('.')[1]} ${f.subject}${host!.startsWith('[') ? ' IPv6' : ''}`;
    if (proto === 'SCTP') { skipped.push(`${id} (no SCTP sockets on this kernel)`); continue; }
    const base = { id, proto: proto!.toLowerCase() as 'tcp' | 'udp', host: bare(host!), port: Number(port) };
    const byIp = Object.fromEntries(Object.entries(ev['probabilities'] as Record<string, number>).map(([k, p]) => [bare(k.slice(0, k.lastIndexOf(':'))), p]));
    if (ev['rejected'] === 1) probes.push({ subject: id, from, target: { ...base, n: 3, concurrency: 3 }, expect: { kind: 'refused' } });
    else if (ev['dropped'] === 1) probes.push({ subject: id, from, target: { ...base, n: 2, concurrency: 2 }, expect: { kind: 'dropped' } });
    else if ((ev['affinity'] as { expected?: string } | undefined)?.expected === 'ClientIP') probes.push({ subject: id, from, target: { ...base, n: 30, concurrency: 1 }, expect: { kind: 'sticky', endpoints: Object.keys(byIp) } });
    else probes.push({ subject: id, from, target: { ...base, n: SPREAD_N }, expect: { kind: 'spread', probabilities: byIp } });
  }
  return { probes, skipped };
}

/** The problems with one tally, in words (empty: the wire agrees). */
export function judgeWire(p: Probe, r: WireTally | undefined): string[] {
  if (!r) return ['no result'];
  const answered = Object.values(r.by).reduce((a, b) => a + b, 0);
  const errors = Object.entries(r.errors).map(([k, v]) => `${v}× ${k}`).join(', ');
  switch (p.expect.kind) {
    case 'refused':
      return answered === 0 && (r.errors['ECONNREFUSED'] ?? 0) === p.target.n ? [] : [`expected every connection refused, got ${JSON.stringify(r)}`];
    case 'dropped':
      return answered === 0 && (r.errors['timeout'] ?? 0) === p.target.n ? [] : [`expected every connection dropped (timeout), got ${JSON.stringify(r)}`];
    case 'sticky': {
      const who = Object.keys(r.by);
      return who.length === 1 && p.expect.endpoints.includes(who[0]!) && answered === p.target.n ? [] : [`expected all ${p.target.n} connections on one of ${p.expect.endpoints.join(', ')}, got ${JSON.stringify(r)}`];
    }
    case 'spread': {
      const out: string[] = [];
      const probabilities = p.expect.probabilities;
      if (answered !== p.target.n) out.push(`${p.target.n - answered} of ${p.target.n} unanswered (${errors})`);
      const stray = Object.keys(r.by).filter((ip) => !(ip in probabilities));
      if (stray.length > 0) out.push(`answered by unexpected endpoints ${stray.join(', ')}`);
      const fit = chiSquareFit(r.by, probabilities);
      if (fit.pValue < P_MIN) out.push(`spread ${JSON.stringify(r.by)} disagrees with the traced probabilities ${JSON.stringify(probabilities)} (chi-square ${fit.statistic.toFixed(1)}, ${fit.degreesOfFreedom} df, p=${fit.pValue.toExponential(1)})`);
      return out;
    }
  }
}

/** Runs every probe (pod-side and outside), returns the problems per subject and the tallies. */
export async function onTheWire(w: WireLab, probes: readonly Probe[]): Promise<{ problems: string[]; tallies: Record<string, WireTally> }> {
  const pod = await w.fromPod(probes.filter((p) => p.from === 'pod').map((p) => p.target));
  const outside = await w.fromOutside(probes.filter((p) => p.from === 'outside').map((p) => p.target));
  const tallies = { ...pod, ...outside };
  const problems = probes.flatMap((p) => judgeWire(p, tallies[p.target.id]).map((x) => `${p.subject}: ${x}`));
  return { problems, tallies };
}

