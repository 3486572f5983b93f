// no-nat.observed: what receiving pods actually saw, per destination node (and for the
// probe Service). Any answer with a source other than this pod's IP fails, classified;
// too many unanswered probes warn (nothing proven either way). The NodePort path (through
// the probe's own node's address) is judged by the Service's externalTrafficPolicy instead:
// with Cluster kube-proxy masquerades NodePort traffic by design, so a rewritten source
// there is the documented behaviour (a pass that says what was seen), never a fail; with
// Local the source must be preserved, and a rewritten one warns. Pure.
import type { CheckResult } from '../checks/types.js';
import { classifySource, type AddressBook, type SourceKind } from './classify.js';
import type { ProbeAnswer } from './prober.js';

export { NO_NAT_OBSERVED } from '../../common/probe.js';

export type ProbePath = 'pod' | 'service' | 'nodeport';

/** The probe Service's externalTrafficPolicy: what the NodePort path should show. */
export type ExternalTrafficPolicy = 'Cluster' | 'Local';

export interface ProbeResult {
  readonly path: ProbePath;
  readonly proto: 'tcp' | 'udp';
  readonly peer: string;
  /** The destination's node ('' for the Service and NodePort paths: kube-proxy chooses). */
  readonly peerNode: string;
  readonly answer: ProbeAnswer;
}

const KIND_WORDS: Record<Exclude<SourceKind, 'preserved'>, string> = {
  'sender-node': 'this node\'s address: masqueraded on the way out',
  gateway: 'a pod-network gateway address: NAT on the bridge',
  'other-node': 'another node\'s address: rewritten on the way',
  unknown: 'an address of no node or pod netconform knows: NAT outside the nodes (cloud SDN, tunnel)',
};

export function judgeProbes(self: { readonly node: string; readonly podIp: string }, results: readonly ProbeResult[], book: AddressBook,
  opts: { readonly timeoutWarnRatio?: number; readonly nodePortPolicy?: ExternalTrafficPolicy } = {}): CheckResult[] {
  const timeoutWarnRatio = opts.timeoutWarnRatio ?? 0.5;
  const policy = opts.nodePortPolicy ?? 'Cluster';
  const groups = new Map<string, ProbeResult[]>();
  for (const r of results) {
    const key = r.path === 'pod' ? r.peerNode : r.path;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = []));
    g.push(r);
  }
  const out: CheckResult[] = [];
  for (const [subject, rs] of [...groups].sort(([a], [b]) => a.localeCompare(b))) {
    const answered = rs.filter((r) => r.answer.ok);
    const rewritten = answered.filter((r) => r.answer.seen !== self.podIp);
    const where = subject === 'service' ? 'through the probe Service' : subject === 'nodeport' ? `through the NodePort ${rs[0]!.peer}` : subject === self.node ? 'to pods on this node' : `to pods on ${subject}`;
    if (subject === 'nodeport' && rewritten.length > 0) {
      const seen = [...new Set(rewritten.map((r) => r.answer.seen))];
      const c = classifySource(seen[0]!, self.podIp, self.node, book);
      const kind = c.kind === 'preserved' ? 'unknown' : c.kind;
      const because = policy === 'Cluster'
        ? 'as expected with externalTrafficPolicy Cluster: kube-proxy masquerades NodePort traffic so the answer returns through this node'
        : 'but externalTrafficPolicy Local must preserve the client\'s address: something other than kube-proxy rewrote it';
      out.push({
        status: policy === 'Cluster' ? 'pass' : 'warn', severity: policy === 'Cluster' ? 'info' : 'medium', subject,
        message: `${rewritten.length} of ${answered.length} probes ${where} arrived from ${seen.join(', ')} (${KIND_WORDS[kind]}) instead of this pod's ${self.podIp}, ${because}`,
        evidence: { expected: self.podIp, seen, kind, externalTrafficPolicy: policy, rewriteExpected: policy === 'Cluster', ...(c.node ? { rewrittenBy: c.node } : {}) },
      });
    } else if (rewritten.length > 0) {
      const seen = [...new Set(rewritten.map((r) => r.answer.seen))];
      const c = classifySource(seen[0]!, self.podIp, self.node, book);
      const kind = c.kind === 'preserved' ? 'unknown' : c.kind;
      out.push({
        status: 'fail', severity: 'high', subject,
        message: `${rewritten.length} of ${answered.length} probes ${where} arrived from ${seen.join(', ')} (${KIND_WORDS[kind]}) instead of this pod's ${self.podIp}: the receiving pod does not see the sender's pod IP`,
        evidence: { expected: self.podIp, seen, kind, ...(c.node ? { rewrittenBy: c.node } : {}), peers: [...new Set(rewritten.map((r) => `${r.peer}/${r.proto}`))].sort() },
      });
    } else if (rs.length - answered.length > rs.length * timeoutWarnRatio) {
      out.push({
        status: 'warn', severity: 'medium', subject,
        message: `${rs.length - answered.length} of ${rs.length} probes ${where} got no answer: source preservation is unproven`,
        evidence: { errors: [...new Set(rs.filter((r) => !r.answer.ok).map((r) => r.answer.error ?? ''))] },
      });
    } else {
      const nodePort = subject === 'nodeport' ? { externalTrafficPolicy: policy } : {};
      out.push({ status: 'pass', severity: 'info', subject, message: `${answered.length} probes ${where} arrived from this pod's ${self.podIp}`, evidence: { answered: answered.length, sent: rs.length, ...nodePort } });
    }
  }
  return out;
}
