// Which node an agent's token speaks for. A projected ServiceAccount token is bound to the
// Pod it was issued for, and the TokenReview says so in the user's extra:
//   authentication.kubernetes.io/node-name   the Pod's node (Kubernetes ≥ 1.30)
//   authentication.kubernetes.io/pod-name, …/pod-uid   the Pod (older clusters)
// With only the Pod claim the Pod is read once (then cached by its uid) for spec.nodeName;
// its uid must match the token's, so a deleted and re-created Pod of the same name on
// another node does not inherit the old binding. The ServiceAccount must be the agent's.
// A probe's token must carry the Pod claim even when it has the node claim: its Pod is
// read (the same cached lookup) for status.podIPs, so the pod IP its Hello claims — the
// address its peers compare what they saw against — is the Pod's, not taken on trust.
import type { CoreV1Api } from '@kubernetes/client-node';
import { TtlCache } from './cache.js';
import { ReviewUnavailableError, describeApiError, type ReviewedUser } from './token-review.js';

export const NODE_NAME_EXTRA = 'authentication.kubernetes.io/node-name';
export const POD_NAME_EXTRA = 'authentication.kubernetes.io/pod-name';
export const POD_UID_EXTRA = 'authentication.kubernetes.io/pod-uid';

export interface ServiceAccountRef {
  readonly namespace: string;
  readonly name: string;
}

export const DEFAULT_AGENT_SERVICE_ACCOUNT: ServiceAccountRef = { namespace: 'netconform', name: 'netconform-agent' };
/** The probe pods' ServiceAccount: their streams are bound to their node like an agent's, with role "probe". */
export const DEFAULT_PROBE_SERVICE_ACCOUNT: ServiceAccountRef = { namespace: 'netconform', name: 'netconform-probe' };

/** Who may open a stream: an agent (reports the node's checks) or a probe (reports no-nat.observed only). */
export type StreamRole = 'agent' | 'probe';

/** `ns:name` → the ServiceAccount; undefined when malformed. */
export function parseServiceAccount(text: string): ServiceAccountRef | undefined {
  const m = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?):([a-z0-9]([-.a-z0-9]*[a-z0-9])?)$/.exec(text);
  return m ? { namespace: m[1]!, name: m[3]! } : undefined;
}

export function serviceAccountOf(username: string): ServiceAccountRef | undefined {
  const m = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(username);
  return m ? { namespace: m[1]!, name: m[2]! } : undefined;
}

export type NodeIdentity =
  | {
    readonly ok: true; readonly node: string; readonly via: 'node-claim' | 'pod-claim'; readonly role: StreamRole;
    /** A probe's Pod's status.podIPs (the only addresses its Hello may claim); undefined for agents. */
    readonly podIps?: readonly string[];
  }
  | { readonly ok: false; readonly reason: 'not_agent' | 'no_node' | 'no_pod'; readonly details: string };

/** What the Pod read tells, cached by the Pod's uid (a uid is never reused). */
interface PodFacts {
  readonly node: string;
  readonly podIps: readonly string[];
}

const first = (user: ReviewedUser, key: string): string | undefined => user.extra[key]?.[0] || undefined;

export class NodeIdentityResolver {
  private readonly pods = new TtlCache<PodFacts>(20_000);
  podLookups = 0;

  constructor(
    private readonly core: Pick<CoreV1Api, 'readNamespacedPod'>,
    private readonly agent: ServiceAccountRef = DEFAULT_AGENT_SERVICE_ACCOUNT,
    private readonly probe: ServiceAccountRef | undefined = DEFAULT_PROBE_SERVICE_ACCOUNT,
  ) {}

  async resolve(user: ReviewedUser): Promise<NodeIdentity> {
    const sa = serviceAccountOf(user.username);
    const is = (ref: ServiceAccountRef | undefined): boolean => sa !== undefined && ref !== undefined && sa.namespace === ref.namespace && sa.name === ref.name;
    const role: StreamRole | undefined = is(this.agent) ? 'agent' : is(this.probe) ? 'probe' : undefined;
    if (!sa || !role) {
      const probe = this.probe ? ` nor the probe's (${this.probe.namespace}:${this.probe.name})` : '';
      return { ok: false, reason: 'not_agent', details: `${user.username} is not the agent's ServiceAccount (${this.agent.namespace}:${this.agent.name})${probe}` };
    }
    const node = first(user, NODE_NAME_EXTRA);
    if (node && role === 'agent') return { ok: true, node, via: 'node-claim', role };
    const pod = first(user, POD_NAME_EXTRA);
    const uid = first(user, POD_UID_EXTRA);
    if (!pod || !uid) {
      return role === 'probe'
        ? { ok: false, reason: 'no_pod', details: 'a probe\'s token must be bound to its Pod (a projected ServiceAccount token): its pod IP is checked against the Pod' }
        : { ok: false, reason: 'no_node', details: 'the token is not bound to a Pod (use a projected ServiceAccount token)' };
    }
    const cached = this.pods.get(uid);
    const facts = cached ? { ok: true as const, ...cached } : await this.readPod(sa.namespace, pod, uid, role);
    if (!facts.ok) return facts;
    const via = node ? 'node-claim' : 'pod-claim';
    return { ok: true, node: node ?? facts.node, via, role, ...(role === 'probe' ? { podIps: facts.podIps } : {}) };
  }

  private async readPod(namespace: string, pod: string, uid: string, role: StreamRole): Promise<(PodFacts & { ok: true }) | (NodeIdentity & { ok: false })> {
    const noPod = role === 'probe' ? 'no_pod' : 'no_node';
    this.podLookups++;
    let obj;
    try {
      obj = await this.core.readNamespacedPod({ name: pod, namespace });
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (code === 404) return { ok: false, reason: noPod, details: `the token's Pod ${namespace}/${pod} does not exist` };
      throw new ReviewUnavailableError(`reading Pod ${namespace}/${pod}: ${describeApiError(err)}`);
    }
    if (obj.metadata?.uid !== uid) return { ok: false, reason: noPod, details: `Pod ${namespace}/${pod} is not the one the token was issued for` };
    const nodeName = obj.spec?.nodeName;
    if (!nodeName) return { ok: false, reason: 'no_node', details: `Pod ${namespace}/${pod} is not scheduled to a node` };
    const podIps = (obj.status?.podIPs ?? []).map((a) => a.ip).filter((ip): ip is string => !!ip);
    if (podIps.length === 0 && obj.status?.podIP) podIps.push(obj.status.podIP);
    const facts = { node: nodeName, podIps };
    // A Pod's IPs do not change once set; a Pod read before the kubelet wrote them is read again next time.
    if (podIps.length > 0 || role === 'agent') this.pods.set(uid, facts, 24 * 3600_000);
    return { ok: true, ...facts };
  }
}
