// Kubelet-shaped cgroups on the real kernel, for tests: every cgroup lives under one parent
// per test run, uniquely named (`nctest-<pid>-<random>`), in each hierarchy used; processes
// are real (node listening on real sockets inside lab namespaces) and moved in through
// cgroup.procs. destroy() kills the processes, waits for the cgroups to empty, and removes
// them children first, then the parents — also when a test failed.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readlinkSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const CGROUP_MOUNTS = {
  pids: '/sys/fs/cgroup/pids',
  systemd: '/sys/fs/cgroup/systemd',
  unified: '/sys/fs/cgroup/unified',
  /** A cgroup v2-only machine (Debian 11 and later by default) mounts the one hierarchy here. */
  v2: '/sys/fs/cgroup',
} as const;
export type Hierarchy = keyof typeof CGROUP_MOUNTS;

/** A hierarchy this machine has mounted (v1 pids, the hybrid unified one, or v2 alone), for the demo. */
export function availableHierarchy(): Hierarchy | undefined {
  return (['pids', 'unified', 'v2'] as const).find((h) => existsSync(join(CGROUP_MOUNTS[h], 'cgroup.procs')));
}

// Listens on the TCP ports of argv[1] and UDP ports of argv[2] (comma lists), then says ready.
const LISTENER = `
const net = require('node:net'), dgram = require('node:dgram');
const list = (s) => (s || '').split(',').filter(Boolean).map(Number);
const tcp = list(process.argv[1]), udp = list(process.argv[2]);
let pending = tcp.length + udp.length;
const done = () => { if (--pending <= 0) process.stdout.write('ready\\n'); };
for (const p of tcp) net.createServer().listen(p, '0.0.0.0', done);
for (const p of udp) dgram.createSocket('udp4').bind(p, '0.0.0.0', done);
if (pending === 0) process.stdout.write('ready\\n');
setInterval(() => undefined, 1 << 30);
`;

export interface KubeCgroupLab {
  readonly parent: string;
  /** Starts a process in `netns` (undefined: this one) listening on the given ports, inside cgroup `path` of `hierarchy`. */
  start(hierarchy: Hierarchy, path: string, netns: string | undefined, ports?: { tcp?: number[]; udp?: number[] }): Promise<number>;
  netnsInode(pid: number): number;
  destroy(): Promise<void>;
}

export function createKubeCgroupLab(): KubeCgroupLab {
  const parent = `nctest-${process.pid}-${randomBytes(3).toString('hex')}`;
  const made: string[] = []; // absolute cgroup dirs, in creation order
  const children: ChildProcess[] = [];
  const mkdirs = (hierarchy: Hierarchy, path: string): string => {
    let dir = join(CGROUP_MOUNTS[hierarchy], parent);
    for (const seg of ['', ...path.split('/').filter(Boolean)]) {
      dir = seg ? join(dir, seg) : dir;
      if (!existsSync(dir)) {
        mkdirSync(dir);
        made.push(dir);
      }
    }
    return dir;
  };
  const killAll = (): void => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  };
  process.on('exit', killAll);
  return {
    parent,
    async start(hierarchy, path, netns, ports = {}) {
      const dir = mkdirs(hierarchy, path);
      const args = ['-e', LISTENER, (ports.tcp ?? []).join(','), (ports.udp ?? []).join(',')];
      const child = netns ? spawn('ip', ['netns', 'exec', netns, process.execPath, ...args]) : spawn(process.execPath, args);
      children.push(child);
      await new Promise<void>((resolve, reject) => {
        let out = '', err = '';
        child.stdout!.on('data', (d: Buffer) => { out += d.toString(); if (out.includes('ready')) resolve(); });
        child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
        child.on('exit', (code) => reject(new Error(`listener exited (${code}): ${err}`)));
      });
      const pid = child.pid!;
      // `ip netns exec` execs node in place: the pid is the listener's own.
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'node') throw new Error(`pid ${pid} is not the listener`);
      writeFileSync(join(dir, 'cgroup.procs'), `${pid}\n`);
      return pid;
    },
    netnsInode(pid) {
      return Number(/\[(\d+)\]/.exec(readlinkSync(`/proc/${pid}/ns/net`))![1]);
    },
    async destroy() {
      killAll();
      await Promise.all(children.map((c) => (c.exitCode !== null || c.signalCode !== null ? undefined : new Promise((r) => c.once('exit', r)))));
      for (const dir of [...made].reverse()) {
        // A killed process leaves its cgroup a moment after it is reaped.
        for (let i = 0; i < 50; i++) {
          try {
            rmdirSync(dir);
            break;
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code === 'ENOENT') break;
            await new Promise((r) => setTimeout(r, 20));
            if (i === 49) throw err;
          }
        }
      }
      process.off('exit', killAll);
    },
  };
}
