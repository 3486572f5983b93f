// Whether an authenticated user may read something, asked of the API server with a
// SubjectAccessReview, so Kubernetes RBAC decides who reads netconform's data:
//
//   QueryService ListNodes, ListFindings   get  findings.netconform.io     (cluster scope)
//   PsaQueryService, QueryService PsaWhatIf get  podsecurity.netconform.io  (cluster scope)
//   QueryService MigrationInventory        get  migration.netconform.io    (cluster scope)
//   GET /metrics                           get  nonResourceURL /metrics   (like kube-rbac-proxy)
//
// MigrationInventory is its own resource because it shows more than findings do: every
// node's addresses and CNI setup, NetworkPolicy and DaemonSet names, pods using hostPort —
// a cluster's layout, which a reader of conformance results need not be able to see.
// The ClusterRole `netconform-reader` (manifests/base/rbac.yaml) grants the first three;
// Prometheus's usual ClusterRole already grants the last. Decisions are cached briefly.
import type { AuthorizationV1Api } from '@kubernetes/client-node';
import { TtlCache } from './cache.js';
import { ReviewUnavailableError, describeApiError, type ReviewedUser } from './token-review.js';

export const NETCONFORM_API_GROUP = 'netconform.io';

export type AccessCheck =
  | { readonly verb: string; readonly group: string; readonly resource: string }
  | { readonly verb: string; readonly path: string };

export const READ_FINDINGS: AccessCheck = { verb: 'get', group: NETCONFORM_API_GROUP, resource: 'findings' };
export const READ_PODSECURITY: AccessCheck = { verb: 'get', group: NETCONFORM_API_GROUP, resource: 'podsecurity' };
export const READ_MIGRATION: AccessCheck = { verb: 'get', group: NETCONFORM_API_GROUP, resource: 'migration' };
export const READ_METRICS: AccessCheck = { verb: 'get', path: '/metrics' };

export function describeCheck(c: AccessCheck): string {
  return 'path' in c ? `${c.verb} ${c.path}` : `${c.verb} ${c.resource}.${c.group}`;
}

export interface AccessDecision {
  readonly allowed: boolean;
  readonly reason: string;
}

export class AccessReviewer {
  private readonly cache: TtlCache<AccessDecision>;
  reviewsSent = 0;

  constructor(
    private readonly api: Pick<AuthorizationV1Api, 'createSubjectAccessReview'>,
    private readonly opts: { allowedTtlMs?: number; deniedTtlMs?: number; maxEntries?: number; now?: () => number } = {},
  ) {
    this.cache = new TtlCache(opts.maxEntries ?? 10_000, opts.now);
  }

  async decide(user: ReviewedUser, check: AccessCheck): Promise<AccessDecision> {
    const key = JSON.stringify([user.username, user.uid, [...user.groups].sort(), user.extra, check]);
    const cached = this.cache.get(key);
    if (cached) return cached;
    this.reviewsSent++;
    let res;
    try {
      res = await this.api.createSubjectAccessReview({
        body: {
          apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview',
          spec: {
            user: user.username, uid: user.uid, groups: [...user.groups],
            extra: Object.fromEntries(Object.entries(user.extra).map(([k, v]) => [k, [...v]])),
            ...('path' in check
              ? { nonResourceAttributes: { verb: check.verb, path: check.path } }
              : { resourceAttributes: { verb: check.verb, group: check.group, resource: check.resource } }),
          },
        },
      });
    } catch (err) {
      throw new ReviewUnavailableError(`SubjectAccessReview failed: ${describeApiError(err)}`);
    }
    const allowed = res.status?.allowed === true && res.status.denied !== true;
    const decision = { allowed, reason: res.status?.reason ?? '' };
    this.cache.set(key, decision, allowed ? this.opts.allowedTtlMs ?? 60_000 : this.opts.deniedTtlMs ?? 10_000);
    return decision;
  }
}
