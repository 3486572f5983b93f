// Which node an agent's token speaks for. A projected ServiceAccount token is bound to the
// Pod it was issued for, and the TokenReview says so in the user's extra:
//   authentication.kubernetes.io/node-name   the Pod's node (Kubernetes ≥ 1.30)
//   authentication.kubernetes.io/pod-name, …/pod-uid   the Pod (older clusters)
// With only the Pod claim the Pod is read once (then cached by its uid) for spec.nodeName;
// its uid must match the token's, so a deleted and re-created Pod of the same name on
// another node does not inherit the old binding. The ServiceAccount must be the agent's.
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
  | { readonly ok: true; readonly node: string; readonly via: 'node-claim' | 'pod-claim'; readonly role: StreamRole }
  | { readonly ok: false; readonly reason: 'not_agent' | 'no_node'; readonly details: string };

const first = (user: ReviewedUser, key: string): string | undefined => user.extra[key]?.[0] || undefined;

export class NodeIdentityResolver {
  private readonly pods = new TtlCache<string>(20_000);
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
    if (node) return { ok: true, node, via: 'node-claim', role };
    const pod = first(user, POD_NAME_EXTRA);
    const uid = first(user, POD_UID_EXTRA);
    if (!pod || !uid) return { ok: false, reason: 'no_node', details: 'the token is not bound to a Pod (use a projected ServiceAccount token)' };
    const cached = this.pods.get(uid);
    if (cached) return { ok: true, node: cached, via: 'pod-claim', role };
    this.podLookups++;
    let obj;
    try {
      obj = await this.core.readNamespacedPod({ name: pod, namespace: sa.namespace });
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (code === 404) return { ok: false, reason: 'no_node', details: `the token's Pod ${sa.namespace}/${pod} does not exist` };
      throw new ReviewUnavailableError(`reading Pod ${sa.namespace}/${pod}: ${describeApiError(err)}`);
    }
    if (obj.metadata?.uid !== uid) return { ok: false, reason: 'no_node', details: `Pod ${sa.namespace}/${pod} is not the one the token was issued for` };
    const nodeName = obj.spec?.nodeName;
    if (!nodeName) return { ok: false, reason: 'no_node', details: `Pod ${sa.namespace}/${pod} is not scheduled to a node` };
    this.pods.set(uid, nodeName, 24 * 3600_000);
    return { ok: true, node: nodeName, via: 'pod-claim', role };
  }
}
