// Lab pods made the way a container runtime makes them: the real CNI reference plugins
// (scripts/k8s-bins.sh builds them) called with a real network config list, as libcni does —
// each plugin of the list in order with CNI_COMMAND=ADD, CNI_CONTAINERID, CNI_NETNS,
// CNI_IFNAME, CNI_PATH and its config (name, cniVersion, prevResult) on stdin; DEL in reverse
// order with the cached result. The plugins run in the lab node's namespace (the "host" of
// the pod); host-local keeps its leases in a private directory, never /var/lib/cni.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { k8sBin } from './k8s-bins.js';
import { run } from './lab.js';

export type CniConflist = { readonly cniVersion: string; readonly name: string; readonly plugins: readonly Record<string, unknown>[] };

/** kubenet's shape: bridge cbr0 (gateway, hairpin, no masquerade) with host-local on the node's pod CIDR, then portmap. */
export function kubenetConflist(podCIDR: string, dataDir: string): CniConflist {
  return {
    cniVersion: '1.0.0', name: 'kubenet',
    plugins: [
      {
        type: 'bridge', bridge: 'cbr0', mtu: 1460, addIf: 'eth0', isGateway: true, ipMasq: false, hairpinMode: true,
        ipam: { type: 'host-local', ranges: [[{ subnet: podCIDR }]], routes: [{ dst: '0.0.0.0/0' }], dataDir },
      },
      { type: 'portmap', capabilities: { portMappings: true }, externalSetMarkChain: 'KUBE-MARK-MASQ' },
    ],
  };
}

/** A routed network: ptp veths (the node end carries the gateway), host-local on the pod CIDR. */
export function ptpConflist(podCIDR: string, dataDir: string): CniConflist {
  return {
    cniVersion: '1.0.0', name: 'routed',
    plugins: [
      { type: 'ptp', mtu: 1460, ipMasq: false, ipam: { type: 'host-local', ranges: [[{ subnet: podCIDR }]], routes: [{ dst: '0.0.0.0/0' }], dataDir } },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  };
}

/** Writes the list where the kubelet/runtime reads it (`<dir>/10-<name>.conflist`). */
export function writeConflist(confDir: string, list: CniConflist): string {
  mkdirSync(confDir, { recursive: true });
  const file = join(confDir, `10-${list.name}.conflist`);
  writeFileSync(file, JSON.stringify(list, null, 2) + '\n');
  return file;
}

export interface CniPod {
  readonly containerId: string;
  readonly netns: string;
  readonly ip: string;
  /** The list's final result (what the runtime caches). */
  readonly result: Record<string, unknown>;
}

/** The directory holding the plugin binaries (--cni-bin-dir). */
export const cniBinDir = (): string => k8sBin('cni');

function invoke(nodeNetns: string, plugin: string, env: Record<string, string>, config: unknown): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', nodeNetns, join(cniBinDir(), plugin)], { env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '', err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    // 'close', not 'exit': stdout may still hold the result when the process has exited.
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`CNI ${env['CNI_COMMAND']} ${plugin} exited ${code}: ${out.trim()} ${err.trim()}`))));
    child.stdin.end(JSON.stringify(config));
  });
}

/** CNI ADD of a pod network namespace (made here, `ip netns add`) through every plugin of the list. */
export async function cniAdd(nodeNetns: string, list: CniConflist, podNetns: string, containerId: string, opts: { ip?: string } = {}): Promise<CniPod> {
  await run('ip', ['netns', 'add', podNetns]);
  // Gone with the test process however it ends, and at once when ADD fails.
  const drop = (): void => { try { execFileSync('ip', ['netns', 'del', podNetns], { stdio: 'ignore' }); } catch { /* gone */ } };
  process.once('exit', drop);
  try {
    return await addThrough(nodeNetns, list, podNetns, containerId, opts);
  } catch (err) {
    drop();
    throw err;
  }
}

async function addThrough(nodeNetns: string, list: CniConflist, podNetns: string, containerId: string, opts: { ip?: string }): Promise<CniPod> {
  const env = {
    CNI_COMMAND: 'ADD', CNI_CONTAINERID: containerId, CNI_NETNS: `/var/run/netns/${podNetns}`, CNI_IFNAME: 'eth0', CNI_PATH: cniBinDir(),
    ...(opts.ip ? { CNI_ARGS: `IgnoreUnknown=1;IP=${opts.ip}` } : {}),
  };
  let prev: Record<string, unknown> | undefined;
  for (const plugin of list.plugins) {
    const config = { ...plugin, name: list.name, cniVersion: list.cniVersion, ...(prev ? { prevResult: prev } : {}) };
    const out = await invoke(nodeNetns, String(plugin['type']), env, config);
    try {
      prev = JSON.parse(out) as Record<string, unknown>;
    } catch {
      throw new Error(`CNI ADD ${String(plugin['type'])} printed no result: ${JSON.stringify(out)}`);
    }
  }
  const ips = (prev?.['ips'] as { address: string }[] | undefined) ?? [];
  const ip = ips[0]?.address.split('/')[0];
  if (!ip) throw new Error(`CNI ADD returned no IP: ${JSON.stringify(prev)}`);
  await run('ip', ['-n', podNetns, 'link', 'set', 'lo', 'up']);
  return { containerId, netns: podNetns, ip, result: prev! };
}

/** CNI DEL through the list in reverse order (the cached result as prevResult), then the namespace goes. */
export async function cniDel(nodeNetns: string, list: CniConflist, pod: CniPod): Promise<void> {
  const env = { CNI_COMMAND: 'DEL', CNI_CONTAINERID: pod.containerId, CNI_NETNS: `/var/run/netns/${pod.netns}`, CNI_IFNAME: 'eth0', CNI_PATH: cniBinDir() };
  for (const plugin of [...list.plugins].reverse()) {
    await invoke(nodeNetns, String(plugin['type']), env, { ...plugin, name: list.name, cniVersion: list.cniVersion, prevResult: pod.result });
  }
  await run('ip', ['netns', 'del', pod.netns]);
}
