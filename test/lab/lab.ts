// The lab node: a Kubernetes node built from network namespaces on the real kernel.
//
//   node netns  ── cbr0 (gateway of the pod CIDR) ──┬── veth ── pod netns 1 (eth0, pod IP)
//                                                   └── veth ── pod netns 2 …
//
// Every name is unique per use (pid + counter + random), and every namespace is deleted
// on destroy(), on process exit, and on SIGINT/SIGTERM — also when a test fails.
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatIp, parsePrefix } from '../../agent/dataplane/addr.js';

export const LAB_PREFIX = 'nclab';

export interface LabPodOptions {
  /** Attach the pod's host-side veth to the bridge (default true). */
  readonly attached?: boolean;
}

export interface LabOptions {
  /** Pods to create (default 2). */
  readonly pods?: number | readonly LabPodOptions[];
  /** IPv4 pod CIDR of this node (default 10.244.1.0/24). */
  readonly podCIDR?: string;
  /** Bridge name (default cbr0); null builds no bridge at all. */
  readonly bridge?: string | null;
  /** Put the gateway address on the bridge (default true). */
  readonly bridgeAddress?: boolean;
  /** Bring the bridge up (default true). */
  readonly bridgeUp?: boolean;
  /** Hairpin mode on pod ports (default true, as kubenet sets it). */
  readonly hairpin?: boolean;
  /** Sysctls set in the node namespace (default ip_forward=1, bridge-nf-call-iptables=1). */
  readonly sysctls?: Readonly<Record<string, string>>;
  /** Routes added in the node namespace, `ip route add` argument strings. */
  readonly routes?: readonly string[];
  /** An extra stand-in uplink (veth pair, both ends in the node) with this address/prefix. */
  readonly uplinkAddress?: string;
  /** An IPv6 address/prefix on that uplink too (dual-stack node; needs `uplinkAddress`). */
  readonly uplinkAddress6?: string;
  /** IPv6 pod CIDR of this node (dual-stack): its first address goes on the bridge as the pods' IPv6 gateway. */
  readonly podCIDR6?: string;
  /** iptables-save text loaded with iptables-restore (nft backend) in the node namespace. */
  readonly iptables?: string;
  /** Same, through iptables-legacy-restore. */
  readonly iptablesLegacy?: string;
  /** nft -f script loaded in the node namespace. */
  readonly nft?: string;
  /** `ipset restore` text loaded in the node namespace. */
  readonly ipsets?: string;
}

export interface LabPod {
  readonly netns: string;
  readonly ip: string;
  /** Host-side veth name in the node namespace. */
  readonly hostVeth: string;
}

export interface LabNode {
  /** Network namespace of the node. */
  readonly netns: string;
  /** Node name to use for scans (unique). */
  readonly nodeName: string;
  readonly podCIDR: string;
  readonly bridge: string | null;
  readonly gateway: string;
  readonly pods: readonly LabPod[];
  /** Runs a command inside the node namespace; rejects with stderr on failure. */
  exec(cmd: string, args: readonly string[], input?: string): Promise<string>;
  /** Runs a command inside a pod namespace. */
  execPod(index: number, cmd: string, args: readonly string[]): Promise<string>;
  destroy(): Promise<void>;
}

const live = new Set<string>();
let counter = 0;
let hooksInstalled = false;

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', () => {
    for (const ns of live) deleteNetnsSync(ns);
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      for (const ns of live) deleteNetnsSync(ns);
      // A program with its own handler (the demo) finishes its shutdown itself.
      if (process.listenerCount(sig) === 0) process.exit(130);
    });
  }
}

function deleteNetnsSync(ns: string): void {
  try {
    execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  } catch {
    // already gone
  }
  live.delete(ns);
}

export function run(cmd: string, args: readonly string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { maxBuffer: 1024 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

/**
 * Unique short token; interface names must stay within 15 characters. The creator's pid
 * (base 36) comes first and ends at a '-', which no base-36 digit is: with 'x' there, as
 * before, pid 8673 ("6ox") read back as pid 240 ("6o"), and cleanupStaleLabs, run by one
 * test file, deleted a running test's namespaces whenever pid 240 was gone.
 */
function token(): string {
  counter++;
  return `${process.pid.toString(36)}-${counter.toString(36)}${randomBytes(1).toString('hex')}`;
}

/** Namespaces made by this process start with this (tests compare only their own). */
export const OWN_PREFIX = `${LAB_PREFIX}-${process.pid.toString(36)}-`;

/** The pid of the process that made a lab namespace (undefined for a name not made here). */
export function labCreatorPid(name: string): number | undefined {
  if (!name.startsWith(`${LAB_PREFIX}-`)) return undefined;
  const pid = parseInt(name.slice(LAB_PREFIX.length + 1).split('-')[0] ?? '', 36);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

export function ipv4ToInt(ip: string): number {
  return ip.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
}

export function intToIpv4(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

export function cidrHost(cidr: string, host: number): string {
  const [base] = cidr.split('/');
  return intToIpv4(ipv4ToInt(base!) + host);
}

/** The first address of an IPv6 prefix, with the prefix length (`fd00:10:244:1::/64` → `fd00:10:244:1::1/64`). */
export function gateway6(cidr: string): string {
  const p = parsePrefix(cidr);
  if (p?.family !== 6) throw new Error(`${cidr} is not an IPv6 prefix`);
  return `${formatIp({ family: 6, v6: p.net6 + 1n })}/${p.len}`;
}

export async function createLabNode(opts: LabOptions = {}): Promise<LabNode> {
  installExitHooks();
  const id = token();
  const netns = `${LAB_PREFIX}-${id}`;
  const podCIDR = opts.podCIDR ?? '10.244.1.0/24';
  const prefix = podCIDR.split('/')[1]!;
  const bridge = opts.bridge === null ? null : (opts.bridge ?? 'cbr0');
  const gateway = cidrHost(podCIDR, 1);
  const podSpecs: readonly LabPodOptions[] = typeof opts.pods === 'number' || opts.pods === undefined
    ? Array.from({ length: opts.pods ?? 2 }, () => ({}))
    : opts.pods;
  const created: string[] = [];
  const inNode = (cmd: string, args: readonly string[], input?: string): Promise<string> =>
    run('ip', ['netns', 'exec', netns, cmd, ...args], input);

  const pods: LabPod[] = [];
  try {
    await run('ip', ['netns', 'add', netns]);
    live.add(netns);
    created.push(netns);
    await run('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
    const sysctls = opts.sysctls ?? { 'net.ipv4.ip_forward': '1', 'net.bridge.bridge-nf-call-iptables': '1' };
    for (const [k, v] of Object.entries(sysctls)) await inNode('sysctl', ['-q', '-w', `${k}=${v}`]);

    if (bridge) {
      await run('ip', ['-n', netns, 'link', 'add', bridge, 'type', 'bridge']);
      if (opts.bridgeAddress !== false) await run('ip', ['-n', netns, 'addr', 'add', `${gateway}/${prefix}`, 'dev', bridge]);
      // nodad: an address is usable at once (duplicate address detection would hold it for a second).
      if (opts.podCIDR6 && opts.bridgeAddress !== false) await run('ip', ['-n', netns, '-6', 'addr', 'add', gateway6(opts.podCIDR6), 'dev', bridge, 'nodad']);
      if (opts.bridgeUp !== false) await run('ip', ['-n', netns, 'link', 'set', bridge, 'up']);
    }
    if (opts.uplinkAddress) {
      // No dummy links on this kernel: a veth pair with both ends in the node stands in for eth0.
      await run('ip', ['-n', netns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0peer']);
      await run('ip', ['-n', netns, 'addr', 'add', opts.uplinkAddress, 'dev', 'eth0']);
      if (opts.uplinkAddress6) await run('ip', ['-n', netns, '-6', 'addr', 'add', opts.uplinkAddress6, 'dev', 'eth0', 'nodad']);
      await run('ip', ['-n', netns, 'link', 'set', 'eth0peer', 'up']);
      await run('ip', ['-n', netns, 'link', 'set', 'eth0', 'up']);
    }
    for (let i = 0; i < podSpecs.length; i++) {
      const podNs = `${netns}-p${i}`;
      await run('ip', ['netns', 'add', podNs]);
      live.add(podNs);
      created.push(podNs);
      const hostVeth = `v${id}-${i}`;
      if (hostVeth.length > 15) throw new Error(`lab interface name ${hostVeth} exceeds 15 characters`);
      const ip = cidrHost(podCIDR, 10 + i);
      await run('ip', ['-n', netns, 'link', 'add', hostVeth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', podNs]);
      if (bridge && podSpecs[i]!.attached !== false) {
        await run('ip', ['-n', netns, 'link', 'set', hostVeth, 'master', bridge]);
        if (opts.hairpin !== false) await run('ip', ['-n', netns, 'link', 'set', hostVeth, 'type', 'bridge_slave', 'hairpin', 'on']);
      }
      await run('ip', ['-n', netns, 'link', 'set', hostVeth, 'up']);
      await run('ip', ['-n', podNs, 'link', 'set', 'lo', 'up']);
      await run('ip', ['-n', podNs, 'addr', 'add', `${ip}/${prefix}`, 'dev', 'eth0']);
      await run('ip', ['-n', podNs, 'link', 'set', 'eth0', 'up']);
      if (bridge && opts.bridgeAddress !== false) await run('ip', ['-n', podNs, 'route', 'add', 'default', 'via', gateway]);
      pods.push({ netns: podNs, ip, hostVeth });
    }
    for (const r of opts.routes ?? []) await run('ip', ['-n', netns, 'route', 'add', ...r.split(/\s+/)]);
    if (opts.ipsets) await inNode('ipset', ['restore'], opts.ipsets);
    if (opts.iptables) await inNode('iptables-restore', ['-w'], opts.iptables);
    if (opts.iptablesLegacy) await inNode('iptables-legacy-restore', ['-w'], opts.iptablesLegacy);
    if (opts.nft) await loadNft(inNode, opts.nft);
  } catch (err) {
    for (const ns of created.reverse()) deleteNetnsSync(ns);
    throw err;
  }

  let destroyed = false;
  return {
    netns, nodeName: `lab-${id}`, podCIDR, bridge, gateway, pods,
    exec: inNode,
    execPod: (i, cmd, args) => run('ip', ['netns', 'exec', pods[i]!.netns, cmd, ...args]),
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      for (const p of pods) deleteNetnsSync(p.netns);
      deleteNetnsSync(netns);
    },
  };
}

async function loadNft(inNode: (c: string, a: readonly string[]) => Promise<string>, script: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'nclab-nft-'));
  try {
    const file = join(dir, 'rules.nft');
    writeFileSync(file, script);
    // Not plain `nft`: under npm/npx, PATH starts with node_modules/.bin, where ava's
    // dependency @vercel/nft installs an unrelated `nft`.
    await inNode(existsSync('/usr/sbin/nft') ? '/usr/sbin/nft' : 'nft', ['-f', file]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Lab namespaces left by a process that no longer exists (a killed test run). */
export async function cleanupStaleLabs(): Promise<string[]> {
  const out = await run('ip', ['netns', 'list']);
  const removed: string[] = [];
  for (const line of out.split('\n')) {
    const name = line.split(' ')[0] ?? '';
    if (!name.startsWith(`${LAB_PREFIX}-`) || live.has(name)) continue;
    // Names carry their creator's pid: never touch the labs of a process still running.
    const pid = labCreatorPid(name);
    if (pid !== undefined && processAlive(pid)) continue;
    removed.push(name);
    deleteNetnsSync(name);
  }
  return removed;
}

/** Network namespaces that exist now (only this process's labs with `own`). */
export async function listNetns(own = false): Promise<string[]> {
  const out = await run('ip', ['netns', 'list']);
  return out.split('\n').map((l) => l.split(' ')[0]!).filter((n) => n && (!own || n.startsWith(OWN_PREFIX))).sort();
}
