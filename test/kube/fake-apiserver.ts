// A small, real HTTP(S) server on 127.0.0.1 that answers list and watch requests the way
// kube-apiserver does, for the paths a reflector uses; the client talking to it is the real
// @kubernetes/client-node. Tests run against the real kube-apiserver (test/lab/control-plane.ts);
// this one stays only where the real server cannot do what a test needs, each use saying why:
// an HTTP 410 answer to a watch, malformed objects and junk lines in a stream, injected 5xx
// answers (kube-watcher), a Service ClusterIP of 127.0.0.1 (probe-collector's loopback
// peering), and 10,000 Services written in moments (agent-watch's scale test).
//
// - GET <collection>                     → a `<Kind>List` with metadata.resourceVersion,
//                                          paged by `limit` / `continue` like the real server
// - GET <collection>?watch=true&resourceVersion=N
//                                        → newline-delimited {"type","object"} events after
//                                          N (ADDED/MODIFIED/DELETED, BOOKMARK on request),
//                                          then live ones; N older than the compaction point
//                                          gets an ERROR event carrying a 410 Status (what
//                                          the real server does inside a watch) or, with
//                                          `expiredAs: 'http'`, an HTTP 410 answer
// - `resourceVersion` empty or "0"       → synthetic ADDED events for the current state
// - fieldSelector `a.b=v[,c.d=w]` (equality on dotted paths, e.g. spec.nodeName=node-a)
//   narrows lists and watches, as the real server does for the fields it indexes;
//   labelSelector `k=v[,k2=v2]` (equality on metadata.labels) too
// - timeoutSeconds closes the stream; the Bearer token (when set) is required.
// - GET <collection>/<name>              → one object (404 Status when absent)
// - POST …/tokenreviews                  → a TokenReview answered from the table of tokens the
//                                          test gave (addToken), audiences checked
// - POST …/subjectaccessreviews          → allowed when a grant (grant) matches the user or
//                                          one of its groups and the attributes
// Tests mutate objects, drop or expire watches, compact history and inject failures.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

interface KindInfo {
  readonly kind: string;
  readonly apiVersion: string;
  readonly resource: string;
  readonly namespaced: boolean;
}

/** The built-in kinds this server knows, as the real API server serves them. */
const KINDS: readonly KindInfo[] = [
  { kind: 'Node', apiVersion: 'v1', resource: 'nodes', namespaced: false },
  { kind: 'Namespace', apiVersion: 'v1', resource: 'namespaces', namespaced: false },
  { kind: 'Service', apiVersion: 'v1', resource: 'services', namespaced: true },
  { kind: 'Pod', apiVersion: 'v1', resource: 'pods', namespaced: true },
  { kind: 'ReplicationController', apiVersion: 'v1', resource: 'replicationcontrollers', namespaced: true },
  { kind: 'EndpointSlice', apiVersion: 'discovery.k8s.io/v1', resource: 'endpointslices', namespaced: true },
  { kind: 'ServiceCIDR', apiVersion: 'networking.k8s.io/v1', resource: 'servicecidrs', namespaced: false },
  { kind: 'NetworkPolicy', apiVersion: 'networking.k8s.io/v1', resource: 'networkpolicies', namespaced: true },
  { kind: 'Deployment', apiVersion: 'apps/v1', resource: 'deployments', namespaced: true },
  { kind: 'ReplicaSet', apiVersion: 'apps/v1', resource: 'replicasets', namespaced: true },
  { kind: 'StatefulSet', apiVersion: 'apps/v1', resource: 'statefulsets', namespaced: true },
  { kind: 'DaemonSet', apiVersion: 'apps/v1', resource: 'daemonsets', namespaced: true },
  { kind: 'Job', apiVersion: 'batch/v1', resource: 'jobs', namespaced: true },
  { kind: 'CronJob', apiVersion: 'batch/v1', resource: 'cronjobs', namespaced: true },
];

const collectionOf = (k: KindInfo): string => `${k.apiVersion.includes('/') ? '/apis' : '/api'}/${k.apiVersion}/${k.resource}`;

interface Event {
  readonly rv: number;
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly object: Obj;
}

interface OpenWatch {
  readonly res: http.ServerResponse;
  readonly namespace: string;
  readonly bookmarks: boolean;
  readonly selected: (o: Obj) => boolean;
}

interface Resource {
  readonly info: KindInfo;
  served: boolean;
  readonly objects: Map<string, Obj>;
  readonly events: Event[];
  readonly watches: Set<OpenWatch>;
}

export interface RequestRecord {
  readonly path: string;
  readonly watch: boolean;
  readonly resourceVersion: string;
  readonly status: number;
  /** The request's fieldSelector, when it had one. */
  readonly fieldSelector?: string;
}

/** Answers a request it recognises (and returns true), or leaves it to the list/watch server. */
export type ExtraHandler = (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => boolean;

export interface FakeApiServerOptions {
  /** Serve HTTPS with a fresh self-signed certificate (needs the openssl command). */
  readonly tls?: boolean;
  /** Bearer token the server requires (default: a fixed test token). */
  readonly token?: string;
  /** How a watch from a compacted resourceVersion is refused (default 'event'). */
  readonly expiredAs?: 'event' | 'http';
  /** Kinds served in addition to the always-served ones (ServiceCIDR is off by default). */
  readonly serveOptional?: boolean;
}

/** Who a token is, as a TokenReview answers it. */
export interface FakeTokenUser {
  readonly username: string;
  readonly uid?: string;
  readonly groups?: readonly string[];
  readonly extra?: Readonly<Record<string, readonly string[]>>;
  /** Audiences the token is valid for (default: the API server's own, "https://kubernetes.default.svc"). */
  readonly audiences?: readonly string[];
}

/** An RBAC-like grant: a user (or group) may `verb` a resource of a group, or a non-resource path. */
export interface FakeGrant {
  readonly subject: string;
  readonly verb: string;
  readonly group?: string;
  readonly resource?: string;
  readonly path?: string;
}

export const FAKE_API_AUDIENCE = 'https://kubernetes.default.svc';

export class FakeApiServer {
  /** Every request answered, in order. */
  readonly requests: RequestRecord[] = [];
  private readonly tokens = new Map<string, FakeTokenUser>();
  private readonly grants: FakeGrant[] = [];
  /** TokenReview and SubjectAccessReview bodies received, in order. */
  readonly reviews: Obj[] = [];
  private rv = 100;
  private compactedBelow = 0;
  private readonly resources = new Map<string, Resource>();
  private readonly failures = new Map<string, { status: number; count: number }>();
  private readonly sockets = new Set<import('node:net').Socket>();
  private expiredAs: 'event' | 'http';
  private certDir: string | undefined;
  private readonly extraHandlers: ExtraHandler[] = [];

  private constructor(
    private readonly server: http.Server,
    readonly url: string,
    readonly token: string,
    readonly caPem: string | undefined,
    opts: FakeApiServerOptions,
    certDir: string | undefined,
  ) {
    this.expiredAs = opts.expiredAs ?? 'event';
    this.certDir = certDir;
    for (const info of KINDS) {
      this.resources.set(collectionOf(info), {
        info, served: info.kind !== 'ServiceCIDR' || opts.serveOptional === true, objects: new Map(), events: [], watches: new Set(),
      });
    }
  }

  static async start(opts: FakeApiServerOptions = {}): Promise<FakeApiServer> {
    const token = opts.token ?? 'netconform-test-token';
    let server: http.Server;
    let caPem: string | undefined;
    let certDir: string | undefined;
    if (opts.tls) {
      certDir = mkdtempSync(join(tmpdir(), 'fake-apiserver-'));
      const key = join(certDir, 'key.pem');
      const cert = join(certDir, 'cert.pem');
      execFileSync('openssl', [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
        '-keyout', key, '-out', cert, '-subj', '/CN=fake-apiserver', '-addext', 'subjectAltName=IP:127.0.0.1',
      ], { stdio: 'ignore' });
      caPem = readFileSync(cert, 'utf8');
      server = https.createServer({ key: readFileSync(key), cert: readFileSync(cert) });
    } else {
      server = http.createServer();
    }
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const fake = new FakeApiServer(server, `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`, token, caPem, opts, certDir);
    server.on('request', (req, res) => fake.handle(req, res));
    server.on('connection', (s) => {
      fake.sockets.add(s);
      s.on('close', () => fake.sockets.delete(s));
    });
    return fake;
  }

  async close(): Promise<void> {
    for (const r of this.resources.values()) for (const w of r.watches) w.res.destroy();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    if (this.certDir) rmSync(this.certDir, { recursive: true, force: true });
  }

  /** A token the TokenReview endpoint will recognise. */
  addToken(token: string, user: FakeTokenUser): void {
    this.tokens.set(token, user);
  }

  grant(g: FakeGrant): void {
    this.grants.push(g);
  }

  /** The current (latest) resourceVersion. */
  get resourceVersion(): string {
    return String(this.rv);
  }

  /** Creates or replaces an object (its kind must be a served built-in kind). */
  upsert(obj: Obj): Obj {
    const r = this.resourceOfKind(String(obj['kind']));
    const meta = isObj(obj['metadata']) ? obj['metadata'] : {};
    const name = String(meta['name']);
    const namespace = r.info.namespaced ? String(meta['namespace'] ?? 'default') : undefined;
    const key = `${namespace ?? ''}/${name}`;
    const old = r.objects.get(key);
    this.rv++;
    const oldMeta = old && isObj(old['metadata']) ? old['metadata'] : {};
    const stored: Obj = {
      ...obj,
      apiVersion: r.info.apiVersion,
      kind: r.info.kind,
      metadata: {
        ...meta,
        ...(namespace !== undefined ? { namespace } : {}),
        uid: oldMeta['uid'] ?? `uid-${r.info.resource}-${name}-${this.rv}`,
        resourceVersion: String(this.rv),
        creationTimestamp: oldMeta['creationTimestamp'] ?? '2025-01-01T00:00:00Z',
      },
    };
    r.objects.set(key, stored);
    this.record(r, { rv: this.rv, type: old ? 'MODIFIED' : 'ADDED', object: stored });
    return stored;
  }

  /** Deletes an object; the DELETED event carries its last state at a new resourceVersion. */
  remove(kind: string, namespace: string | undefined, name: string): void {
    const r = this.resourceOfKind(kind);
    const key = `${r.info.namespaced ? namespace ?? 'default' : ''}/${name}`;
    const old = r.objects.get(key);
    if (!old) throw new Error(`fake apiserver: no ${kind} ${key}`);
    r.objects.delete(key);
    this.rv++;
    const meta = isObj(old['metadata']) ? old['metadata'] : {};
    this.record(r, { rv: this.rv, type: 'DELETED', object: { ...old, metadata: { ...meta, resourceVersion: String(this.rv) } } });
  }

  /**
   * Stores an object exactly as given under `key` (no defaults, no resourceVersion stamped
   * unless `metadata` exists) and announces it: how tests feed malformed objects.
   */
  putRaw(kind: string, key: string, object: Obj): void {
    const r = this.resourceOfKind(kind);
    this.rv++;
    const stored: Obj = isObj(object['metadata']) ? { ...object, metadata: { ...object['metadata'], resourceVersion: String(this.rv) } } : object;
    r.objects.set(`raw:${key}`, stored);
    this.record(r, { rv: this.rv, type: 'ADDED', object: stored });
  }

  /** Writes a raw line (valid JSON or not) to every open watch of a kind. */
  sendRawLine(kind: string, line: string): void {
    for (const w of this.resourceOfKind(kind).watches) w.res.write(line + '\n');
  }

  /** Sends a BOOKMARK at the current resourceVersion to watches that asked for bookmarks. */
  bookmark(kind: string): void {
    const r = this.resourceOfKind(kind);
    for (const w of r.watches) {
      if (!w.bookmarks) continue;
      w.res.write(JSON.stringify({ type: 'BOOKMARK', object: { kind: r.info.kind, apiVersion: r.info.apiVersion, metadata: { resourceVersion: String(this.rv) } } }) + '\n');
    }
  }

  /** Forgets history: every resourceVersion before now is expired (410 Gone). */
  compact(): void {
    this.compactedBelow = this.rv;
    for (const r of this.resources.values()) r.events.length = 0;
  }

  /** Compacts, then tells every open watch its version expired (ERROR 410) and ends it. */
  expireWatches(): void {
    this.compact();
    for (const r of this.resources.values()) {
      for (const w of r.watches) {
        w.res.end(JSON.stringify({ type: 'ERROR', object: goneStatus() }) + '\n');
      }
      r.watches.clear();
    }
  }

  /** Cuts every open watch connection mid-stream (no clean end), like a network failure. */
  dropWatches(kind?: string): number {
    let n = 0;
    for (const r of this.resources.values()) {
      if (kind && r.info.kind !== kind) continue;
      for (const w of r.watches) {
        w.res.socket?.destroy();
        n++;
      }
      r.watches.clear();
    }
    return n;
  }

  /** Makes the next `count` requests (list or watch) on a kind's collection fail with `status`. */
  failNext(kind: string, status: number, count = 1): void {
    this.failures.set(collectionOf(this.resourceOfKind(kind).info), { status, count });
  }

  /** Open watch streams, of one kind or all. */
  openWatches(kind?: string): number {
    let n = 0;
    for (const r of this.resources.values()) if (!kind || r.info.kind === kind) n += r.watches.size;
    return n;
  }

  /** Resolves when at least `count` watches are open on every given kind (or all kinds). */
  async waitForWatches(kinds: readonly string[] | undefined, count = 1, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const want = kinds ?? [...this.resources.values()].filter((r) => r.served).map((r) => r.info.kind);
    while (!want.every((k) => this.openWatches(k) >= count)) {
      if (Date.now() > deadline) throw new Error(`fake apiserver: watches not open on ${want.filter((k) => this.openWatches(k) < count).join(', ')}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Writes a kubeconfig for this server (token auth; the CA when TLS is on). */
  writeKubeconfig(file: string): string {
    const cluster = this.caPem
      ? `    certificate-authority-data: ${Buffer.from(this.caPem).toString('base64')}\n`
      : '    insecure-skip-tls-verify: true\n';
    writeFileSync(file, `apiVersion: v1
kind: Config
clusters:
- name: fake
  cluster:
    server: ${this.url}
${cluster}users:
- name: tester
  user:
    token: ${this.token}
contexts:
- name: fake
  context:
    cluster: fake
    user: tester
current-context: fake
`);
    return file;
  }

  /** Serves more of the API (custom resources, reviews): a handler that returns true answered the request. */
  addHandler(handler: ExtraHandler): void {
    this.extraHandlers.push(handler);
  }

  private resourceOfKind(kind: string): Resource {
    for (const r of this.resources.values()) if (r.info.kind === kind) return r;
    throw new Error(`fake apiserver: unknown kind ${kind}`);
  }

  private record(r: Resource, ev: Event): void {
    r.events.push(ev);
    for (const w of r.watches) {
      if (w.namespace && namespaceOf(ev.object) !== w.namespace) continue;
      if (!w.selected(ev.object)) continue;
      w.res.write(JSON.stringify({ type: ev.type, object: ev.object }) + '\n');
    }
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const watch = url.searchParams.get('watch') === 'true' || url.searchParams.get('watch') === '1';
    const rvParam = url.searchParams.get('resourceVersion') ?? '';
    const fieldSelector = url.searchParams.get('fieldSelector') ?? '';
    const record = (status: number): void => {
      this.requests.push({ path: url.pathname, watch, resourceVersion: rvParam, status, ...(fieldSelector ? { fieldSelector } : {}) });
    };
    const answer = (status: number, body: Obj): void => {
      record(status);
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.headers.authorization !== `Bearer ${this.token}`) return answer(401, status(401, 'Unauthorized', 'Unauthorized'));
    for (const h of this.extraHandlers) if (h(req, res, url)) return;
    if (req.method === 'POST' && /^\/apis\/(authentication|authorization)\.k8s\.io\/v1\/(tokenreviews|subjectaccessreviews)$/.test(url.pathname)) {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        let body: Obj;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Obj;
        } catch {
          return answer(400, status(400, 'BadRequest', 'invalid JSON'));
        }
        this.reviews.push(body);
        answer(201, url.pathname.endsWith('tokenreviews') ? this.tokenReview(body) : this.accessReview(body));
      });
      return;
    }
    if (req.method !== 'GET') return answer(405, status(405, 'MethodNotAllowed', `${req.method} is not supported here`));

    // /api/v1/namespaces/<ns>/<resource>/<name> gets one object.
    const one = /^(\/api\/v1|\/apis\/[^/]+\/[^/]+)\/namespaces\/([^/]+)\/([^/]+)\/([^/]+)$/.exec(url.pathname);
    if (one && !watch) {
      const r = this.resources.get(`${one[1]}/${one[3]}`);
      const o = r?.served ? r.objects.get(`${one[2]}/${one[4]}`) : undefined;
      return o ? answer(200, o) : answer(404, status(404, 'NotFound', `${one[3]} "${one[4]}" not found`));
    }

    // /api/v1/namespaces/<ns>/<resource> lists one namespace's objects.
    let path = url.pathname;
    let namespace = '';
    const nsMatch = /^(\/api\/v1|\/apis\/[^/]+\/[^/]+)\/namespaces\/([^/]+)\/([^/]+)$/.exec(path);
    if (nsMatch) {
      path = `${nsMatch[1]}/${nsMatch[3]}`;
      namespace = nsMatch[2]!;
    }
    const r = this.resources.get(path);
    if (!r || !r.served) return answer(404, status(404, 'NotFound', 'the server could not find the requested resource'));
    const failure = this.failures.get(path);
    if (failure && failure.count > 0) {
      failure.count--;
      return answer(failure.status, status(failure.status, 'InternalError', 'injected failure'));
    }
    if (!watch) return this.list(r, namespace, url.searchParams, answer);

    const from = rvParam === '' || rvParam === '0' ? undefined : Number(rvParam);
    if (from !== undefined && (!Number.isFinite(from) || from < this.compactedBelow)) {
      if (this.expiredAs === 'http' || !Number.isFinite(from)) return answer(410, goneStatus());
      record(200);
      res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
      res.end(JSON.stringify({ type: 'ERROR', object: goneStatus() }) + '\n');
      return;
    }
    record(200);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    const selected = selection(url.searchParams);
    const inNs = (o: Obj): boolean => (!namespace || namespaceOf(o) === namespace) && selected(o);
    if (from === undefined) {
      for (const o of r.objects.values()) if (inNs(o)) res.write(JSON.stringify({ type: 'ADDED', object: o }) + '\n');
    } else {
      for (const ev of r.events) if (ev.rv > from && inNs(ev.object)) res.write(JSON.stringify({ type: ev.type, object: ev.object }) + '\n');
    }
    const w: OpenWatch = { res, namespace, bookmarks: url.searchParams.get('allowWatchBookmarks') === 'true', selected };
    r.watches.add(w);
    const timeout = Number(url.searchParams.get('timeoutSeconds') ?? '0');
    const timer = timeout > 0 ? setTimeout(() => { r.watches.delete(w); res.end(); }, timeout * 1000) : undefined;
    res.on('close', () => {
      if (timer) clearTimeout(timer);
      r.watches.delete(w);
    });
  }

  private tokenReview(body: Obj): Obj {
    const spec = isObj(body['spec']) ? body['spec'] : {};
    const user = this.tokens.get(String(spec['token'] ?? ''));
    const wanted = Array.isArray(spec['audiences']) && spec['audiences'].length ? spec['audiences'].map(String) : [FAKE_API_AUDIENCE];
    const has = user?.audiences ?? [FAKE_API_AUDIENCE];
    const audiences = wanted.filter((a) => has.includes(a));
    const result: Obj = !user
      ? { authenticated: false, error: 'invalid bearer token' }
      : audiences.length === 0
        ? { authenticated: false, error: 'token audiences is invalid for the target audiences' }
        : { authenticated: true, audiences, user: { username: user.username, uid: user.uid ?? `uid-${user.username}`, groups: [...(user.groups ?? [])], extra: user.extra ?? {} } };
    return { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', metadata: { creationTimestamp: null }, spec, status: result };
  }

  private accessReview(body: Obj): Obj {
    const spec = isObj(body['spec']) ? body['spec'] : {};
    const subjects = [String(spec['user'] ?? ''), ...(Array.isArray(spec['groups']) ? spec['groups'].map(String) : [])];
    const ra = isObj(spec['resourceAttributes']) ? spec['resourceAttributes'] : undefined;
    const na = isObj(spec['nonResourceAttributes']) ? spec['nonResourceAttributes'] : undefined;
    const allowed = this.grants.some((g) => subjects.includes(g.subject) && (
      ra ? g.resource !== undefined && g.verb === ra['verb'] && (g.group ?? '') === (ra['group'] ?? '') && g.resource === ra['resource']
        : na ? g.path !== undefined && g.verb === na['verb'] && g.path === na['path'] : false));
    return { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', metadata: { creationTimestamp: null }, spec, status: { allowed, ...(allowed ? { reason: 'granted by the test' } : {}) } };
  }

  private list(r: Resource, namespace: string, q: URLSearchParams, answer: (status: number, body: Obj) => void): void {
    const selected = selection(q);
    const all = [...r.objects.entries()]
      .filter(([, o]) => (!namespace || namespaceOf(o) === namespace) && selected(o))
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([, o]) => o);
    let offset = 0;
    let listRv = this.rv;
    const cont = q.get('continue');
    if (cont) {
      const token = JSON.parse(Buffer.from(cont, 'base64').toString('utf8')) as { rv: number; offset: number };
      if (token.rv < this.compactedBelow) return answer(410, goneStatus('The provided continue parameter is too old'));
      offset = token.offset;
      listRv = token.rv;
    }
    const limit = Number(q.get('limit') ?? '0');
    const end = limit > 0 ? Math.min(all.length, offset + limit) : all.length;
    const metadata: Obj = { resourceVersion: String(listRv) };
    if (end < all.length) metadata['continue'] = Buffer.from(JSON.stringify({ rv: listRv, offset: end })).toString('base64');
    // Like the real server, list items carry no kind/apiVersion of their own.
    const items = all.slice(offset, end).map((o) => {
      const { kind: _k, apiVersion: _a, ...rest } = o;
      return rest;
    });
    answer(200, { kind: `${r.info.kind}List`, apiVersion: r.info.apiVersion, metadata, items });
  }
}

/** The request's field and label selectors together. */
function selection(q: URLSearchParams): (o: Obj) => boolean {
  const fields = fieldSelection(q.get('fieldSelector'));
  const labels = labelSelection(q.get('labelSelector'));
  return (o) => fields(o) && labels(o);
}

/** A label selector of equality terms (`k=v[,k2=v2]`), as the probe uses; other forms are refused loudly. */
function labelSelection(selector: string | null): (o: Obj) => boolean {
  if (!selector) return () => true;
  const terms = selector.split(',').map((t) => {
    const m = /^([^=!]+)==?(.*)$/.exec(t.trim());
    if (!m) throw new Error(`fake apiserver: unsupported labelSelector term "${t}"`);
    return { key: m[1]!, value: m[2]! };
  });
  return (o) => {
    const meta = isObj(o['metadata']) ? o['metadata'] : {};
    const labels = isObj(meta['labels']) ? meta['labels'] : {};
    return terms.every(({ key, value }) => labels[key] === value);
  };
}

/** A field selector's test: every `path=value` term holds (`==` too); none given selects all. */
function fieldSelection(selector: string | null): (o: Obj) => boolean {
  if (!selector) return () => true;
  const terms = selector.split(',').map((t) => {
    const m = /^([^=!]+)==?(.*)$/.exec(t.trim());
    if (!m) throw new Error(`fake apiserver: unsupported fieldSelector term "${t}"`);
    return { path: m[1]!.split('.'), value: m[2]! };
  });
  return (o) => terms.every(({ path, value }) => {
    let cur: unknown = o;
    for (const p of path) cur = isObj(cur) ? cur[p] : undefined;
    return String(cur ?? '') === value;
  });
}

function namespaceOf(o: Obj): string {
  return isObj(o['metadata']) && typeof o['metadata']['namespace'] === 'string' ? o['metadata']['namespace'] : '';
}

function status(code: number, reason: string, message: string): Obj {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

function goneStatus(message = 'too old resource version'): Obj {
  return status(410, 'Expired', message);
}
