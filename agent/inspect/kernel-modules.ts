// Which kernel modules that CNI data paths depend on are present (loaded, or built in with
// parameters): /sys/module/<name> exists. Read for the migration fingerprint; a bundle
// carries the list as modules.txt, one name a line.
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/** Modules a CNI migration may need: overlays, encryption, IPVS, nftables, bridged netfilter, BPF matches. */
export const DATAPATH_MODULES = ['vxlan', 'geneve', 'wireguard', 'ip_vs', 'nf_tables', 'br_netfilter', 'ipip', 'xt_bpf', 'openvswitch'] as const;

export const MODULES_FILE = 'modules.txt';

export function readKernelModulesLive(sysModule = '/sys/module'): string[] {
  if (!existsSync(sysModule)) return [];
  return DATAPATH_MODULES.filter((m) => existsSync(join(sysModule, m)));
}

export function parseModulesText(text: string): string[] {
  return text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#')).sort();
}

export function formatModulesText(modules: readonly string[]): string {
  return modules.map((m) => `${m}\n`).join('');
}
