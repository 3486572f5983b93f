// The real kube-proxy on a lab node: the binary scripts/k8s-bins.sh built (any pinned or
// on-demand release), run inside the lab node's network namespace only, with its own
// kubeconfig as `system:kube-proxy` (the bootstrap `system:node-proxier` binding gives it
// kube-proxy's real permissions) and a KubeProxyConfiguration written as data:
// hostnameOverride, mode, clusterCIDR, metrics and healthz inside the namespace, conntrack
// tuning zeroed (so it writes no global sysctl — nf_conntrack_max and the conntrack timeouts
// are the only ones it would touch), and a long syncPeriod so deliberate damage stays until
// the test asks for a resync. The API server on the host's loopback is reached through a
// relay in the namespace (test/support/netns-relay.ts), at the same 127.0.0.1 address.
//
// Readiness is kube-proxy's own signal: `kubeproxy_sync_proxy_rules_last_timestamp_seconds`
// after a given moment, with nothing pending. stop() sends SIGTERM, runs `kube-proxy
// --cleanup` in the namespace (the documented way to remove its rules) and removes the relay;
// deleting the lab namespace afterwards takes whatever is left.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { parsePromText } from '../../common/prom-text.js';
import { fetchMetricsTextInNetns, kubeProxyMetricsFrom, type KubeProxyMetrics } from '../../agent/inspect/kube-proxy.js';
import { relayIntoNetns, type NetnsRelay } from '../support/netns-relay.js';
import type { ControlPlane } from './control-plane.js';
import { k8sBin, k8sVersions } from './k8s-bins.js';
import { run } from './lab.js';

export type KubeProxyMode = 'iptables' | 'nftables';

export interface KubeProxyOptions {
  /** The lab node's network namespace. */
  readonly netns: string;
  /** Node name (hostnameOverride); its Node object must exist with status.addresses. */
  readonly nodeName: string;
  readonly mode: KubeProxyMode;
  /** e.g. v1.37.2 (default: the newest pinned release). */
  readonly version?: string;
  readonly clusterCIDR: string;
  /** Full resync period (default 1h: rule damage stays until restart or a Service change). */
  readonly syncPeriod?: string;
  /** More KubeProxyConfiguration fields, merged over the defaults. */
  readonly config?: Readonly<Record<string, unknown>>;
  /** minSyncPeriod (default 0s: every change syncs at once). */
  readonly minSyncPeriod?: string;
}

/** kube-proxy's metrics address inside the lab namespace. */
export const KUBE_PROXY_METRICS_PORT = 10249;

/** Processes not stopped yet: killed if the test process exits anyway (the netns goes with the lab). */
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of live) { try { p.kill('SIGKILL'); } catch { /* gone */ } }
});

/** The binary of a kube-proxy release: the newest at the top, others under versions/. */
export function kubeProxyBinary(version?: string): string {
  const v = version ?? k8sVersions().kubernetes;
  return v === k8sVersions().kubernetes ? k8sBin('kube-proxy') : k8sBin(`versions/${v}/kube-proxy`);
}

export class LabKubeProxy {
  private proc: ChildProcess | undefined;
  private constructor(
    readonly opts: KubeProxyOptions,
    readonly version: string,
    readonly dir: string,
    readonly configFile: string,
    private readonly relay: NetnsRelay,
  ) {}

  /** `http://127.0.0.1:10249/metrics`, valid inside the lab namespace. */
  readonly metricsUrl = `http://127.0.0.1:${KUBE_PROXY_METRICS_PORT}/metrics`;

  static async start(cp: ControlPlane, opts: KubeProxyOptions): Promise<LabKubeProxy> {
    const version = opts.version ?? k8sVersions().kubernetes;
    const dir = mkdtempSync(join(tmpdir(), 'nclab-kp-'));
    let relay: NetnsRelay | undefined;
    try {
      relay = await relayIntoNetns(opts.netns, [cp.port], dir);
      const kubeconfig = cp.kubeconfig(`kube-proxy-${opts.nodeName}-${Math.random().toString(36).slice(2, 8)}`, cp.clientCertificate('system:kube-proxy'));
      const sync = opts.syncPeriod ?? '1h';
      const config = {
        apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
        kind: 'KubeProxyConfiguration',
        clientConnection: { kubeconfig, qps: 50, burst: 100 },
        hostnameOverride: opts.nodeName,
        mode: opts.mode,
        clusterCIDR: opts.clusterCIDR,
        bindAddress: '0.0.0.0',
        metricsBindAddress: `127.0.0.1:${KUBE_PROXY_METRICS_PORT}`,
        healthzBindAddress: '127.0.0.1:10256',
        // Zero means "leave the kernel's value": these are the global sysctls kube-proxy would set.
        conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s', udpTimeout: '0s', udpStreamTimeout: '0s', tcpBeLiberal: false },
        // Its own process only (the default -999 needs nothing global either; 0 is plainer).
        oomScoreAdj: 0,
        iptables: { syncPeriod: sync, minSyncPeriod: opts.minSyncPeriod ?? '0s', masqueradeAll: false },
        nftables: { syncPeriod: sync, minSyncPeriod: opts.minSyncPeriod ?? '0s', masqueradeAll: false },
        configSyncPeriod: '0s',
        ...(opts.config ?? {}),
      };
      const configFile = join(dir, 'kube-proxy.yaml');
      writeFileSync(configFile, stringify(config));
      // The programs kube-proxy writes rules with, first on its PATH: each runs the real one
      // unless the test made them fail (failSyncs) — as when the kernel or the xtables lock
      // refuses kube-proxy's restores on a real node.
      mkdirSync(join(dir, 'bin'));
      for (const [name, real, writes] of [['iptables-restore', '/usr/sbin/iptables-restore', ''], ['ip6tables-restore', '/usr/sbin/ip6tables-restore', ''], ['nft', '/usr/sbin/nft', '-f']] as const) {
        const guard = writes ? `case " $* " in *" ${writes} "*) [ -e ${join(dir, 'fail-syncs')} ] && { echo "lab: ${name} made to fail" >&2; exit 1; };; esac` : `[ -e ${join(dir, 'fail-syncs')} ] && { echo "lab: ${name} made to fail" >&2; exit 1; }`;
        writeFileSync(join(dir, 'bin', name), `#!/bin/sh\n${guard}\nexec ${real} "$@"\n`, { mode: 0o755 });
      }
      const kp = new LabKubeProxy(opts, version, dir, configFile, relay);
      kp.launch();
      return kp;
    } catch (err) {
      await relay?.stop();
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** (Re)starts the process with the same configuration; the previous one must be stopped. */
  launch(): void {
    if (this.running) throw new Error('kube-proxy is already running');
    const log = openSync(join(this.dir, 'kube-proxy.log'), 'a');
    const env = { ...process.env, PATH: `${join(this.dir, 'bin')}:${process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin'}` };
    const p = spawn('ip', ['netns', 'exec', this.opts.netns, kubeProxyBinary(this.version), `--config=${this.configFile}`, '--v=2'], { stdio: ['ignore', log, log], env });
    live.add(p);
    p.once('exit', () => live.delete(p));
    this.proc = p;
  }

  /** Makes kube-proxy's rule writes (iptables-restore, nft -f) fail, or work again. */
  failSyncs(fail: boolean): void {
    const flag = join(this.dir, 'fail-syncs');
    if (fail) writeFileSync(flag, '');
    else if (existsSync(flag)) rmSync(flag);
  }

  get running(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** The last lines of kube-proxy's log (for failure messages). */
  logTail(lines = 25): string {
    try { return readFileSync(join(this.dir, 'kube-proxy.log'), 'utf8').trim().split('\n').slice(-lines).join('\n'); } catch { return '(no log)'; }
  }

  /** One scrape of kube-proxy's own metrics, from inside the namespace. */
  async metrics(): Promise<KubeProxyMetrics | undefined> {
    const r = await fetchMetricsTextInNetns(this.opts.netns, this.metricsUrl);
    if ('unavailable' in r) return undefined;
    return kubeProxyMetricsFrom(parsePromText(r.text, this.metricsUrl), new Date().toISOString());
  }

  /** The raw scrape (for bundles and fixtures). */
  async metricsText(): Promise<string> {
    const r = await fetchMetricsTextInNetns(this.opts.netns, this.metricsUrl);
    if ('unavailable' in r) throw new Error(`kube-proxy metrics: ${r.unavailable}`);
    return r.text;
  }

  /**
   * Resolves when kube-proxy reports a successful sync that started after `afterMs` (epoch ms)
   * with no change pending — its own word that the rules reflect the API as of then.
   */
  async waitForSync(afterMs: number, timeoutMs = 60_000): Promise<KubeProxyMetrics> {
    const deadline = Date.now() + timeoutMs;
    let last: KubeProxyMetrics | undefined;
    for (;;) {
      if (!this.running) throw new Error(`kube-proxy ${this.version} (${this.opts.mode}) exited ${this.proc?.exitCode ?? this.proc?.signalCode}; its log ends:\n${this.logTail()}`);
      last = await this.metrics().catch(() => undefined);
      // The gauge has second resolution at best on old releases: compare with a second's slack.
      if (last?.lastSyncSeconds !== undefined && last.lastSyncSeconds * 1000 >= afterMs - 1000
        && (last.endpointChangesPending ?? 0) === 0 && (last.serviceChangesPending ?? 0) === 0 && last.unsyncedSinceSeconds === undefined) return last;
      if (Date.now() > deadline) throw new Error(`kube-proxy ${this.version} (${this.opts.mode}) reported no sync after ${new Date(afterMs).toISOString()} within ${timeoutMs / 1000} s (last: ${JSON.stringify(last)}); its log ends:\n${this.logTail()}`);
      await new Promise((r) => setTimeout(r, 150));
    }
  }

  /** SIGTERM (SIGKILL after 5 s); the rules stay, as when kube-proxy dies on a node. */
  async kill(): Promise<void> {
    const p = this.proc;
    if (!p || !this.running) return;
    const exited = new Promise<void>((r) => p.once('exit', () => r()));
    p.kill('SIGTERM');
    const timer = setTimeout(() => p.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }

  /** Stops kube-proxy, removes its rules with `kube-proxy --cleanup`, the relay and the directory. */
  async stop(): Promise<void> {
    await this.kill();
    try {
      await run('ip', ['netns', 'exec', this.opts.netns, kubeProxyBinary(this.version), '--cleanup', '--v=0']);
    } catch { /* the namespace may be gone already; deleting it removes the rules too */ }
    await this.relay.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
