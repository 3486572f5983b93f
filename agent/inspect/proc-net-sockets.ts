// /proc/<pid>/net/{tcp,tcp6,udp,udp6}: the sockets of that process's network namespace, one
// line each — `sl local_address rem_address st …`, addresses as hex in the kernel's byte
// order (each 32-bit word little-endian on the machines Kubernetes runs on), ports as hex.
// A TCP socket listens in state 0A (LISTEN); a UDP socket "listens" when it is bound and
// unconnected (state 07, remote port 0) — what a UDP server's socket looks like.
import { InputError } from '../../common/errors.js';

export type SocketProtocol = 'TCP' | 'UDP';

export interface ListeningSocket {
  readonly protocol: SocketProtocol;
  readonly family: 4 | 6;
  readonly address: string;
  readonly port: number;
}

export const PROC_NET_FILES: readonly { readonly file: string; readonly protocol: SocketProtocol; readonly family: 4 | 6 }[] = [
  { file: 'tcp', protocol: 'TCP', family: 4 },
  { file: 'tcp6', protocol: 'TCP', family: 6 },
  { file: 'udp', protocol: 'UDP', family: 4 },
  { file: 'udp6', protocol: 'UDP', family: 6 },
];

const TCP_LISTEN = '0A';
const UDP_UNCONNECTED = '07';

/** The listening sockets of one /proc/net/{tcp,udp}[6] file; `file` names it in errors. */
export function parseProcNetSockets(text: string, protocol: SocketProtocol, family: 4 | 6, file: string): ListeningSocket[] {
  const out: ListeningSocket[] = [];
  for (const { local, remote, state, lineNo } of socketRows(text, file)) {
    const i = lineNo - 1;
    const wanted = protocol === 'TCP' ? state === TCP_LISTEN : state === UDP_UNCONNECTED && remote.endsWith(':0000');
    if (!wanted) continue;
    const [addrHex, portHex] = local.split(':');
    if (!addrHex || !portHex || !/^[0-9A-Fa-f]+$/.test(portHex)) throw new InputError(file, `bad local_address "${local}"`, i + 1);
    out.push({ protocol, family, address: hexAddress(addrHex, family, file, i + 1), port: parseInt(portHex, 16) });
  }
  return out;
}

/** The rows after the header: each socket's local and remote address and state, with its line number. */
function* socketRows(text: string, file: string): Generator<{ local: string; remote: string; state: string; lineNo: number }> {
  const lines = text.split('\n');
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    const f = line.split(/\s+/);
    const local = f[1], remote = f[2], state = f[3];
    if (!local || !remote || !state) throw new InputError(file, 'expected "sl local_address rem_address st …"', i + 1);
    yield { local, remote, state, lineNo: i + 1 };
  }
}

function hexAddress(hex: string, family: 4 | 6, file: string, line: number): string {
  const want = family === 4 ? 8 : 32;
  if (hex.length !== want || !/^[0-9A-Fa-f]+$/.test(hex)) throw new InputError(file, `bad IPv${family} address "${hex}"`, line);
  // Each 32-bit word is stored little-endian: reverse its bytes.
  const bytes: number[] = [];
  for (let w = 0; w < hex.length; w += 8) {
    for (let b = 6; b >= 0; b -= 2) bytes.push(parseInt(hex.slice(w + b, w + b + 2), 16));
  }
  if (family === 4) return bytes.join('.');
  const groups: string[] = [];
  for (let g = 0; g < 16; g += 2) groups.push(((bytes[g]! << 8) | bytes[g + 1]!).toString(16));
  return compressIpv6(groups);
}

function compressIpv6(groups: string[]): string {
  // The longest run of zero groups (two or more) becomes '::', as RFC 5952 spells it.
  let best = -1, bestLen = 1;
  for (let i = 0; i < groups.length;) {
    if (groups[i] !== '0') { i++; continue; }
    let j = i;
    while (j < groups.length && groups[j] === '0') j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

/** A connected TCP socket of the node's own network namespace (a client, not a listener). */
export interface ConnectedSocket {
  readonly family: 4 | 6;
  readonly local: string;
  readonly localPort: number;
  readonly remote: string;
  readonly remotePort: number;
  /** ESTABLISHED, SYN_SENT, … (kernel TCP state names). */
  readonly state: string;
}

/** /proc/net/tcp state codes (include/net/tcp_states.h) a client socket can be in. */
const TCP_CLIENT_STATES: Readonly<Record<string, string>> = {
  '01': 'ESTABLISHED', '02': 'SYN_SENT', '04': 'FIN_WAIT1', '05': 'FIN_WAIT2', '06': 'TIME_WAIT', '08': 'CLOSE_WAIT', '09': 'LAST_ACK', '0B': 'CLOSING',
};

/** Connected TCP sockets of one /proc/net/tcp[6] file for which `keep(remote)` holds. */
export function parseProcNetConnections(text: string, family: 4 | 6, file: string, keep: (remote: string) => boolean): ConnectedSocket[] {
  const out: ConnectedSocket[] = [];
  for (const { local, remote, state, lineNo } of socketRows(text, file)) {
    const i = lineNo - 1;
    const stateName = TCP_CLIENT_STATES[state.toUpperCase()];
    if (!stateName) continue;
    const [lh, lp] = local.split(':'), [rh, rp] = remote.split(':');
    if (!lh || !lp || !rh || !rp || !/^[0-9A-Fa-f]+$/.test(lp) || !/^[0-9A-Fa-f]+$/.test(rp)) throw new InputError(file, `bad address pair "${local} ${remote}"`, i + 1);
    const remoteAddr = hexAddress(rh, family, file, i + 1);
    if (!keep(remoteAddr)) continue;
    out.push({ family, local: hexAddress(lh, family, file, i + 1), localPort: parseInt(lp, 16), remote: remoteAddr, remotePort: parseInt(rp, 16), state: stateName });
  }
  return out;
}
