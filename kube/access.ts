// The agent's way to the API server, without @kubernetes/client-node (which costs ~65 MB of
// RSS to import: docs/memory.md). In a Pod: the ServiceAccount's token (re-read for every
// request, so the kubelet's rotation is followed), ca.crt, and the API server's address from
// KUBERNETES_SERVICE_HOST/PORT — what the client's loadFromCluster reads. From a kubeconfig
// file: its current context's server, CA, client certificate or token (inline or in files,
// relative paths from the kubeconfig's directory). A kubeconfig whose user authenticates
// any other way (an exec plugin, an auth provider, basic auth) is handed to the client's own
// loader, loaded only then.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import type * as https from 'node:https';
import { createRequire } from 'node:module';
import { UsageError } from '../common/errors.js';
import type { KubeAccess } from './rest.js';

const SERVICEACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * True inside a Pod that has an API server address and a mounted ServiceAccount token.
 * `root` prefixes the token path (tests build a Pod's filesystem under a temporary dir).
 */
export function inClusterAvailable(root = ''): boolean {
  return Boolean(process.env['KUBERNETES_SERVICE_HOST']) && existsSync(`${root}${SERVICEACCOUNT_DIR}/token`);
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const text = (o: Obj, k: string): string | undefined => (typeof o[k] === 'string' && o[k] !== '' ? (o[k] as string) : undefined);

/** User fields this loader serves itself; any other way of authenticating goes to the client's loader. */
const LIGHT_USER_FIELDS = new Set(['token', 'tokenFile', 'client-certificate', 'client-certificate-data', 'client-key', 'client-key-data']);

interface Access {
  readonly server: string;
  /** Each read at every request (files may be rotated). */
  readonly ca?: () => Buffer;
  readonly cert?: () => Buffer;
  readonly key?: () => Buffer;
  readonly token?: () => string;
  readonly insecure: boolean;
  readonly serverName?: string;
}

function accessOf(a: Access): KubeAccess {
  return {
    getCurrentCluster: () => ({ server: a.server }),
    applyToHTTPSOptions(opts: https.RequestOptions): Promise<void> {
      if (a.ca) opts.ca = a.ca();
      if (a.cert) opts.cert = a.cert();
      if (a.key) opts.key = a.key();
      if (a.insecure) opts.rejectUnauthorized = false;
      if (a.serverName) opts.servername = a.serverName;
      if (a.token) opts.headers = { ...(opts.headers as Record<string, string> | undefined), Authorization: `Bearer ${a.token()}` };
      return Promise.resolve();
    },
  };
}

/**
 * Loads a kubeconfig file, or the in-cluster configuration when `path` is undefined (the
 * same choice and the same errors, naming the flag, as kube/config.ts loadKubeConfig).
 */
export async function loadKubeAccess(path: string | undefined, flag = '--kubeconfig', root = ''): Promise<KubeAccess> {
  if (path === undefined) {
    if (!inClusterAvailable(root)) {
      throw new UsageError('not running in a cluster (no KUBERNETES_SERVICE_HOST or ServiceAccount token): pass a kubeconfig file', flag);
    }
    const host = process.env['KUBERNETES_SERVICE_HOST']!;
    const port = process.env['KUBERNETES_SERVICE_PORT'] ?? '443';
    const dir = `${root}${SERVICEACCOUNT_DIR}`;
    return accessOf({
      server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
      ...(existsSync(`${dir}/ca.crt`) ? { ca: () => readFileSync(`${dir}/ca.crt`) } : {}),
      token: () => readFileSync(`${dir}/token`, 'utf8').trim(),
      insecure: false,
    });
  }
  let doc: unknown;
  try {
    doc = parseKubeconfigText(readFileSync(path, 'utf8'));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new UsageError(`cannot load ${path}: ${e.code ?? e.message}`, flag);
  }
  const light = lightAccess(doc, dirname(path));
  if (light) return light;
  // Exec plugins, auth providers and whatever else: the client's own loader does them.
  const { loadKubeConfig } = await import('./config.js');
  return loadKubeConfig(path, flag);
}

/**
 * A kubeconfig as JSON (YAML's subset) without the YAML parser, which is required only for
 * YAML text: in a cluster the agent reads no kubeconfig, and a process that parsed one keeps
 * the parser's code and heap (~4 MB) for good.
 */
function parseKubeconfigText(text: string): unknown {
  if (/^\s*\{/.test(text)) {
    try {
      return JSON.parse(text);
    } catch {
      // JSON-looking YAML (flow style with comments, …): the YAML parser decides.
    }
  }
  const { parse } = createRequire(import.meta.url)('yaml') as typeof import('yaml');
  return parse(text);
}

/** The current context's access when its user is a token or a client certificate; undefined otherwise. */
function lightAccess(doc: unknown, base: string): KubeAccess | undefined {
  if (!isObj(doc)) return undefined;
  const named = (list: unknown, name: string | undefined, field: string): Obj | undefined => {
    if (!Array.isArray(list) || name === undefined) return undefined;
    const entry = list.find((e): e is Obj => isObj(e) && e['name'] === name);
    return entry && isObj(entry[field]) ? entry[field] : undefined;
  };
  const context = named(doc['contexts'], text(doc, 'current-context'), 'context');
  if (!context) return undefined;
  const cluster = named(doc['clusters'], text(context, 'cluster'), 'cluster');
  const user = named(doc['users'], text(context, 'user'), 'user') ?? {};
  const server = cluster && text(cluster, 'server');
  if (!cluster || !server) return undefined;
  if (Object.keys(user).some((k) => !LIGHT_USER_FIELDS.has(k))) return undefined;
  if (Object.keys(cluster).some((k) => !['server', 'certificate-authority', 'certificate-authority-data', 'insecure-skip-tls-verify', 'tls-server-name'].includes(k))) return undefined;
  const file = (p: string): string => (isAbsolute(p) ? p : join(base, p));
  const source = (o: Obj, dataKey: string, fileKey: string): (() => Buffer) | undefined => {
    const data = text(o, dataKey);
    if (data !== undefined) {
      const bytes = Buffer.from(data, 'base64');
      return () => bytes;
    }
    const f = text(o, fileKey);
    return f !== undefined ? () => readFileSync(file(f)) : undefined;
  };
  const ca = source(cluster, 'certificate-authority-data', 'certificate-authority');
  const cert = source(user, 'client-certificate-data', 'client-certificate');
  const key = source(user, 'client-key-data', 'client-key');
  const tokenText = text(user, 'token');
  const tokenFile = text(user, 'tokenFile');
  const serverName = text(cluster, 'tls-server-name');
  return accessOf({
    server,
    ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}),
    ...(tokenText !== undefined ? { token: () => tokenText } : tokenFile !== undefined ? { token: () => readFileSync(file(tokenFile), 'utf8').trim() } : {}),
    insecure: cluster['insecure-skip-tls-verify'] === true,
    ...(serverName ? { serverName } : {}),
  });
}
