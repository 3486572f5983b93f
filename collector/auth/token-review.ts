// Who a bearer token belongs to, asked of the API server with a TokenReview (the real
// client). Answers are cached briefly under a hash of the token: the token itself is never
// stored, logged or put in an error message.
import { createHash } from 'node:crypto';
import type { AuthenticationV1Api } from '@kubernetes/client-node';
import { TtlCache } from './cache.js';

export interface ReviewedUser {
  readonly username: string;
  readonly uid: string;
  readonly groups: readonly string[];
  readonly extra: Readonly<Record<string, readonly string[]>>;
}

export type TokenReviewResult =
  | { readonly authenticated: true; readonly user: ReviewedUser }
  | { readonly authenticated: false; readonly error: string };

/** The API server could not be asked (network, 5xx, RBAC on tokenreviews): not the caller's fault. */
export class ReviewUnavailableError extends Error {
  override readonly name = 'ReviewUnavailableError';
}

export interface TokenReviewerOptions {
  /** Audiences the token must be valid for; empty: the API server's own. */
  readonly audiences?: readonly string[];
  readonly ttlMs?: number;
  /** How long a refused token stays refused without asking again. */
  readonly refusedTtlMs?: number;
  readonly maxEntries?: number;
  readonly now?: () => number;
}

export function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

export class TokenReviewer {
  private readonly cache: TtlCache<TokenReviewResult>;
  private readonly inFlight = new Map<string, Promise<TokenReviewResult>>();
  private readonly audiences: string[];
  private readonly ttlMs: number;
  private readonly refusedTtlMs: number;
  /** TokenReviews actually sent (cache misses), for tests and debugging. */
  reviewsSent = 0;

  constructor(private readonly api: Pick<AuthenticationV1Api, 'createTokenReview'>, opts: TokenReviewerOptions = {}) {
    this.audiences = [...(opts.audiences ?? [])];
    this.ttlMs = opts.ttlMs ?? 60_000;
    this.refusedTtlMs = opts.refusedTtlMs ?? 10_000;
    this.cache = new TtlCache(opts.maxEntries ?? 10_000, opts.now);
  }

  review(token: string): Promise<TokenReviewResult> {
    const key = tokenHash(token);
    const cached = this.cache.get(key);
    if (cached) return Promise.resolve(cached);
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    const p = this.ask(token).then((r) => {
      this.cache.set(key, r, r.authenticated ? this.ttlMs : this.refusedTtlMs);
      return r;
    }).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, p);
    return p;
  }

  private async ask(token: string): Promise<TokenReviewResult> {
    this.reviewsSent++;
    let res;
    try {
      res = await this.api.createTokenReview({
        body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, ...(this.audiences.length ? { audiences: this.audiences } : {}) } },
      });
    } catch (err) {
      throw new ReviewUnavailableError(`TokenReview failed: ${describeApiError(err)}`);
    }
    const s = res.status;
    if (!s?.authenticated || !s.user?.username) return { authenticated: false, error: s?.error || 'token not authenticated' };
    if (this.audiences.length && !this.audiences.some((a) => s.audiences?.includes(a))) {
      return { authenticated: false, error: `token is not for audience ${this.audiences.join(', ')}` };
    }
    const extra: Record<string, string[]> = {};
    for (const [k, v] of Object.entries(s.user.extra ?? {})) extra[k] = [...v];
    return { authenticated: true, user: { username: s.user.username, uid: s.user.uid ?? '', groups: [...(s.user.groups ?? [])], extra } };
  }
}

/** A client error as one line (status code and the API server's message), never a request dump. */
export function describeApiError(err: unknown): string {
  const e = err as { code?: unknown; body?: unknown; message?: unknown };
  const code = typeof e.code === 'number' ? `HTTP ${e.code}` : '';
  let msg = '';
  if (typeof e.body === 'string') {
    try {
      const b = JSON.parse(e.body) as { message?: unknown };
      if (typeof b.message === 'string') msg = b.message;
    } catch {
      // not JSON
    }
  }
  if (!msg && typeof e.message === 'string') msg = e.message.split('\n')[0]!.slice(0, 200);
  return [code, msg].filter(Boolean).join(': ') || 'unknown error';
}
