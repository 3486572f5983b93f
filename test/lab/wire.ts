// Real packets through a lab node's Service dataplane. Around a lab node (see lab.ts) this
// builds the rest of a small cluster on the real kernel:
//
//   client pod ──┐                       node-b netns (underlay 10.250.7.2): every
//   endpoint pod ┴─ cbr0 ── node ── veth ─ endpoint of another node, addresses on lo
//   (every local endpoint                  (10.244.2.0/24 routed to it)
//    address on its eth0)   │
//                        eth0 ── outside netns (192.168.50.100): a client off the cluster
//
// One echo process per namespace answers on every endpoint address and port with the
// address it was reached on (`by`) and the source it saw (`src`); a client process in the
// client pod (or outside) opens many connections (TCP) or sends from many sockets (UDP) and
// counts who answered. Namespaces go with the lab (unique names, deleted on teardown).
// With `ipv6`, the same namespaces carry IPv6 addresses and routes as well (a dual-stack node).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { run, type LabNode } from './lab.js';

// UDP: after DNAT the client cannot know which endpoint it reached, and IP_PKTINFO is not
// exposed to Node: the echo binds one UDP socket per endpoint address, so the answer names it.
const ECHO_UDP_PER_ADDR = `
const net = require('node:net'), dgram = require('node:dgram');
const { tcp, udp, addrs, v6 } = JSON.parse(process.argv[1]);
const line = (by, src) => JSON.stringify({ by: by.replace(/^::ffff:/, ''), src: src.replace(/^::ffff:/, '') }) + '\\n';
let pending = tcp.length + udp.length * addrs.length;
const up = () => { if (--pending === 0) process.stdout.write('ready\\n'); };
for (const p of tcp) {
  net.createServer((s) => { s.on('error', () => {}); s.end(line(s.localAddress, s.remoteAddress)); }).listen(p, v6 ? '::' : '0.0.0.0', up);
}
for (const p of udp) for (const a of addrs) {
  const u = dgram.createSocket({ type: a.includes(':') ? 'udp6' : 'udp4' });
  u.bind(p, a, up);
  u.on('message', (m, r) => u.send(line(a, r.address), r.port, r.address));
}
`;

const CLIENT = `
const net = require('node:net'), dgram = require('node:dgram');
const targets = JSON.parse(process.argv[1]);
const timeout = 3000;
function once(t) {
  return new Promise((resolve) => {
    let done = false, buf = '';
    const finish = (r) => { if (!done) { done = true; resolve(r); } };
    if (t.proto === 'udp') {
      const u = dgram.createSocket(t.host.includes(':') ? 'udp6' : 'udp4');
      const timer = setTimeout(() => { u.close(); finish({ error: 'timeout' }); }, timeout);
      u.on('message', (m) => { clearTimeout(timer); u.close(); try { finish(JSON.parse(String(m))); } catch { finish({ error: 'bad reply' }); } });
      u.on('error', (e) => { clearTimeout(timer); try { u.close(); } catch {} finish({ error: e.code || e.message }); });
      u.send('x', t.port, t.host);
      return;
    }
    const s = net.connect({ host: t.host, port: t.port });
    s.setTimeout(timeout, () => { s.destroy(); finish({ error: 'timeout' }); });
    s.on('data', (d) => { buf += d; });
    s.on('end', () => { try { finish(JSON.parse(buf)); } catch { finish({ error: 'bad reply' }); } });
    s.on('error', (e) => finish({ error: e.code || e.message }));
  });
}
(async () => {
  const out = {};
  for (const t of targets) {
    const r = { by: {}, src: {}, errors: {} };
    let next = 0;
    const worker = async () => {
      while (next < t.n) {
        next++;
        const a = await once(t);
        if (a.error) r.errors[a.error] = (r.errors[a.error] || 0) + 1;
        else { r.by[a.by] = (r.by[a.by] || 0) + 1; r.src[a.src] = (r.src[a.src] || 0) + 1; }
      }
    };
    await Promise.all(Array.from({ length: t.concurrency || 16 }, worker));
    out[t.id] = r;
  }
  process.stdout.write(JSON.stringify(out));
})();
`;

export interface WireTarget {
  readonly id: string;
  readonly proto: 'tcp' | 'udp';
  readonly host: string;
  readonly port: number;
  /** Connections (TCP) or datagrams from fresh sockets (UDP). */
  readonly n: number;
  /** Concurrent connections (1 for session-affinity checks, so the first one sets the affinity). */
  readonly concurrency?: number;
}

export interface WireTally {
  /** Answers per endpoint address that answered. */
  readonly by: Readonly<Record<string, number>>;
  /** Answers per source address the endpoint saw. */
  readonly src: Readonly<Record<string, number>>;
  /** Failures by kind (ECONNREFUSED for a REJECT, timeout for a DROP). */
  readonly errors: Readonly<Record<string, number>>;
}

export interface WireLab {
  /** Client pod (on the node's bridge) and the outside client. */
  readonly clientPodIP: string;
  readonly outsideIP: string;
  /** Runs the targets from the client pod, or from outside the node. */
  fromPod(targets: readonly WireTarget[]): Promise<Record<string, WireTally>>;
  fromOutside(targets: readonly WireTarget[]): Promise<Record<string, WireTally>>;
  stop(): Promise<void>;
}

export interface WireOptions {
  /** Addresses of this node's endpoints (in its pod CIDR). */
  readonly localEndpoints: readonly string[];
  /** Addresses of other nodes' endpoints (all in `remoteCIDR`). */
  readonly remoteEndpoints: readonly string[];
  readonly remoteCIDR: string;
  readonly tcpPorts: readonly number[];
  readonly udpPorts: readonly number[];
  /** A free address of the node's pod CIDR for the client pod. */
  readonly clientPodIP: string;
  /** The outside client's address, on the node's uplink network. */
  readonly outsideIP: string;
  /** The node's uplink address (the outside client's gateway). */
  readonly nodeIP: string;
  /** Short tag for interface names (unique per concurrent use). */
  readonly tag: string;
  /**
   * A dual-stack lab (a node created with podCIDR6 and uplinkAddress6): the same pods get
   * IPv6 addresses too, node-b an IPv6 underlay, the outside client an IPv6 address, and
   * the echoes answer on IPv6 (TCP on both families, UDP per address).
   */
  readonly ipv6?: Pick<WireOptions, 'localEndpoints' | 'remoteEndpoints' | 'remoteCIDR' | 'clientPodIP' | 'outsideIP' | 'nodeIP'> & {
    /** The node's IPv6 pod CIDR prefix length and gateway (the bridge's IPv6 address). */
    readonly podPrefixLength: number;
    readonly gateway: string;
  };
}

const procs = new Set<ChildProcess>();
process.on('exit', () => { for (const p of procs) { try { p.kill('SIGKILL'); } catch { /* gone */ } } });

async function startIn(netns: string, script: string, arg: unknown): Promise<ChildProcess> {
  const child = spawn('ip', ['netns', 'exec', netns, process.execPath, '-e', script, JSON.stringify(arg)], { stdio: ['ignore', 'pipe', 'pipe'] });
  procs.add(child);
  child.once('exit', () => procs.delete(child));
  await new Promise<void>((resolve, reject) => {
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout!.on('data', (d: Buffer) => void (d.toString().includes('ready') && resolve()));
    child.once('exit', (code) => reject(new Error(`echo in ${netns} exited ${code}: ${err}`)));
  });
  return child;
}

/**
 * Builds the client pod, the endpoint pod, node-b and the outside client around `lab`
 * (created with `uplinkAddress`, whose peer end `eth0peer` moves to the outside namespace).
 */
export async function createWireLab(lab: LabNode, o: WireOptions): Promise<WireLab> {
  const prefix = lab.podCIDR.split('/')[1]!;
  const names = { client: `${lab.netns}-wc`, eps: `${lab.netns}-we`, b: `${lab.netns}-wb`, out: `${lab.netns}-wo` };
  const made: string[] = [];
  const children: ChildProcess[] = [];
  const del = (): void => { for (const n of made.reverse()) { try { execFileSync('ip', ['netns', 'del', n], { stdio: 'ignore' }); } catch { /* gone */ } } };
  process.once('exit', del);
  const ipn = (ns: string, ...args: string[]): Promise<string> => run('ip', ['-n', ns, ...args]);
  try {
    for (const n of Object.values(names)) { await run('ip', ['netns', 'add', n]); made.push(n); await ipn(n, 'link', 'set', 'lo', 'up'); }
    // Two pods on the bridge: the client, and one pod holding every local endpoint address.
    for (const [ns, ips, veth] of [[names.client, [o.clientPodIP], `wc${o.tag}`], [names.eps, o.localEndpoints, `we${o.tag}`]] as const) {
      await ipn(lab.netns, 'link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
      await ipn(lab.netns, 'link', 'set', veth, 'master', lab.bridge ?? 'cbr0');
      await ipn(lab.netns, 'link', 'set', veth, 'type', 'bridge_slave', 'hairpin', 'on');
      await ipn(lab.netns, 'link', 'set', veth, 'up');
      for (const ip of ips) await ipn(ns, 'addr', 'add', `${ip}/${prefix}`, 'dev', 'eth0');
      await ipn(ns, 'link', 'set', 'eth0', 'up');
      await ipn(ns, 'route', 'add', 'default', 'via', lab.gateway);
    }
    // node-b: the other node's endpoints, over a veth underlay.
    const ua = `ua${o.tag}`, ub = `ub${o.tag}`;
    await ipn(lab.netns, 'link', 'add', ua, 'type', 'veth', 'peer', 'name', ub, 'netns', names.b);
    await ipn(lab.netns, 'addr', 'add', '10.250.7.1/24', 'dev', ua);
    await ipn(names.b, 'addr', 'add', '10.250.7.2/24', 'dev', ub);
    await ipn(lab.netns, 'link', 'set', ua, 'up');
    await ipn(names.b, 'link', 'set', ub, 'up');
    await ipn(lab.netns, 'route', 'add', o.remoteCIDR, 'via', '10.250.7.2');
    await ipn(names.b, 'route', 'add', 'default', 'via', '10.250.7.1');
    for (const ip of o.remoteEndpoints) await ipn(names.b, 'addr', 'add', `${ip}/32`, 'dev', 'lo');
    // The outside client: the node's uplink peer moves out of the node.
    await ipn(lab.netns, 'link', 'set', 'eth0peer', 'netns', names.out);
    await ipn(names.out, 'addr', 'add', `${o.outsideIP}/24`, 'dev', 'eth0peer');
    await ipn(names.out, 'link', 'set', 'eth0peer', 'up');
    // Off-cluster traffic to Service addresses (externalIPs, load-balancer IPs) is routed to the node.
    await ipn(names.out, 'route', 'add', 'default', 'via', o.nodeIP, 'dev', 'eth0peer');
    // As on a real node: a default route (else a Service address is unroutable before any
    // rule sees it), and no ICMP rate limit, so every REJECT of a burst answers (per netns).
    await ipn(lab.netns, 'route', 'add', 'default', 'via', o.outsideIP, 'dev', 'eth0');
    await lab.exec('sysctl', ['-q', '-w', 'net.ipv4.icmp_ratelimit=0']);
    const v6 = o.ipv6;
    if (v6) {
      // nodad everywhere: an address is usable at once, not after a second of duplicate detection.
      const add6 = (ns: string, cidr: string, dev: string): Promise<string> => ipn(ns, '-6', 'addr', 'add', cidr, 'dev', dev, 'nodad');
      await add6(names.client, `${v6.clientPodIP}/${v6.podPrefixLength}`, 'eth0');
      for (const ip of v6.localEndpoints) await add6(names.eps, `${ip}/${v6.podPrefixLength}`, 'eth0');
      for (const ns of [names.client, names.eps]) await ipn(ns, '-6', 'route', 'add', 'default', 'via', v6.gateway);
      await add6(lab.netns, 'fd00:250:7::1/64', ua);
      await add6(names.b, 'fd00:250:7::2/64', ub);
      await ipn(lab.netns, '-6', 'route', 'add', v6.remoteCIDR, 'via', 'fd00:250:7::2');
      await ipn(names.b, '-6', 'route', 'add', 'default', 'via', 'fd00:250:7::1');
      for (const ip of v6.remoteEndpoints) await add6(names.b, `${ip}/128`, 'lo');
      await add6(names.out, `${v6.outsideIP}/64`, 'eth0peer');
      await ipn(names.out, '-6', 'route', 'add', 'default', 'via', v6.nodeIP, 'dev', 'eth0peer');
      await ipn(lab.netns, '-6', 'route', 'add', 'default', 'via', v6.outsideIP, 'dev', 'eth0');
      await lab.exec('sysctl', ['-q', '-w', 'net.ipv6.icmp.ratelimit=0']);
    }

    children.push(await startIn(names.eps, ECHO_UDP_PER_ADDR, { tcp: o.tcpPorts, udp: o.udpPorts, addrs: [...o.localEndpoints, ...(v6?.localEndpoints ?? [])], v6: !!v6 }));
    children.push(await startIn(names.b, ECHO_UDP_PER_ADDR, { tcp: o.tcpPorts, udp: o.udpPorts, addrs: [...o.remoteEndpoints, ...(v6?.remoteEndpoints ?? [])], v6: !!v6 }));
  } catch (err) {
    for (const c of children) c.kill('SIGKILL');
    del();
    throw err;
  }
  const client = async (ns: string, targets: readonly WireTarget[]): Promise<Record<string, WireTally>> =>
    JSON.parse(await run('ip', ['netns', 'exec', ns, process.execPath, '-e', CLIENT, JSON.stringify(targets)])) as Record<string, WireTally>;
  return {
    clientPodIP: o.clientPodIP, outsideIP: o.outsideIP,
    fromPod: (t) => client(names.client, t),
    fromOutside: (t) => client(names.out, t),
    async stop() {
      for (const c of children) {
        if (c.exitCode !== null || c.signalCode !== null) continue;
        const gone = new Promise<void>((r) => c.once('exit', () => r()));
        c.kill('SIGKILL');
        await gone;
      }
      del();
      process.removeListener('exit', del);
    },
  };
}
