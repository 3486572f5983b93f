// Raw list requests to the API server, authenticated and TLS-configured by the client's
// KubeConfig (token files, exec plugins, client certificates, the cluster CA).
//
// Lists are read as plain JSON rather than through the client's typed models on purpose:
// the typed deserializer drops fields its models do not know (a newer securityContext
// field would vanish before the Pod Security evaluator sees it) and throws on one
// odd-shaped object, failing the whole list. Here every object arrives as the server sent
// it and is validated one by one by the shared parser.
import * as http from 'node:http';
import * as https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';

/** A non-2xx answer (or a watch ERROR event) from the API server. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(readonly statusCode: number, message: string, readonly path: string) {
    super(`${path}: HTTP ${statusCode}: ${message}`);
  }
}

export function statusCodeOf(err: unknown): number | undefined {
  if (err instanceof ApiError) return err.statusCode;
  if (typeof err === 'object' && err !== null) {
    const e = err as { statusCode?: unknown; code?: unknown };
    if (typeof e.statusCode === 'number') return e.statusCode;
    if (typeof e.code === 'number') return e.code;
  }
  return undefined;
}

export interface RawList {
  readonly resourceVersion: string;
  readonly items: readonly unknown[];
}

const MAX_BODY_BYTES = 512 * 1024 * 1024;

/** GET `path` with query parameters; resolves with the parsed JSON body of a 2xx answer. */
export async function getJson(kc: KubeConfig, path: string, query: Record<string, string>, timeoutMs = 60_000): Promise<unknown> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no current cluster');
  const url = new URL(cluster.server.replace(/\/+$/, '') + path);
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  const opts: https.RequestOptions = { method: 'GET', headers: { Accept: 'application/json' } };
  await kc.applyToHTTPSOptions(opts);
  const lib = url.protocol === 'http:' ? http : https;
  return new Promise((resolve, reject) => {
    const req = lib.request(url, { ...opts, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY_BYTES) req.destroy(new Error(`${path}: response larger than ${MAX_BODY_BYTES} bytes`));
        else chunks.push(c);
      });
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const code = res.statusCode ?? 0;
        if (code < 200 || code > 299) {
          reject(new ApiError(code, statusMessage(text) ?? res.statusMessage ?? 'request failed', path));
          return;
        }
        try {
          resolve(JSON.parse(text) as unknown);
        } catch (err) {
          reject(new Error(`${path}: invalid JSON from the API server: ${(err as Error).message}`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${path}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

function statusMessage(text: string): string | undefined {
  try {
    const v = JSON.parse(text) as { message?: unknown };
    return typeof v.message === 'string' ? v.message : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Lists a collection in pages of `limit` (the API server's chunking), following `continue`
 * tokens; the list's resourceVersion is the one of its first page, which is where a watch
 * resumes. An expired continue token surfaces as an ApiError with statusCode 410.
 */
export async function listAll(kc: KubeConfig, path: string, limit = 500, extraQuery: Record<string, string> = {}): Promise<RawList> {
  const items: unknown[] = [];
  let resourceVersion = '';
  let cont = '';
  for (let page = 0; ; page++) {
    const query: Record<string, string> = { ...extraQuery, limit: String(limit) };
    if (cont) query['continue'] = cont;
    const body = await getJson(kc, path, query);
    if (typeof body !== 'object' || body === null || !Array.isArray((body as { items?: unknown }).items)) {
      throw new Error(`${path}: the API server's list has no items array`);
    }
    const list = body as { items: unknown[]; metadata?: { resourceVersion?: unknown; continue?: unknown } };
    if (page === 0) resourceVersion = typeof list.metadata?.resourceVersion === 'string' ? list.metadata.resourceVersion : '';
    for (const item of list.items) items.push(item);
    cont = typeof list.metadata?.continue === 'string' ? list.metadata.continue : '';
    if (!cont) break;
  }
  return { resourceVersion, items };
}
