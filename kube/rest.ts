// Raw list requests to the API server, authenticated and TLS-configured by the client's
// KubeConfig (token files, exec plugins, client certificates, the cluster CA).
//
// Lists are read as plain JSON rather than through the client's typed models on purpose:
// the typed deserializer drops fields its models do not know (a newer securityContext
// field would vanish before the Pod Security evaluator sees it) and throws on one
// odd-shaped object, failing the whole list. Here every object arrives as the server sent
// it and is validated one by one by the shared parser.
//
// Watches are read the same way (newline-delimited JSON events), so the agent never loads
// @kubernetes/client-node: importing it costs ~65 MB of RSS (its generated model classes),
// half of what the agent holds between scans (docs/memory.md).
import * as http from 'node:http';
import * as https from 'node:https';
import { createInterface } from 'node:readline';

/**
 * What a list or a watch needs of a kubeconfig: the API server's address, and the TLS
 * settings and credentials of a request. @kubernetes/client-node's KubeConfig has both (the
 * collector's), and so has the agent's own light one (kube/access.ts).
 */
export interface KubeAccess {
  getCurrentCluster(): { readonly server: string } | null;
  applyToHTTPSOptions(opts: https.RequestOptions): Promise<void>;
}

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
export async function getJson(kc: KubeAccess, path: string, query: Record<string, string>, timeoutMs = 60_000): Promise<unknown> {
  const { url, opts, lib } = await prepare(kc, path, query);
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

async function prepare(kc: KubeAccess, path: string, query: Record<string, string>): Promise<{ url: URL; opts: https.RequestOptions; lib: typeof https | typeof http }> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('kubeconfig has no current cluster');
  const url = new URL(cluster.server.replace(/\/+$/, '') + path);
  for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
  const opts: https.RequestOptions = { method: 'GET', headers: { Accept: 'application/json' } };
  await kc.applyToHTTPSOptions(opts);
  return { url, opts, lib: url.protocol === 'http:' ? http : https };
}

/**
 * GET `path?watch=true&…` and hand each event of the stream (one JSON object a line,
 * `{type, object}`) to `onEvent`; `done` is called once, when the stream ends (undefined)
 * or fails (a non-200 answer is an ApiError with its status code). Resolves, once the
 * request is sent, with a controller whose abort() ends the watch (done is not called then
 * unless it was already). What client-go's and @kubernetes/client-node's watches do; a
 * line that is not JSON is skipped, as theirs do.
 */
export async function watchEvents(
  kc: KubeAccess, path: string, query: Record<string, string>,
  onEvent: (type: string, object: unknown) => void, done: (err: unknown) => void,
): Promise<AbortController> {
  const { url, opts, lib } = await prepare(kc, path, { ...query, watch: 'true' });
  const controller = new AbortController();
  let finished = false;
  const finish = (err: unknown): void => {
    if (finished) return;
    finished = true;
    controller.abort();
    done(err);
  };
  const req = lib.request(url, opts, (res) => {
    const code = res.statusCode ?? 0;
    if (code !== 200) {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => void (chunks.length < 64 && chunks.push(c)));
      res.on('end', () => finish(new ApiError(code, statusMessage(Buffer.concat(chunks).toString('utf8')) ?? res.statusMessage ?? 'watch failed', path)));
      res.on('error', finish);
      return;
    }
    res.socket.setKeepAlive(true, 30_000);
    const lines = createInterface({ input: res, crlfDelay: Infinity });
    lines.on('line', (line) => {
      if (finished || line === '') return;
      let event: { type?: unknown; object?: unknown };
      try {
        event = JSON.parse(line) as { type?: unknown; object?: unknown };
      } catch {
        return;
      }
      onEvent(typeof event.type === 'string' ? event.type : '', event.object);
    });
    // readline re-emits its input's errors (a connection cut mid-stream: "aborted").
    lines.on('error', finish);
    res.on('error', finish);
    lines.on('close', () => finish(undefined));
  });
  req.on('error', (err) => finish(controller.signal.aborted ? undefined : err));
  // Ended by abort(): the connection is closed, and nothing more is reported.
  controller.signal.addEventListener('abort', () => {
    finished = true;
    req.destroy();
  }, { once: true });
  req.end();
  return controller;
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
 * `selectors` (fieldSelector, labelSelector) narrow the list on the server.
 */
export async function listAll(kc: KubeAccess, path: string, limit = 500, selectors: Readonly<Record<string, string>> = {}): Promise<RawList> {
  const items: unknown[] = [];
  let resourceVersion = '';
  let cont = '';
  for (let page = 0; ; page++) {
    const query: Record<string, string> = { ...selectors, limit: String(limit) };
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
