// The CNI conf dir as a container runtime sees it (libcni ConfFiles + ConfListFromFile /
// ConfFromFile, as used by CRI-O's ocicni and the kubelet's old CNI code): files ending in
// .conf, .conflist or .json, sorted by name; the first one that parses into a valid network
// configuration is the active one. A .conf/.json holds a single plugin and is wrapped into a
// one-plugin list. Then, from the active config's plugin types: the plugin family, whether
// pods sit on a Linux bridge (and which), hairpin, IPAM ranges, the binaries it needs.
// Pure: works on CniFacts text.
import { jsonSyntaxError } from '../../../common/json-input.js';
import { parseCidr, type Cidr } from '../../../common/cidr.js';
import type { CniFacts, CniFileFacts } from '../../inspect/cni.js';

export const CNI_EXTENSIONS = ['.conf', '.conflist', '.json'] as const;
/** Versions of the CNI spec that released libcni accepts. */
export const SUPPORTED_CNI_VERSIONS = ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

export interface CniPlugin {
  readonly type: string;
  readonly conf: Readonly<Obj>;
}

export interface CniNetworkConfig {
  readonly format: 'conflist' | 'conf';
  readonly name: string;
  /** As written; undefined when the file has none (runtimes then assume 0.1.0). */
  readonly cniVersion?: string;
  readonly plugins: readonly CniPlugin[];
}

export type CniFileAnalysis =
  | { readonly file: string; readonly kind: 'not-config'; readonly looksLikeConfig: boolean }
  | { readonly file: string; readonly kind: 'invalid'; readonly problem: string; readonly line?: number; readonly column?: number }
  | { readonly file: string; readonly kind: 'valid'; readonly config: CniNetworkConfig; readonly warnings: readonly string[] };

export type ValidCniFile = Extract<CniFileAnalysis, { kind: 'valid' }>;

export interface CniDirAnalysis {
  readonly files: readonly CniFileAnalysis[];
  readonly active?: ValidCniFile;
}

export function hasCniExtension(name: string): boolean {
  return CNI_EXTENSIONS.some((e) => name.endsWith(e));
}

export function analyzeCniDir(facts: CniFacts): CniDirAnalysis {
  // Runtimes sort by file name (Go sort.Strings: byte order).
  const files = [...facts.files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map(analyzeCniFile);
  const active = files.find((f): f is ValidCniFile => f.kind === 'valid');
  return active ? { files, active } : { files };
}

export function analyzeCniFile(f: CniFileFacts): CniFileAnalysis {
  if (!hasCniExtension(f.name)) {
    // `10-bridge.conf.bak`, `x.conflist.disabled`: someone parked a config; say it is ignored.
    return { file: f.name, kind: 'not-config', looksLikeConfig: /\.(conf|conflist|json)\b/.test(f.name) };
  }
  if (f.truncated) return { file: f.name, kind: 'invalid', problem: 'file is larger than 1 MiB; not a CNI config' };
  let v: unknown;
  try {
    v = JSON.parse(f.text);
  } catch (err) {
    const e = jsonSyntaxError(f.text, err);
    return { file: f.name, kind: 'invalid', problem: e.reason, ...(e.line !== undefined ? { line: e.line, column: e.column! } : {}) };
  }
  if (!isObj(v)) return { file: f.name, kind: 'invalid', problem: 'not a JSON object' };
  const warnings: string[] = [];
  const rawVersion = v['cniVersion'];
  if (rawVersion !== undefined && typeof rawVersion !== 'string') return { file: f.name, kind: 'invalid', problem: `"cniVersion" must be a string, got ${JSON.stringify(rawVersion)}` };
  if (rawVersion === undefined) warnings.push('no "cniVersion" (runtimes assume 0.1.0; set the version the plugins speak)');
  else if (!(SUPPORTED_CNI_VERSIONS as readonly string[]).includes(rawVersion)) {
    return { file: f.name, kind: 'invalid', problem: `cniVersion "${rawVersion}" is not a CNI spec version (${SUPPORTED_CNI_VERSIONS.join(', ')})` };
  }
  const version = rawVersion === undefined ? {} : { cniVersion: rawVersion };

  if (f.name.endsWith('.conflist')) {
    const name = v['name'];
    if (typeof name !== 'string' || name === '') return { file: f.name, kind: 'invalid', problem: 'no "name" (a network configuration list must be named)' };
    const plugins = v['plugins'];
    if (plugins === undefined) {
      return { file: f.name, kind: 'invalid', problem: typeof v['type'] === 'string' ? `no "plugins" key: this is a single-plugin config (type "${v['type']}") — name it .conf or wrap it in "plugins": [...]` : 'no "plugins" key' };
    }
    if (!Array.isArray(plugins) || plugins.length === 0) return { file: f.name, kind: 'invalid', problem: '"plugins" must be a non-empty array' };
    const parsed: CniPlugin[] = [];
    for (const [i, p] of plugins.entries()) {
      if (!isObj(p)) return { file: f.name, kind: 'invalid', problem: `plugins[${i}] is not an object` };
      const type = p['type'];
      if (typeof type !== 'string' || type === '') return { file: f.name, kind: 'invalid', problem: `plugins[${i}] has no "type"` };
      parsed.push({ type, conf: p });
    }
    return { file: f.name, kind: 'valid', config: { format: 'conflist', name, ...version, plugins: parsed }, warnings };
  }

  // .conf / .json: one plugin.
  const type = v['type'];
  if (typeof type !== 'string' || type === '') {
    return { file: f.name, kind: 'invalid', problem: Array.isArray(v['plugins']) ? 'no "type": this is a configuration list — name it .conflist' : 'no "type" (a single-plugin config must name its plugin)' };
  }
  const name = str(v['name']);
  if (name === undefined || name === '') warnings.push('no "name" (the CNI spec requires one)');
  return { file: f.name, kind: 'valid', config: { format: 'conf', name: name ?? '', ...version, plugins: [{ type, conf: v }] }, warnings };
}

// ---------------------------------------------------------------------------------------
// Plugin families.

export type CniFamily =
  | 'bridge' | 'flannel' | 'calico' | 'cilium' | 'weave' | 'azure' | 'aws-vpc' | 'antrea' | 'kube-ovn'
  | 'ptp' | 'macvlan' | 'ipvlan' | 'multus' | 'unknown';

/** Main plugin types → family. Chained plugins (portmap, bandwidth, tuning, …) never decide. */
const MAIN_TYPES: Readonly<Record<string, CniFamily>> = {
  bridge: 'bridge', flannel: 'flannel', calico: 'calico', 'cilium-cni': 'cilium', 'weave-net': 'weave',
  'weave-plugin-2.8.1': 'weave', 'azure-vnet': 'azure', 'aws-cni': 'aws-vpc', antrea: 'antrea',
  'kube-ovn': 'kube-ovn', ptp: 'ptp', macvlan: 'macvlan', ipvlan: 'ipvlan', multus: 'multus', 'multus-shim': 'multus',
};

/** Families that enforce NetworkPolicy themselves (a migration target must too, or policies stop working). */
const POLICY_FAMILIES: ReadonlySet<CniFamily> = new Set(['calico', 'cilium', 'weave', 'antrea', 'kube-ovn']);

export interface IpamInfo {
  /** IPAM plugin type (host-local, calico-ipam, azure-vnet-ipam, …); '' when the plugin manages addresses itself. */
  readonly type: string;
  /** Static subnets, one array per range set (host-local `ranges`, or legacy `subnet`). */
  readonly subnets: readonly string[];
  /** host-local `usePodCidr` / `usePodCidrIPv6`: the range is the Node's spec.podCIDRs. */
  readonly usesPodCidr: boolean;
}

export interface CniProfile {
  readonly family: CniFamily;
  readonly mainType: string;
  readonly types: readonly string[];
  /** Pods' Linux bridge; null when the family attaches pods without one (routed, eBPF, OVS); undefined when unknown. */
  readonly bridge: string | null | undefined;
  /** Hairpin mode is configured for the pod ports. */
  readonly hairpin: boolean;
  /** Pod addresses come from the Node's spec.podCIDRs (so bridge gateway and IPAM must agree with it). */
  readonly usesNodePodCIDR: boolean;
  readonly ipam?: IpamInfo;
  /** Every binary the runtime will exec for this config (plugins, IPAM, delegates). */
  readonly requiredBinaries: readonly string[];
  /** What a migration would have to keep: network-policy, port-mapping, bandwidth, hairpin, … */
  readonly capabilities: readonly string[];
}

function readIpam(ipam: unknown): IpamInfo | undefined {
  if (!isObj(ipam)) return undefined;
  const type = str(ipam['type']) ?? '';
  const subnets: string[] = [];
  let usesPodCidr = false;
  const add = (s: unknown): void => {
    if (typeof s !== 'string') return;
    if (s === 'usePodCidr' || s === 'usePodCidrIPv6') usesPodCidr = true;
    else subnets.push(s);
  };
  if (Array.isArray(ipam['ranges'])) {
    for (const set of ipam['ranges']) if (Array.isArray(set)) for (const r of set) if (isObj(r)) add(r['subnet']);
  }
  add(ipam['subnet']);
  return { type, subnets, usesPodCidr };
}

export function cniProfile(config: CniNetworkConfig): CniProfile {
  const types = config.plugins.map((p) => p.type);
  const main = config.plugins.find((p) => MAIN_TYPES[p.type] !== undefined) ?? config.plugins[0]!;
  const family: CniFamily = MAIN_TYPES[main.type] ?? 'unknown';
  const c = main.conf;
  const required = new Set(types);
  for (const p of config.plugins) {
    const ipamType = isObj(p.conf['ipam']) ? str(p.conf['ipam']['type']) : undefined;
    if (ipamType) required.add(ipamType);
  }
  let bridge: string | null | undefined;
  let hairpin = false;
  let usesNodePodCIDR = false;
  let ipam = readIpam(c['ipam']);
  switch (family) {
    case 'bridge':
      bridge = str(c['bridge']) ?? 'cni0';
      hairpin = c['hairpinMode'] === true;
      usesNodePodCIDR = ipam?.type === 'host-local';
      break;
    case 'flannel': {
      // flannel execs its delegate (bridge unless told otherwise) with host-local IPAM over
      // the node's flannel subnet, which is the Node's podCIDR under --kube-subnet-mgr.
      const d = isObj(c['delegate']) ? c['delegate'] : {};
      const dType = str(d['type']) ?? 'bridge';
      required.add(dType);
      required.add(isObj(d['ipam']) ? str(d['ipam']['type']) ?? 'host-local' : 'host-local');
      bridge = dType === 'bridge' ? str(d['bridge']) ?? 'cni0' : null;
      hairpin = d['hairpinMode'] === true;
      usesNodePodCIDR = true;
      ipam = { type: 'host-local', subnets: [], usesPodCidr: true };
      break;
    }
    case 'weave':
      // weave attaches pods to its own bridge; addresses come from weave's IPAM, not the Node.
      bridge = 'weave';
      hairpin = c['hairpinMode'] === true;
      break;
    case 'azure':
      bridge = str(c['mode']) === 'bridge' ? str(c['bridge']) ?? 'azure0' : null;
      break;
    case 'calico':
    case 'antrea':
      bridge = null;
      usesNodePodCIDR = family === 'antrea' || ipam?.usesPodCidr === true;
      break;
    case 'cilium': case 'aws-vpc': case 'kube-ovn': case 'ptp': case 'macvlan': case 'ipvlan':
      bridge = null;
      usesNodePodCIDR = ipam?.type === 'host-local';
      break;
    case 'multus': case 'unknown':
      bridge = undefined;
      break;
  }
  const capabilities = new Set<string>();
  if (POLICY_FAMILIES.has(family)) capabilities.add('network-policy');
  if (hairpin) capabilities.add('hairpin');
  for (const p of config.plugins) {
    if (p.type === 'portmap') capabilities.add('port-mapping');
    if (p.type === 'bandwidth') capabilities.add('bandwidth');
    if (isObj(p.conf['capabilities'])) for (const [k, v] of Object.entries(p.conf['capabilities'])) if (v === true) capabilities.add(k);
  }
  if (family === 'cilium') capabilities.add('ebpf');
  if (family === 'flannel' || family === 'weave' || family === 'kube-ovn' || family === 'antrea') capabilities.add('overlay');
  return {
    family, mainType: main.type, types, bridge, hairpin, usesNodePodCIDR,
    ...(ipam ? { ipam } : {}),
    requiredBinaries: [...required].sort(),
    capabilities: [...capabilities].sort(),
  };
}

/** The active config's profile, when the snapshot has CNI facts and a valid config. */
export function activeCniProfile(facts: CniFacts | undefined): { file: string; config: CniNetworkConfig; profile: CniProfile } | undefined {
  if (!facts) return undefined;
  const active = analyzeCniDir(facts).active;
  return active ? { file: active.file, config: active.config, profile: cniProfile(active.config) } : undefined;
}

/** Static IPAM subnets that parse, canonicalised. */
export function ipamCidrs(ipam: IpamInfo | undefined): Cidr[] {
  return (ipam?.subnets ?? []).map((s) => parseCidr(s)).filter((c): c is Cidr => c !== undefined);
}
