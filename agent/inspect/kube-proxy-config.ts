// kube-proxy's own configuration, which decides what a mode switch changes: the mode, the
// NodePort addresses, the IPVS scheduler and strictARP, localhost NodePorts, conntrack
// liberal mode. Read from kube-proxy's /configz (served on its metrics port, next to
// /metrics; JSON `{"kubeproxy.config.k8s.io": KubeProxyConfiguration}`) — bundle file
// kube-proxy-configz.json — or from the kube-proxy ConfigMap in a cluster file (its
// `config.conf` is the same KubeProxyConfiguration as YAML). Only the fields the migration
// judges are kept; an absent field is absent (kube-proxy's default applies), never guessed.
import { createRequire } from 'node:module';
import { InputError } from '../../common/errors.js';

export const KUBE_PROXY_CONFIGZ_FILE = 'kube-proxy-configz.json';
export const CONFIGZ_KEY = 'kubeproxy.config.k8s.io';

export interface KubeProxyConfigFacts {
  /** Where it was read: the URL, the bundle file, or `ConfigMap kube-system/kube-proxy`. */
  readonly source: string;
  /** `mode` as configured ('' means the release's default, iptables on Linux until KEP-5343). */
  readonly mode?: string;
  readonly nodePortAddresses?: readonly string[];
  readonly ipvsScheduler?: string;
  readonly ipvsStrictArp?: boolean;
  /** iptables.localhostNodePorts (1.26+; default true). */
  readonly localhostNodePorts?: boolean;
  readonly masqueradeBit?: number;
  /** conntrack.tcpBeLiberal (1.29+): kube-proxy sets nf_conntrack_tcp_be_liberal and drops no INVALID packets. */
  readonly conntrackTcpBeLiberal?: boolean;
  /** The /configz answer as served, so `capture` writes it verbatim (absent from a ConfigMap). */
  readonly text?: string;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The judged fields of a KubeProxyConfiguration object; `source` names it in errors. */
export function kubeProxyConfigFrom(cfg: unknown, source: string): KubeProxyConfigFacts {
  if (!isObj(cfg)) throw new InputError(source, 'expected a KubeProxyConfiguration object');
  const sub = (k: string): Obj => (isObj(cfg[k]) ? cfg[k] : {});
  const field = <T>(v: unknown, kind: 'string' | 'boolean' | 'number', at: string): T | undefined => {
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v !== kind) throw new InputError(source, `${at}: expected ${kind}, got ${Array.isArray(v) ? 'array' : typeof v}`);
    return v as T;
  };
  const npa = cfg['nodePortAddresses'];
  if (npa !== undefined && npa !== null && !(Array.isArray(npa) && npa.every((x) => typeof x === 'string'))) throw new InputError(source, 'nodePortAddresses: expected a list of strings');
  const mode = field<string>(cfg['mode'], 'string', 'mode');
  const scheduler = field<string>(sub('ipvs')['scheduler'], 'string', 'ipvs.scheduler');
  const strictArp = field<boolean>(sub('ipvs')['strictARP'], 'boolean', 'ipvs.strictARP');
  const localhost = field<boolean>(sub('iptables')['localhostNodePorts'], 'boolean', 'iptables.localhostNodePorts');
  const bit = field<number>(sub('iptables')['masqueradeBit'], 'number', 'iptables.masqueradeBit');
  const liberal = field<boolean>(sub('conntrack')['tcpBeLiberal'], 'boolean', 'conntrack.tcpBeLiberal');
  return {
    source,
    ...(mode !== undefined ? { mode } : {}),
    ...(Array.isArray(npa) && npa.length > 0 ? { nodePortAddresses: npa as string[] } : {}),
    ...(scheduler !== undefined ? { ipvsScheduler: scheduler } : {}),
    ...(strictArp !== undefined ? { ipvsStrictArp: strictArp } : {}),
    ...(localhost !== undefined ? { localhostNodePorts: localhost } : {}),
    ...(bit !== undefined ? { masqueradeBit: bit } : {}),
    ...(liberal !== undefined ? { conntrackTcpBeLiberal: liberal } : {}),
  };
}

/** kube-proxy's /configz answer. */
export function parseKubeProxyConfigz(text: string, source: string): KubeProxyConfigFacts {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new InputError(source, `not JSON (expected kube-proxy's /configz answer): ${(err as Error).message}`);
  }
  if (!isObj(doc) || !isObj(doc[CONFIGZ_KEY])) throw new InputError(source, `expected {"${CONFIGZ_KEY}": {…}} (kube-proxy's /configz answer)`);
  return kubeProxyConfigFrom(doc[CONFIGZ_KEY], source);
}

/** The `config.conf` of the kube-proxy ConfigMap (YAML). */
export function parseKubeProxyConfigYaml(text: string, source: string): KubeProxyConfigFacts {
  // Required on use: only `migrate` reads the ConfigMap; the agent reads /configz (JSON) and
  // would carry the YAML parser (~4 MB of heap) between scans for nothing.
  const { parse: parseYaml } = createRequire(import.meta.url)('yaml') as typeof import('yaml');
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    const pos = (err as { linePos?: { line: number }[] }).linePos?.[0]?.line;
    throw new InputError(source, `not YAML: ${(err as Error).message.split('\n')[0]}`, pos);
  }
  return kubeProxyConfigFrom(doc, source);
}

/** The /configz URL next to the metrics URL kube-proxy serves (same host and port). */
export function configzUrlFor(metricsUrl: string): string {
  try {
    const u = new URL(metricsUrl);
    u.pathname = '/configz';
    return u.toString();
  } catch {
    return metricsUrl;
  }
}
