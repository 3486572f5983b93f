// The collector's gatekeeper: who may open an agent stream (and for which node), and who
// may read queries and /metrics. One instance per collector; `open` (no TLS, no checks) is
// only for --insecure labs and tests.
import * as grpc from '@grpc/grpc-js';
import type { IncomingHttpHeaders } from 'node:http';
import * as k8s from '@kubernetes/client-node';
import type { Logger } from '../../common/log.js';
import { TokenReviewer, ReviewUnavailableError, tokenHash } from './token-review.js';
import { AccessReviewer, describeCheck, type AccessCheck } from './authorize.js';
import { NodeIdentityResolver, type ServiceAccountRef, type StreamRole } from './node-identity.js';
import type { RequestRejectReason, StreamRejectReason, TrustMetrics } from './metrics.js';

/** The audience agents' projected tokens are issued for (and the only one accepted from agents). */
export const AGENT_TOKEN_AUDIENCE = 'netconform-collector';

export type Admission =
  | {
    readonly ok: true;
    /** the node the stream may speak for; undefined: any (open mode) */ readonly node?: string;
    /** what its ServiceAccount may say (agent or probe); undefined: either (open mode) */ readonly role?: StreamRole;
    /** a probe's Pod's IPs, the only pod IPs its Hello may claim; undefined: not checked (agents, open mode) */ readonly podIps?: readonly string[];
  }
  | { readonly ok: false; readonly code: grpc.status; readonly reason: StreamRejectReason; readonly details: string };

export type Refusal = { readonly code: grpc.status; readonly httpStatus: number; readonly reason: RequestRejectReason; readonly details: string };

export interface CollectorAccess {
  /** False for the open mode: nothing is checked. */
  readonly enforcing: boolean;
  admitAgent(metadata: grpc.Metadata): Promise<Admission>;
  /** undefined when allowed. */
  authorize(authorization: string | undefined, check: AccessCheck, api: 'query' | 'metrics'): Promise<Refusal | undefined>;
}

/** `Bearer <token>` → the token; undefined when absent or another scheme. */
export function bearerToken(value: string | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(value ?? '');
  return m ? m[1] : undefined;
}

export function metadataAuthorization(md: grpc.Metadata): string | undefined {
  const v = md.get('authorization')[0];
  return typeof v === 'string' ? v : undefined;
}

export function headerAuthorization(h: IncomingHttpHeaders): string | undefined {
  return typeof h.authorization === 'string' ? h.authorization : undefined;
}

export const OPEN_ACCESS: CollectorAccess = {
  enforcing: false,
  admitAgent: () => Promise.resolve({ ok: true }),
  authorize: () => Promise.resolve(undefined),
};

export interface KubeAccessOptions {
  readonly kubeConfig: k8s.KubeConfig;
  readonly agentServiceAccount: ServiceAccountRef;
  /** The probe pods' ServiceAccount (default netconform:netconform-probe). */
  readonly probeServiceAccount?: ServiceAccountRef;
  readonly metrics: TrustMetrics;
  readonly log: Logger;
  readonly cacheTtlMs?: number;
}

/** TokenReview + SubjectAccessReview against the API server the kubeconfig points at. */
export class KubeAccess implements CollectorAccess {
  readonly enforcing = true;
  readonly agentTokens: TokenReviewer;
  readonly readerTokens: TokenReviewer;
  readonly access: AccessReviewer;
  readonly nodes: NodeIdentityResolver;
  private readonly metrics: TrustMetrics;
  private readonly log: Logger;

  constructor(opts: KubeAccessOptions) {
    const ttl = opts.cacheTtlMs ?? 60_000;
    const authn = opts.kubeConfig.makeApiClient(k8s.AuthenticationV1Api);
    // Agents: only tokens minted for the collector (not usable against the API server).
    this.agentTokens = new TokenReviewer(authn, { audiences: [AGENT_TOKEN_AUDIENCE], ttlMs: ttl });
    // Readers: their ordinary Kubernetes credentials (the API server's audience), as kubectl uses.
    this.readerTokens = new TokenReviewer(authn, { ttlMs: ttl });
    this.access = new AccessReviewer(opts.kubeConfig.makeApiClient(k8s.AuthorizationV1Api), { allowedTtlMs: ttl });
    this.nodes = new NodeIdentityResolver(opts.kubeConfig.makeApiClient(k8s.CoreV1Api), opts.agentServiceAccount, opts.probeServiceAccount);
    this.metrics = opts.metrics;
    this.log = opts.log;
  }

  async admitAgent(md: grpc.Metadata): Promise<Admission> {
    const refuse = (code: grpc.status, reason: StreamRejectReason, details: string): Admission => ({ ok: false, code, reason, details });
    const token = bearerToken(metadataAuthorization(md));
    if (!token) return refuse(grpc.status.UNAUTHENTICATED, 'no_token', 'no bearer token (the agent sends its projected ServiceAccount token)');
    try {
      const r = await this.agentTokens.review(token);
      if (!r.authenticated) {
        this.log.info('agent token refused', { token: tokenHash(token).slice(0, 12), why: r.error });
        return refuse(grpc.status.UNAUTHENTICATED, 'invalid_token', `token refused: ${r.error}`);
      }
      const id = await this.nodes.resolve(r.user);
      if (!id.ok) return refuse(grpc.status.PERMISSION_DENIED, id.reason, id.details);
      return { ok: true, node: id.node, role: id.role, ...(id.podIps ? { podIps: id.podIps } : {}) };
    } catch (err) {
      if (!(err instanceof ReviewUnavailableError)) throw err;
      this.log.warn('cannot authenticate an agent stream', { err: err.message });
      return refuse(grpc.status.UNAVAILABLE, 'review_failed', 'the collector cannot verify tokens right now');
    }
  }

  async authorize(authorization: string | undefined, check: AccessCheck, api: 'query' | 'metrics'): Promise<Refusal | undefined> {
    const refuse = (code: grpc.status, httpStatus: number, reason: RequestRejectReason, details: string): Refusal => {
      this.metrics.rejectedRequests.inc({ api, reason });
      return { code, httpStatus, reason, details };
    };
    const token = bearerToken(authorization);
    if (!token) return refuse(grpc.status.UNAUTHENTICATED, 401, 'no_token', 'no bearer token');
    try {
      const r = await this.readerTokens.review(token);
      if (!r.authenticated) return refuse(grpc.status.UNAUTHENTICATED, 401, 'invalid_token', `token refused: ${r.error}`);
      const d = await this.access.decide(r.user, check);
      if (!d.allowed) return refuse(grpc.status.PERMISSION_DENIED, 403, 'forbidden', `${r.user.username} may not ${describeCheck(check)}`);
      return undefined;
    } catch (err) {
      if (!(err instanceof ReviewUnavailableError)) throw err;
      this.log.warn('cannot authorize a request', { api, err: err.message });
      return refuse(grpc.status.UNAVAILABLE, 503, 'review_failed', 'the collector cannot verify tokens right now');
    }
  }
}
