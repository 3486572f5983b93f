// A real Kubernetes control plane for tests, in envtest's shape: the real etcd and
// kube-apiserver (scripts/k8s-bins.sh), free loopback ports, a private directory with its own
// CA, serving and client certificates and service-account keys, flags as data, a wait on
// /readyz, and everything stopped and removed by stop() — also when the test process exits
// without calling it. The API server runs as clusters do: real TLS, Node,RBAC authorization,
// the PodSecurity admission plugin with an AdmissionConfiguration, an audit policy and,
// when asked, the audit webhook backend pointed at a collector under test.
//
// What has no kubelet here is made by the tests: Nodes, Pods (spec.nodeName), ServiceAccounts
// (no token controller runs: createNamespace makes the `default` one) and EndpointSlices.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { freePort } from '../support/net.js';
import { k8sBin } from './k8s-bins.js';

export type KubeObject = Record<string, unknown>;

export interface AuditWebhookTarget {
  /** e.g. https://127.0.0.1:PORT/audit */
  readonly url: string;
  /** The CA that signed the receiver's serving certificate (https URLs). */
  readonly caFile?: string;
  /** batch as clusters run it; blocking where a test needs each request's events delivered before it returns. */
  readonly mode: 'batch' | 'blocking';
  /** --audit-webhook-batch-max-wait (batch mode), default 1s so tests do not wait 30 s. */
  readonly batchMaxWait?: string;
  /** Retry backoff of the webhook, --audit-webhook-initial-backoff (default 1s here). */
  readonly initialBackoff?: string;
}

export interface ControlPlaneOptions {
  /** Audit events go to this webhook (with a client certificate the control plane issues). */
  readonly auditWebhook?: AuditWebhookTarget;
  /** The audit policy; default: Pods, Deployments and friends at Request level, the rest None. */
  readonly auditPolicy?: KubeObject;
  /** PodSecurity defaults for unlabelled namespaces; default privileged everywhere (as the API server). */
  readonly podSecurityDefaults?: Readonly<Record<string, string>>;
  /** PodSecurity exemptions (usernames, runtimeClasses, namespaces); default none. */
  readonly podSecurityExemptions?: { readonly usernames?: readonly string[]; readonly runtimeClasses?: readonly string[]; readonly namespaces?: readonly string[] };
  /**
   * Also write audit events (as the audit policy selects them) to `auditLogPath`, one JSON
   * event a line, written before each request returns (--audit-log-mode=blocking).
   */
  readonly auditLog?: boolean;
  /** More kube-apiserver flags ("--name=value"), appended after the defaults. */
  readonly apiServerFlags?: readonly string[];
  /**
   * --service-cluster-ip-range (default 10.96.0.0/16); two CIDRs, one per family, make the
   * API server dual-stack (the first is the primary family, default/kubernetes's).
   */
  readonly serviceCIDRs?: readonly string[];
}

export interface ClientCredentials {
  readonly cert: string;
  readonly key: string;
}

export interface KubeResponse<T = KubeObject> {
  readonly status: number;
  readonly body: T;
  /** The API server's `Warning` headers' texts (e.g. Pod Security's `would violate PodSecurity …`), in order. */
  readonly warnings: readonly string[];
}

const DEFAULT_AUDIT_POLICY: KubeObject = {
  apiVersion: 'audit.k8s.io/v1',
  kind: 'Policy',
  omitStages: ['RequestReceived'],
  rules: [
    { level: 'Request', resources: [{ group: '', resources: ['pods'] }, { group: 'apps', resources: ['deployments', 'replicasets', 'statefulsets', 'daemonsets'] }, { group: 'batch', resources: ['jobs', 'cronjobs'] }], verbs: ['create', 'update', 'patch'] },
    { level: 'None' },
  ],
};

function openssl(args: readonly string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Processes of control planes not stopped yet: killed when the test process exits anyway. */
const live = new Set<ChildProcess>();
/** Their directories: removed then too (ava's timeout ends a file with process.exit, skipping stop()). */
const liveDirs = new Set<string>();
process.on('exit', () => {
  for (const p of live) { try { p.kill('SIGKILL'); } catch { /* gone */ } }
  for (const d of liveDirs) rmSync(d, { recursive: true, force: true });
});

export class ControlPlane {
  private constructor(
    readonly dir: string,
    /** https://127.0.0.1:PORT */
    readonly url: string,
    readonly port: number,
    readonly etcdUrl: string,
    /** The cluster CA: signs the serving certificate and every client certificate. */
    readonly caFile: string,
    private readonly caKey: string,
    readonly admin: ClientCredentials,
    /** A kubeconfig for system:masters (kubectl --kubeconfig). */
    readonly adminKubeconfig: string,
    /** Client certificate the API server presents to the audit webhook. */
    readonly auditClient: ClientCredentials,
    /** Seconds from spawning etcd to kube-apiserver's /readyz answering ok. */
    readonly startupSeconds: number,
    private readonly procs: ChildProcess[],
  ) {
    // Read now: a request after stop() must fail to connect, not to read a removed file.
    for (const f of [caFile, admin.cert, admin.key]) this.read(f);
  }

  /** Keep-alive connections and credentials read once: thousands of requests (the PSA differential) need no handshake each. */
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 16 });
  private readonly pem = new Map<string, Buffer>();
  private read(file: string): Buffer {
    let b = this.pem.get(file);
    if (!b) this.pem.set(file, (b = readFileSync(file)));
    return b;
  }

  /** Starts etcd and kube-apiserver in a new private directory; resolves when /readyz is ok. */
  static async start(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
    const t0 = Date.now();
    const dir = mkdtempSync(join(tmpdir(), 'netconform-cp-'));
    liveDirs.add(dir);
    const procs: ChildProcess[] = [];
    try {
      const ca = join(dir, 'ca.crt');
      const caKey = join(dir, 'ca.key');
      openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-keyout', caKey, '-out', ca, '-subj', '/CN=netconform lab cluster CA']);
      const serving = issue(dir, ca, caKey, 'apiserver', '/CN=kube-apiserver', 'serverAuth',
        'IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local');
      const admin = issue(dir, ca, caKey, 'admin', '/O=system:masters/CN=lab-admin', 'clientAuth');
      const auditClient = issue(dir, ca, caKey, 'audit-webhook-client', '/CN=kube-apiserver-audit', 'clientAuth');
      const saKey = join(dir, 'sa.key');
      const saPub = join(dir, 'sa.pub');
      openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', saKey]);
      openssl(['pkey', '-in', saKey, '-pubout', '-out', saPub]);

      const [etcdPort, peerPort, port] = [await freePort(), await freePort(), await freePort()];
      const etcdUrl = `http://127.0.0.1:${etcdPort}`;
      const peerUrl = `http://127.0.0.1:${peerPort}`;
      procs.push(launch(dir, 'etcd', k8sBin('etcd'), [
        '--name=lab', `--data-dir=${join(dir, 'etcd')}`,
        `--listen-client-urls=${etcdUrl}`, `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=${peerUrl}`, `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=lab=${peerUrl}`, '--unsafe-no-fsync', '--log-level=warn',
      ]));
      await waitFor(`etcd at ${etcdUrl}`, dir, 'etcd', 60_000, async () => (await httpGet(`${etcdUrl}/health`)).includes('"health":"true"'));

      writeFileSync(join(dir, 'admission.yaml'), stringify({
        apiVersion: 'apiserver.config.k8s.io/v1', kind: 'AdmissionConfiguration',
        plugins: [{ name: 'PodSecurity', configuration: {
          apiVersion: 'pod-security.admission.config.k8s.io/v1', kind: 'PodSecurityConfiguration',
          defaults: opts.podSecurityDefaults ?? { enforce: 'privileged', 'enforce-version': 'latest', audit: 'privileged', 'audit-version': 'latest', warn: 'privileged', 'warn-version': 'latest' },
          exemptions: { usernames: [], runtimeClasses: [], namespaces: [], ...opts.podSecurityExemptions },
        } }],
      }));
      writeFileSync(join(dir, 'audit-policy.yaml'), stringify(opts.auditPolicy ?? DEFAULT_AUDIT_POLICY));
      const flags = [
        `--etcd-servers=${etcdUrl}`, '--bind-address=127.0.0.1', `--secure-port=${port}`, '--advertise-address=127.0.0.1',
        `--tls-cert-file=${serving.cert}`, `--tls-private-key-file=${serving.key}`, `--client-ca-file=${ca}`,
        '--authorization-mode=Node,RBAC', '--enable-admission-plugins=NodeRestriction', '--allow-privileged=true',
        `--admission-control-config-file=${join(dir, 'admission.yaml')}`,
        `--service-cluster-ip-range=${(opts.serviceCIDRs ?? ['10.96.0.0/16']).join(',')}`, '--service-node-port-range=30000-32767',
        '--service-account-issuer=https://kubernetes.default.svc.cluster.local', `--service-account-key-file=${saPub}`,
        `--service-account-signing-key-file=${saKey}`, '--api-audiences=https://kubernetes.default.svc.cluster.local',
        '--endpoint-reconciler-type=none', `--cert-dir=${join(dir, 'certs')}`,
        `--audit-policy-file=${join(dir, 'audit-policy.yaml')}`,
        '--v=0',
      ];
      if (opts.auditWebhook) {
        const w = opts.auditWebhook;
        writeFileSync(join(dir, 'audit-webhook.kubeconfig'), kubeconfigYaml(w.url.startsWith('https:') ? { server: w.url, caFile: w.caFile, cert: auditClient.cert, key: auditClient.key } : { server: w.url }));
        flags.push(`--audit-webhook-config-file=${join(dir, 'audit-webhook.kubeconfig')}`, `--audit-webhook-mode=${w.mode}`,
          `--audit-webhook-initial-backoff=${w.initialBackoff ?? '1s'}`);
        if (w.mode === 'batch') flags.push(`--audit-webhook-batch-max-wait=${w.batchMaxWait ?? '1s'}`);
      }
      if (opts.auditLog) flags.push(`--audit-log-path=${join(dir, 'audit.log')}`, '--audit-log-mode=blocking', '--audit-log-format=json');
      flags.push(...(opts.apiServerFlags ?? []));
      procs.push(launch(dir, 'kube-apiserver', k8sBin('kube-apiserver'), flags));
      const url = `https://127.0.0.1:${port}`;
      await waitFor(`kube-apiserver at ${url}`, dir, 'kube-apiserver', 240_000, async () => {
        const r = await rawRequest(url, 'GET', '/readyz', admin, { ca: readFileSync(ca), cert: readFileSync(admin.cert), key: readFileSync(admin.key) });
        return r.status === 200;
      });
      const adminKubeconfig = join(dir, 'admin.kubeconfig');
      writeFileSync(adminKubeconfig, kubeconfigYaml({ server: url, caFile: ca, cert: admin.cert, key: admin.key }));
      return new ControlPlane(dir, url, port, etcdUrl, ca, caKey, admin, adminKubeconfig, auditClient, (Date.now() - t0) / 1000, procs);
    } catch (err) {
      await stopAll(procs);
      rmSync(dir, { recursive: true, force: true });
      liveDirs.delete(dir);
      throw err;
    }
  }

  /** Where audit events go with the `auditLog` option. */
  get auditLogPath(): string {
    return join(this.dir, 'audit.log');
  }

  /** Stops kube-apiserver and etcd (SIGTERM, then SIGKILL after 5 s) and removes the directory. */
  async stop(): Promise<void> {
    this.agent.destroy();
    await stopAll([...this.procs].reverse());
    rmSync(this.dir, { recursive: true, force: true });
    liveDirs.delete(this.dir);
  }

  /** A client certificate for `user` in `groups`, signed by the cluster CA (x509 authentication). */
  clientCertificate(user: string, groups: readonly string[] = []): ClientCredentials {
    const subject = [...groups.map((g) => `/O=${g}`), `/CN=${user}`].join('');
    const name = `user-${user.replace(/[^A-Za-z0-9.-]/g, '_')}-${Math.random().toString(36).slice(2, 8)}`;
    return issue(this.dir, this.caFile, this.caKey, name, subject, 'clientAuth');
  }

  /**
   * A kubeconfig file for a client certificate or a bearer token; `server` when the client
   * reaches the API server another way (a relay on loopback a test can cut).
   */
  kubeconfig(name: string, auth: ClientCredentials | { readonly token: string }, server = this.url): string {
    const path = join(this.dir, `${name}.kubeconfig`);
    writeFileSync(path, kubeconfigYaml({ server, caFile: this.caFile, ...('token' in auth ? { token: auth.token } : { cert: auth.cert, key: auth.key }) }));
    return path;
  }

  /** One API request as `as` (default: the admin). JSON in and out; `contentType` for patches. */
  async request<T = KubeObject>(method: string, path: string, body?: unknown, opts: { as?: ClientCredentials | { token: string }; contentType?: string } = {}): Promise<KubeResponse<T>> {
    const auth = opts.as ?? this.admin;
    const tls = { ca: this.read(this.caFile), ...('token' in auth ? {} : { cert: this.read(auth.cert), key: this.read(auth.key) }), agent: this.agent };
    const r = await rawRequest(this.url, method, path, auth, tls, body, opts.contentType);
    let parsed: unknown = r.body;
    try { parsed = JSON.parse(r.body); } catch { /* not JSON: kept as text */ }
    return { status: r.status, body: parsed as T, warnings: r.warnings };
  }

  /** Like request, but throws (with the API's message) unless the status is 2xx. */
  async must<T = KubeObject>(method: string, path: string, body?: unknown, opts: { as?: ClientCredentials | { token: string }; contentType?: string } = {}): Promise<T> {
    const r = await this.request<T>(method, path, body, opts);
    if (r.status < 200 || r.status >= 300) throw new Error(`${method} ${path}: HTTP ${r.status}: ${JSON.stringify(r.body).slice(0, 600)}`);
    return r.body;
  }

  /** Creates an object at its collection path (derived from apiVersion, kind and namespace). */
  async create<T = KubeObject>(obj: KubeObject, query = ''): Promise<T> {
    return this.must<T>('POST', collectionPath(obj) + query, obj);
  }

  /** Server-side apply as `fieldManager`. */
  async apply<T = KubeObject>(obj: KubeObject, fieldManager = 'netconform-tests'): Promise<T> {
    const name = (obj.metadata as { name: string }).name;
    return this.must<T>('PATCH', `${collectionPath(obj)}/${name}?fieldManager=${fieldManager}&force=true`, obj, { contentType: 'application/apply-patch+yaml' });
  }

  /**
   * Server-side apply of an object's status (the status subresource), as a kubelet or a
   * controller writes it: the main resource ignores status on update (Pods, Services and
   * Nodes) and Pods are created Pending whatever their body says.
   */
  async applyStatus<T = KubeObject>(obj: KubeObject, fieldManager = 'netconform-tests'): Promise<T> {
    const name = (obj.metadata as { name: string }).name;
    return this.must<T>('PATCH', `${collectionPath(obj)}/${name}/status?fieldManager=${fieldManager}&force=true`, obj, { contentType: 'application/apply-patch+yaml' });
  }

  /** A namespace with labels, and its `default` ServiceAccount (no controller makes it here). */
  async createNamespace(name: string, labels: Readonly<Record<string, string>> = {}): Promise<void> {
    await this.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });
    await this.create({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace: name } });
  }

  /** A bound ServiceAccount token from the TokenRequest API (bound to a Pod when named). */
  async token(namespace: string, serviceAccount: string, opts: { audiences?: readonly string[]; expirationSeconds?: number; pod?: { name: string; uid: string } } = {}): Promise<string> {
    const spec: KubeObject = { expirationSeconds: opts.expirationSeconds ?? 3600 };
    if (opts.audiences) spec.audiences = opts.audiences;
    if (opts.pod) spec.boundObjectRef = { apiVersion: 'v1', kind: 'Pod', name: opts.pod.name, uid: opts.pod.uid };
    const r = await this.must<{ status: { token: string } }>('POST', `/api/v1/namespaces/${namespace}/serviceaccounts/${serviceAccount}/token`,
      { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec });
    return r.status.token;
  }

  /** Runs the real kubectl as the admin; returns stdout (throws with stderr on failure). */
  kubectl(args: readonly string[], input?: string): string {
    return execFileSync(k8sBin('kubectl'), ['--kubeconfig', this.adminKubeconfig, ...args], { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  }

  /** etcd's current revision. */
  async etcdRevision(): Promise<number> {
    const r = JSON.parse(await httpPost(`${this.etcdUrl}/v3/kv/range`, { key: Buffer.from('/').toString('base64') })) as { header: { revision: string } };
    return Number(r.header.revision);
  }

  /** Compacts etcd's history up to its current revision: older resourceVersions are gone (410). */
  async compactEtcd(): Promise<number> {
    const rev = await this.etcdRevision();
    await httpPost(`${this.etcdUrl}/v3/kv/compaction`, { revision: String(rev), physical: true });
    return rev;
  }
}

/** The REST collection path of an object, for the built-in and CRD kinds tests create. */
export function collectionPath(obj: KubeObject): string {
  const apiVersion = obj.apiVersion as string;
  const kind = obj.kind as string;
  const ns = (obj.metadata as { namespace?: string } | undefined)?.namespace;
  const plural = PLURALS[kind] ?? `${kind.toLowerCase()}s`;
  const base = apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`;
  return ns && !CLUSTER_SCOPED.has(kind) ? `${base}/namespaces/${ns}/${plural}` : `${base}/${plural}`;
}

const PLURALS: Readonly<Record<string, string>> = {
  Endpoints: 'endpoints', NetworkPolicy: 'networkpolicies', PodSecurityPolicy: 'podsecuritypolicies',
  ServiceCIDR: 'servicecidrs', IPAddress: 'ipaddresses', Ingress: 'ingresses', PolicyReport: 'policyreports',
  ClusterPolicyReport: 'clusterpolicyreports', CustomResourceDefinition: 'customresourcedefinitions', PriorityClass: 'priorityclasses',
};
const CLUSTER_SCOPED = new Set(['Namespace', 'Node', 'ClusterRole', 'ClusterRoleBinding', 'ServiceCIDR', 'IPAddress', 'CustomResourceDefinition',
  'ClusterPolicyReport', 'PriorityClass', 'ValidatingWebhookConfiguration', 'MutatingWebhookConfiguration', 'PersistentVolume', 'StorageClass']);

function issue(dir: string, ca: string, caKey: string, name: string, subject: string, usage: 'serverAuth' | 'clientAuth', san?: string): ClientCredentials {
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const cert = join(dir, `${name}.crt`);
  const ext = join(dir, `${name}.ext`);
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', csr, '-subj', subject]);
  writeFileSync(ext, `${san ? `subjectAltName=${san}\n` : ''}extendedKeyUsage=${usage}\nkeyUsage=digitalSignature,keyEncipherment\n`);
  openssl(['x509', '-req', '-in', csr, '-CA', ca, '-CAkey', caKey, '-CAcreateserial', '-days', '2', '-out', cert, '-extfile', ext]);
  return { cert, key };
}

function kubeconfigYaml(c: { server: string; caFile?: string | undefined; cert?: string; key?: string; token?: string }): string {
  const user: KubeObject = c.token ? { token: c.token } : { 'client-certificate': c.cert, 'client-key': c.key };
  return stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'lab',
    clusters: [{ name: 'lab', cluster: { server: c.server, ...(c.caFile ? { 'certificate-authority': c.caFile } : {}) } }],
    users: [{ name: 'lab', user }],
    contexts: [{ name: 'lab', context: { cluster: 'lab', user: 'lab' } }],
  });
}

function launch(dir: string, name: string, bin: string, args: readonly string[]): ChildProcess {
  const log = openSync(join(dir, `${name}.log`), 'a');
  // The kernel kills the component when the test process dies, however it dies (a signal
  // skips 'exit' handlers): no etcd or kube-apiserver outlives the test that started it.
  const p = spawn('setpriv', ['--pdeathsig', 'SIGKILL', '--', bin, ...args], { stdio: ['ignore', log, log] });
  live.add(p);
  p.once('exit', () => live.delete(p));
  return p;
}

async function stopAll(procs: readonly ChildProcess[]): Promise<void> {
  for (const p of procs) {
    if (p.exitCode !== null || p.signalCode !== null) continue;
    const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
    p.kill('SIGTERM');
    const timer = setTimeout(() => p.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}

function logTail(dir: string, name: string): string {
  try { return readFileSync(join(dir, `${name}.log`), 'utf8').trim().split('\n').slice(-15).join('\n'); } catch { return '(no log)'; }
}

async function waitFor(what: string, dir: string, log: string, timeoutMs: number, ready: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try { if (await ready()) return; } catch { /* not listening yet */ }
    if (Date.now() > deadline) throw new Error(`${what} not ready after ${timeoutMs / 1000} s; its log ends:\n${logTail(dir, log)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Parses `Warning: 299 - "text"` header values (RFC 7234 warn-text, as the API server writes them). */
export function warningTexts(values: readonly string[]): string[] {
  const out: string[] = [];
  for (const v of values) {
    for (const m of v.matchAll(/\d{3} [^ ]+ "((?:[^"\\]|\\.)*)"/g)) out.push(m[1]!.replace(/\\(.)/g, '$1'));
  }
  return out;
}

interface TlsMaterial { readonly ca: Buffer; readonly cert?: Buffer; readonly key?: Buffer; readonly agent?: Agent }

function rawRequest(base: string, method: string, path: string, auth: ClientCredentials | { token: string }, tls: TlsMaterial, body?: unknown, contentType?: string): Promise<{ status: number; body: string; warnings: string[] }> {
  return new Promise((resolve, reject) => {
    const u = new URL(path, base);
    const data = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (data !== undefined) headers['content-type'] = contentType ?? 'application/json';
    if ('token' in auth) headers.authorization = `Bearer ${auth.token}`;
    const req = request({
      host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers, ...tls,
    }, (res) => {
      const chunks: Buffer[] = [];
      const w = res.headers.warning;
      const warnings = warningTexts(w === undefined ? [] : Array.isArray(w) ? w : [w]);
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), warnings }));
    });
    req.on('error', reject);
    req.setTimeout(60_000, () => req.destroy(new Error(`${method} ${path}: no answer in 60 s`)));
    req.end(data);
  });
}

function httpGet(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, (res) => { let b = ''; res.on('data', (c: Buffer) => (b += c.toString())); res.on('end', () => resolve(b)); });
    req.on('error', reject);
    req.end();
  });
}

function httpPost(url: string, body: unknown): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
      let b = ''; res.on('data', (c: Buffer) => (b += c.toString())); res.on('end', () => (res.statusCode === 200 ? resolve(b) : reject(new Error(`${url}: HTTP ${res.statusCode}: ${b}`))));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}
