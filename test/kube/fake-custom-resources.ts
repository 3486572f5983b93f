// Custom resources on the fake API server, as the real one serves them to a client that
// writes with server-side apply: group discovery (GET /apis/<group>/<version>, which
// KubernetesObjectApi asks to find a kind's resource name), PATCH with
// `application/apply-patch+yaml` and a fieldManager (create or replace: one manager owns
// every field here), DELETE, and GET of objects and lists. Every write is recorded.
import type * as http from 'node:http';
import type { ExtraHandler, Obj } from './fake-apiserver.js';

export interface CustomKind {
  readonly group: string;
  readonly version: string;
  readonly kind: string;
  readonly plural: string;
  readonly namespaced: boolean;
}

export interface WriteRecord {
  readonly method: 'PATCH' | 'DELETE';
  readonly path: string;
  readonly contentType: string;
  readonly fieldManager: string;
  readonly force: boolean;
  readonly status: number;
}

export class FakeCustomResources {
  readonly writes: WriteRecord[] = [];
  /** Objects by path `/apis/<g>/<v>[/namespaces/<ns>]/<plural>/<name>`. */
  readonly objects = new Map<string, Obj>();

  constructor(private readonly kinds: readonly CustomKind[]) {}

  /** The objects of one kind, by name (namespaced: `ns/name`). */
  list(kind: string): Map<string, Obj> {
    const out = new Map<string, Obj>();
    for (const o of this.objects.values()) {
      if (o['kind'] !== kind) continue;
      const m = o['metadata'] as { name: string; namespace?: string };
      out.set(m.namespace ? `${m.namespace}/${m.name}` : m.name, o);
    }
    return out;
  }

  readonly handler: ExtraHandler = (req, res, url) => {
    const path = url.pathname;
    for (const k of this.kinds) {
      const base = `/apis/${k.group}/${k.version}`;
      if (path === base && req.method === 'GET') {
        send(res, 200, {
          kind: 'APIResourceList', apiVersion: 'v1', groupVersion: `${k.group}/${k.version}`,
          resources: this.kinds.filter((x) => x.group === k.group && x.version === k.version).map((x) => ({
            name: x.plural, singularName: '', namespaced: x.namespaced, kind: x.kind,
            verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
          })),
        });
        return true;
      }
      const re = k.namespaced
        ? new RegExp(`^${base}/namespaces/([^/]+)/${k.plural}(?:/([^/]+))?$`)
        : new RegExp(`^${base}/${k.plural}(?:/([^/]+))?$`);
      const m = re.exec(path);
      if (!m) continue;
      const name = k.namespaced ? m[2] : m[1];
      this.serve(req, res, url, k, name);
      return true;
    }
    return false;
  };

  private serve(req: http.IncomingMessage, res: http.ServerResponse, url: URL, k: CustomKind, name: string | undefined): void {
    const path = url.pathname;
    if (req.method === 'GET') {
      if (name === undefined) {
        const prefix = `${path}/`;
        const items = [...this.objects.entries()].filter(([p]) => p.startsWith(prefix)).map(([, o]) => o);
        send(res, 200, { kind: `${k.kind}List`, apiVersion: `${k.group}/${k.version}`, metadata: { resourceVersion: '1' }, items });
      } else {
        const o = this.objects.get(path);
        if (o) send(res, 200, o);
        else send(res, 404, notFound(k, name));
      }
      return;
    }
    if (req.method === 'DELETE' && name !== undefined) {
      const existed = this.objects.delete(path);
      const status = existed ? 200 : 404;
      this.writes.push({ method: 'DELETE', path, contentType: '', fieldManager: '', force: false, status });
      send(res, status, existed ? { kind: 'Status', apiVersion: 'v1', status: 'Success', code: 200 } : notFound(k, name));
      return;
    }
    if (req.method === 'PATCH' && name !== undefined) {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const contentType = String(req.headers['content-type'] ?? '');
        const fieldManager = url.searchParams.get('fieldManager') ?? '';
        const force = url.searchParams.get('force') === 'true';
        const record = (status: number): void => {
          this.writes.push({ method: 'PATCH', path, contentType, fieldManager, force, status });
        };
        if (contentType !== 'application/apply-patch+yaml') {
          record(415);
          send(res, 415, failure(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/apply-patch+yaml (got ${contentType})`));
          return;
        }
        if (!fieldManager) {
          record(422);
          send(res, 422, failure(422, 'Invalid', 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch'));
          return;
        }
        let body: Obj;
        try {
          // JSON is YAML: the client sends the apply configuration as JSON text.
          body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Obj;
        } catch (err) {
          record(400);
          send(res, 400, failure(400, 'BadRequest', `error decoding apply patch: ${(err as Error).message}`));
          return;
        }
        const meta = (body['metadata'] ?? {}) as Obj;
        if (body['kind'] !== k.kind || body['apiVersion'] !== `${k.group}/${k.version}` || meta['name'] !== name) {
          record(400);
          send(res, 400, failure(400, 'BadRequest', `the apply configuration does not match ${k.kind} ${name}`));
          return;
        }
        const existed = this.objects.has(path);
        this.objects.set(path, body);
        record(existed ? 200 : 201);
        send(res, existed ? 200 : 201, body);
      });
      return;
    }
    send(res, 405, failure(405, 'MethodNotAllowed', `${req.method} is not supported here`));
  }
}

function send(res: http.ServerResponse, status: number, body: Obj): void {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}

function failure(code: number, reason: string, message: string): Obj {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

function notFound(k: CustomKind, name: string): Obj {
  return failure(404, 'NotFound', `${k.plural}.${k.group} "${name}" not found`);
}
