// The `pods` facet: the node's processes grouped by pod and container (from their cgroup
// paths), the network namespace each is in (/proc/<pid>/ns/net), and the listening sockets
// of every namespace a pod process is in (read through one of its processes, since
// /proc/<pid>/net/* shows that process's namespace). The host's /proc is read through
// `--proc-root` (a read-only hostPath in the DaemonSet); `<proc-root>/self` is the agent,
// which runs in the node's network namespace, so its namespace is the node's (hostNetwork).
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../../common/errors.js';
import { parseProcCgroup, type CgroupDriver } from './kubepods-cgroup.js';
import { PROC_NET_FILES, parseProcNetSockets, type ListeningSocket } from './proc-net-sockets.js';

export interface PodProcess {
  readonly pid: number;
  /** Network namespace inode (`net:[N]`); 0 when /proc/<pid>/ns/net could not be read. */
  readonly netns: number;
}

export interface ContainerProcesses {
  readonly podUID: string;
  /** The runtime's container id from the cgroup path (the pod sandbox's too). */
  readonly containerID: string;
  readonly driver: CgroupDriver;
  readonly runtime: string;
  readonly processes: readonly PodProcess[];
}

export interface NetnsSockets {
  readonly inode: number;
  /** The process whose /proc/<pid>/net/* was read for this namespace. */
  readonly readVia: number;
  readonly listening: readonly ListeningSocket[];
}

export interface PodProcessFacts {
  readonly procRoot: string;
  /** The node's own network namespace (hostNetwork pods live there); 0 when unreadable. */
  readonly hostNetns: number;
  /** One entry per pod UID + container id, sorted by both. */
  readonly containers: readonly ContainerProcesses[];
  /** Every distinct namespace of a pod process, and the node's. */
  readonly netns: readonly NetnsSockets[];
  /** Pod processes whose ns/net link was not readable (the agent lacks CAP_SYS_PTRACE?). */
  readonly unreadableNetns: number;
}

const NETNS_LINK = /^net:\[(\d+)\]$/;

/** Reads a netns link; 0 when it cannot be read (a process that exited, or no permission). */
function readNetns(path: string): number {
  try {
    const m = NETNS_LINK.exec(readlinkSync(path));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined; // the process exited while we read
  }
}

/**
 * Reads the pods facet from `procRoot`. Synchronous on purpose: these are small procfs
 * reads (one cgroup file per process, four socket tables per namespace), faster without
 * the promise round trips; a process that exits mid-read is simply not counted.
 */
export function readPodProcesses(procRoot = '/proc'): PodProcessFacts {
  let entries: string[];
  try {
    entries = readdirSync(procRoot);
  } catch (err) {
    throw new InputError(procRoot, `cannot list --proc-root: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const byContainer = new Map<string, { podUID: string; containerID: string; driver: CgroupDriver; runtime: string; processes: PodProcess[] }>();
  let unreadable = 0;
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    const text = readText(join(procRoot, name, 'cgroup'));
    if (text === undefined) continue;
    const cg = parseProcCgroup(text);
    if (!cg) continue;
    const netns = readNetns(join(procRoot, name, 'ns', 'net'));
    if (netns === 0) unreadable++;
    const key = `${cg.podUID}/${cg.containerID}`;
    let c = byContainer.get(key);
    if (!c) byContainer.set(key, (c = { ...cg, processes: [] }));
    c.processes.push({ pid: Number(name), netns });
  }
  const hostNetns = readNetns(join(procRoot, 'self', 'ns', 'net'));
  const containers = [...byContainer.values()].sort((a, b) => a.podUID.localeCompare(b.podUID) || a.containerID.localeCompare(b.containerID));
  for (const c of containers) c.processes.sort((a, b) => a.pid - b.pid);

  // Each namespace is read through one of its processes (the node's through `self`); when
  // that one exits meanwhile, the next one of the same namespace is tried.
  const readers = new Map<number, string[]>();
  if (hostNetns !== 0) readers.set(hostNetns, ['self']);
  for (const c of containers) {
    for (const p of c.processes) {
      if (p.netns === 0) continue;
      const l = readers.get(p.netns);
      if (l) l.push(String(p.pid));
      else readers.set(p.netns, [String(p.pid)]);
    }
  }
  const netns: NetnsSockets[] = [];
  for (const [inode, candidates] of readers) {
    for (const via of candidates) {
      const listening = readListening(join(procRoot, via, 'net'));
      if (!listening) continue;
      netns.push({ inode, readVia: via === 'self' ? 0 : Number(via), listening });
      break;
    }
  }
  netns.sort((a, b) => a.inode - b.inode);
  return { procRoot, hostNetns, containers, netns, unreadableNetns: unreadable };
}

/**
 * The listening sockets of one namespace's net dir; undefined when its process went away.
 * Every read of a tcp/tcp6 table walks the kernel's whole TCP established hash (global,
 * sized by RAM: milliseconds per read), so a table the namespace's own `sockstat` counts
 * as empty (`TCP: inuse 0`, per namespace) is not read at all.
 */
function readListening(netDir: string): ListeningSocket[] | undefined {
  const inUse = new Map<string, number>();
  for (const f of ['sockstat', 'sockstat6']) {
    for (const m of (readText(join(netDir, f)) ?? '').matchAll(/^(TCP6?|UDP6?): inuse (\d+)/gm)) inUse.set(m[1]!, Number(m[2]));
  }
  const out: ListeningSocket[] = [];
  let any = inUse.size > 0;
  for (const f of PROC_NET_FILES) {
    if (inUse.get(`${f.protocol}${f.family === 6 ? '6' : ''}`) === 0) continue;
    const path = join(netDir, f.file);
    const text = readText(path);
    if (text === undefined) continue; // tcp6/udp6 are absent when IPv6 is disabled
    any = true;
    out.push(...parseProcNetSockets(text, f.protocol, f.family, path));
  }
  if (!any) return undefined;
  const seen = new Set<string>();
  return out
    .filter((s) => { const k = `${s.protocol}/${s.family}/${s.address}/${s.port}`; if (seen.has(k)) return false; seen.add(k); return true; })
    .sort((a, b) => a.protocol.localeCompare(b.protocol) || a.port - b.port || a.family - b.family || a.address.localeCompare(b.address));
}
