// What a kube-proxy mode switch depends on beyond the rules themselves, read on the node:
//   conntrack     `conntrack -L -f ipv4|ipv6 --dst-nat` → conntrack.txt, conntrack6.txt
//                 (DNATed connections only: Service and NodePort traffic, localhost NodePorts
//                 included; a busy node's full table would be hundreds of MB per read)
//   connections   /proc/net/tcp, /proc/net/tcp6        → proc-net-tcp.txt, proc-net-tcp6.txt
//                 (the node's own client sockets to loopback addresses: localhost NodePort users)
//   nft version   `nft --version`                      → nft-version.txt
//   kube-proxy    /configz on kube-proxy's metrics port → kube-proxy-configz.json
// Every file is optional; a missing tool or an unreachable kube-proxy leaves its facet
// absent (the migration report then says the fact is unknown), a malformed file is an
// InputError naming the file and line. The agent only reads: no rule, no sysctl is changed.
import { readFileSync } from 'node:fs';
import { bundleWriter } from './bundle-writer.js';
import { join } from 'node:path';
import { InputError } from '../../common/errors.js';
import type { NodeSnapshot } from '../snapshot.js';
import { CONNTRACK_FILES, formatConntrackList, isLoopback, mergeConntrack, parseConntrackList, type ConntrackFacts } from './conntrack.js';
import { parseProcNetConnections, type ConnectedSocket } from './proc-net-sockets.js';
import { KUBE_PROXY_CONFIGZ_FILE, configzUrlFor, parseKubeProxyConfigz, type KubeProxyConfigFacts } from './kube-proxy-config.js';
import { fetchMetricsText, fetchMetricsTextInNetns } from './kube-proxy.js';
import { DEFAULT_TOOL_TIMEOUT_MS, runToolWithDeadline, systemTool } from './tool.js';
import { parseIp } from '../dataplane/addr.js';

export const PROXY_HOST_FILES = {
  ...CONNTRACK_FILES,
  tcp: 'proc-net-tcp.txt',
  tcp6: 'proc-net-tcp6.txt',
  nftVersion: 'nft-version.txt',
  configz: KUBE_PROXY_CONFIGZ_FILE,
} as const;

export interface ProxyHostFacets {
  conntrack?: ConntrackFacts;
  hostConnections?: ConnectedSocket[];
  nftVersion?: string;
  kubeProxyConfig?: KubeProxyConfigFacts;
}

/** `nftables v1.0.9 (Old Doc Yybbs)` → `1.0.9`. */
export function parseNftVersion(text: string, file: string): string {
  const first = text.split('\n').find((l) => l.trim() !== '') ?? '';
  const m = /^nftables v(\d+\.\d+(?:\.\d+)?)/.exec(first.trim());
  if (!m) throw new InputError(file, `expected "nftables vX.Y.Z …" (nft --version), got ${JSON.stringify(first.slice(0, 80))}`, 1);
  return m[1]!;
}

const parseConnections = (text: string, family: 4 | 6, file: string): ConnectedSocket[] => parseProcNetConnections(text, family, file, isLoopback);

export function readProxyHostBundle(dir: string, read: (dir: string, name: string) => string | undefined): ProxyHostFacets {
  const F = PROXY_HOST_FILES;
  const out: ProxyHostFacets = {};
  const ct4 = read(dir, F.v4), ct6 = read(dir, F.v6);
  const ct = mergeConntrack(ct4 !== undefined ? parseConntrackList(ct4, join(dir, F.v4)) : undefined, ct6 !== undefined ? parseConntrackList(ct6, join(dir, F.v6)) : undefined);
  if (ct) out.conntrack = ct;
  const tcp = read(dir, F.tcp), tcp6 = read(dir, F.tcp6);
  if (tcp !== undefined || tcp6 !== undefined) {
    out.hostConnections = [
      ...(tcp !== undefined ? parseConnections(tcp, 4, join(dir, F.tcp)) : []),
      ...(tcp6 !== undefined ? parseConnections(tcp6, 6, join(dir, F.tcp6)) : []),
    ];
  }
  const nft = read(dir, F.nftVersion);
  if (nft !== undefined) out.nftVersion = parseNftVersion(nft, join(dir, F.nftVersion));
  const configz = read(dir, F.configz);
  if (configz !== undefined) out.kubeProxyConfig = { ...parseKubeProxyConfigz(configz, join(dir, F.configz)), text: configz };
  return out;
}

/** Hex of an address in /proc/net/tcp's byte order (each 32-bit word little-endian). */
function procHex(ip: string, port: number): string {
  const p = parseIp(ip);
  const bytes: number[] = [];
  if (p?.family === 4) for (let i = 3; i >= 0; i--) bytes.push((p.v4 >>> (i * 8)) & 0xff);
  if (p?.family === 6) for (let i = 15; i >= 0; i--) bytes.push(Number((p.v6 >> BigInt(i * 8)) & 0xffn));
  let hex = '';
  for (let w = 0; w < bytes.length; w += 4) for (let b = 3; b >= 0; b--) hex += bytes[w + b]!.toString(16).padStart(2, '0').toUpperCase();
  return `${hex}:${port.toString(16).padStart(4, '0').toUpperCase()}`;
}

const STATE_CODES: Readonly<Record<string, string>> = { ESTABLISHED: '01', SYN_SENT: '02', FIN_WAIT1: '04', FIN_WAIT2: '05', TIME_WAIT: '06', CLOSE_WAIT: '08', LAST_ACK: '09', CLOSING: '0B' };

function formatProcNetTcp(conns: readonly ConnectedSocket[], family: 4 | 6): string {
  const head = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';
  return head + conns.filter((c) => c.family === family).map((c, i) =>
    `${String(i).padStart(4)}: ${procHex(c.local, c.localPort)} ${procHex(c.remote, c.remotePort)} ${STATE_CODES[c.state] ?? '01'} 00000000:00000000 00:00000000 00000000     0        0 0\n`).join('');
}

export function writeProxyHostBundle(dir: string, s: NodeSnapshot): string[] {
  const F = PROXY_HOST_FILES;
  const { put, written } = bundleWriter(dir);
  if (s.conntrack) {
    put(F.v4, formatConntrackList(s.conntrack, 4));
    put(F.v6, formatConntrackList(s.conntrack, 6));
  }
  if (s.hostConnections) {
    put(F.tcp, formatProcNetTcp(s.hostConnections, 4));
    put(F.tcp6, formatProcNetTcp(s.hostConnections, 6));
  }
  if (s.nftVersion) put(F.nftVersion, `nftables v${s.nftVersion}\n`);
  if (s.kubeProxyConfig?.text !== undefined) put(F.configz, s.kubeProxyConfig.text);
  return written;
}

/** One source for live reads and capture: both families, DNATed entries only. */
const CONNTRACK_ARGS = { v4: ['-L', '-f', 'ipv4', '--dst-nat'], v6: ['-L', '-f', 'ipv6', '--dst-nat'] } as const;

/** Tool runs whose stdout `capture` keeps verbatim as bundle files (the tools' own output). */
export const PROXY_HOST_TOOL_FILES: readonly { readonly file: string; readonly cmd: string; readonly args: readonly string[] }[] = [
  { file: PROXY_HOST_FILES.v4, cmd: 'conntrack', args: CONNTRACK_ARGS.v4 },
  { file: PROXY_HOST_FILES.v6, cmd: 'conntrack', args: CONNTRACK_ARGS.v6 },
  { file: PROXY_HOST_FILES.tcp, cmd: 'cat', args: ['/proc/net/tcp'] },
  { file: PROXY_HOST_FILES.tcp6, cmd: 'cat', args: ['/proc/net/tcp6'] },
  { file: PROXY_HOST_FILES.nftVersion, cmd: 'nft', args: ['--version'] },
];

let nftVersionRead: Promise<string | undefined> | undefined;

/** Reads the facets live, in the agent's network namespace (hostNetwork: the node's). */
export async function readProxyHostLive(opts: { readonly kubeProxyMetricsUrl?: string; readonly netns?: string; readonly toolTimeoutMs?: number }): Promise<ProxyHostFacets> {
  const timeoutMs = opts.toolTimeoutMs ?? DEFAULT_TOOL_TIMEOUT_MS;
  const tool = async (cmd: string, args: readonly string[]): Promise<string | undefined> => {
    const r = await runToolWithDeadline(systemTool(cmd), args, { timeoutMs, env: { ...process.env, LC_ALL: 'C' }, maxBytes: 512 * 1024 * 1024 });
    return r.ok ? r.out : undefined;
  };
  const out: ProxyHostFacets = {};
  // The agent's own nft cannot change while it runs: asked until it answers, not on every scan.
  nftVersionRead ??= tool('nft', ['--version']);
  const [ct4, ct6, nft] = await Promise.all([tool('conntrack', CONNTRACK_ARGS.v4), tool('conntrack', CONNTRACK_ARGS.v6), nftVersionRead]);
  if (nft === undefined) nftVersionRead = undefined;
  const ct = mergeConntrack(ct4 !== undefined ? parseConntrackList(ct4, `conntrack ${CONNTRACK_ARGS.v4.join(' ')}`) : undefined, ct6 !== undefined ? parseConntrackList(ct6, `conntrack ${CONNTRACK_ARGS.v6.join(' ')}`) : undefined);
  if (ct) out.conntrack = ct;
  if (nft !== undefined) out.nftVersion = parseNftVersion(nft, 'nft --version');
  const conns: ConnectedSocket[] = [];
  let readAny = false;
  for (const [file, family] of [['/proc/net/tcp', 4], ['/proc/net/tcp6', 6]] as const) {
    try {
      conns.push(...parseConnections(readFileSync(file, 'utf8'), family, file));
      readAny = true;
    } catch (err) {
      if (err instanceof InputError) throw err;
    }
  }
  if (readAny) out.hostConnections = conns;
  if (opts.kubeProxyMetricsUrl) {
    const url = configzUrlFor(opts.kubeProxyMetricsUrl);
    const r = opts.netns ? await fetchMetricsTextInNetns(opts.netns, url) : await fetchMetricsText(url);
    // kube-proxy without /configz (or not reachable) leaves the facet absent: kube-proxy's
    // defaults are then stated as assumptions in the report, not read as facts.
    if ('text' in r) {
      try {
        out.kubeProxyConfig = { ...parseKubeProxyConfigz(r.text, url), text: r.text };
      } catch {
        // Not kube-proxy's /configz: absent, as above.
      }
    }
  }
  return out;
}
