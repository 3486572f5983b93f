// Parses IPVS state as `ipvsadm -Sn` prints it (one command per line: `-A -t VIP:PORT -s rr
// [-p T]`, `-a -t VIP:PORT -r RIP:PORT -m -w W`), and also the `ipvsadm -Ln` listing, into
// virtual servers with their real servers.
import { InputError, quoted } from '../../common/errors.js';
import { formatIp, parseIp, splitHostPort } from './addr.js';
import type { IpvsRealServer, IpvsVirtualServer } from './model.js';

type Proto = IpvsVirtualServer['protocol'];

interface MutableVs {
  protocol: Proto;
  addr: string;
  port: number;
  scheduler: string;
  persistent: number;
  realServers: IpvsRealServer[];
  text: string;
}

const vsKey = (p: string, a: string, port: number): string => `${p} ${a}:${port}`;

/** `ADDR:PORT` (or `[ADDR]:PORT`) as ipvsadm prints it, checked; a fwmark service is a number. */
function endpoint(text: string, file: string, line: number, what: string, fwmark = false): { addr: string; port?: number } {
  if (fwmark) {
    if (!/^\d+$/.test(text)) throw new InputError(file, `${what} ${quoted(text)} is not a firewall mark (a number)`, line);
    return { addr: text };
  }
  const sp = splitHostPort(text);
  const ip = parseIp(sp.host);
  if (!ip) throw new InputError(file, `${what} ${quoted(text)} is not ADDRESS:PORT (an IPv4 or [IPv6] address)`, line);
  if (sp.port !== undefined && !(Number.isInteger(sp.port) && sp.port >= 0 && sp.port <= 65535)) throw new InputError(file, `${what} ${quoted(text)} has no valid port (0-65535)`, line);
  return { addr: formatIp(ip), ...(sp.port !== undefined ? { port: sp.port } : {}) };
}

function count(text: string | undefined, file: string, line: number, what: string): number {
  if (text === undefined || !/^\d+$/.test(text)) throw new InputError(file, `${what} must be a non-negative integer, got ${text === undefined ? 'nothing' : quoted(text)}`, line);
  return Number(text);
}

/**
 * `ipvsadm -Ln` output: a line starting `IP Virtual Server version` or `->`. A line scan, not
 * a multiline regex: `^\s*…` over a long run of blanks backtracks quadratically (fuzzing found
 * half a megabyte of spaces taking minutes).
 */
function isIpvsListing(text: string): boolean {
  for (const raw of text.split('\n')) {
    const line = raw.trimStart();
    if (line.startsWith('IP Virtual Server version') || line.startsWith('->')) return true;
  }
  return false;
}

export function parseIpvsadm(text: string, file: string): IpvsVirtualServer[] {
  if (isIpvsListing(text)) return parseIpvsList(text, file);
  const byKey = new Map<string, MutableVs>();
  const out: MutableVs[] = [];
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const tok = line.split(/\s+/);
    const cmd = tok[0];
    let proto: Proto | undefined;
    let service: string | undefined;
    let real: string | undefined;
    let scheduler = 'wlc';
    let persistent = 0;
    let weight = 1;
    let forward: IpvsRealServer['forward'] = 'route';
    for (let k = 1; k < tok.length; k++) {
      const t = tok[k]!;
      const next = (): string => {
        const v = tok[++k];
        if (v === undefined) throw new InputError(file, `option ${t} needs a value`, i + 1);
        return v;
      };
      switch (t) {
        case '-t': case '--tcp-service': proto = 'TCP'; service = next(); break;
        case '-u': case '--udp-service': proto = 'UDP'; service = next(); break;
        case '--sctp-service': proto = 'SCTP'; service = next(); break;
        case '-f': case '--fwmark-service': proto = 'FWM'; service = next(); break;
        case '-s': case '--scheduler': scheduler = next(); break;
        case '-p': case '--persistent': {
          const v = tok[k + 1];
          if (v !== undefined && /^\d+$/.test(v)) { persistent = Number(v); k++; } else persistent = 300;
          break;
        }
        case '-r': case '--real-server': real = next(); break;
        case '-w': case '--weight': weight = count(next(), file, i + 1, 'weight'); break;
        case '-m': case '--masquerading': forward = 'masq'; break;
        case '-g': case '--gatewaying': forward = 'route'; break;
        case '-i': case '--ipip': forward = 'tunnel'; break;
        case '-M': case '--netmask': case '-x': case '--u-threshold': case '-y': case '--l-threshold': case '-b': case '--sched-flags': case '--pe': next(); break;
        case '-o': case '--ops': break;
        default:
          // Anything else is not something `ipvsadm -S` prints: refuse rather than guess.
          throw new InputError(file, `unexpected ${quoted(t)} in ${quoted(line)}`, i + 1);
      }
    }
    if (!proto || !service) throw new InputError(file, `${quoted(line)} names no virtual service (-t/-u/--sctp-service/-f)`, i + 1);
    const ep = endpoint(service, file, i + 1, 'virtual service', proto === 'FWM');
    const addr = ep.addr;
    const port = ep.port ?? 0;
    const key = vsKey(proto, addr, port);
    if (cmd === '-A' || cmd === '--add-service') {
      const vs: MutableVs = { protocol: proto, addr, port, scheduler, persistent, realServers: [], text: line };
      byKey.set(key, vs);
      out.push(vs);
    } else if (cmd === '-a' || cmd === '--add-server') {
      const vs = byKey.get(key);
      if (!vs) throw new InputError(file, `real server for undeclared virtual service ${proto} ${service}`, i + 1);
      if (!real) throw new InputError(file, 'real server line without -r', i + 1);
      const rp = endpoint(real, file, i + 1, 'real server');
      vs.realServers.push({ addr: rp.addr, port: rp.port ?? port, forward, weight });
    } else {
      throw new InputError(file, `unrecognised ipvsadm command ${quoted(cmd ?? '')}`, i + 1);
    }
  });
  return out;
}

/** `ipvsadm -Ln` listing (the format of pkg/proxy/ipvs/README.md). */
function parseIpvsList(text: string, file: string): IpvsVirtualServer[] {
  const out: MutableVs[] = [];
  let cur: MutableVs | undefined;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith('IP Virtual Server') || line.startsWith('Prot ') || line.startsWith('-> RemoteAddress')) return;
    const tok = line.split(/\s+/);
    if (tok[0] === '->') {
      if (!cur) throw new InputError(file, 'real server before any virtual service', i + 1);
      const rp = endpoint(tok[1] ?? '', file, i + 1, 'real server');
      const fw = (tok[2] ?? '').toLowerCase();
      if (!['masq', 'tunnel', 'local', 'route'].includes(fw)) throw new InputError(file, `real server forwarding ${quoted(tok[2] ?? '')} is not Masq, Route, Tunnel or Local`, i + 1);
      cur.realServers.push({
        addr: rp.addr, port: rp.port ?? cur.port,
        forward: fw === 'masq' ? 'masq' : fw === 'tunnel' ? 'tunnel' : fw === 'local' ? 'local' : 'route',
        weight: count(tok[3], file, i + 1, 'weight'),
      });
      return;
    }
    const proto = tok[0] === 'TCP' || tok[0] === 'UDP' || tok[0] === 'SCTP' || tok[0] === 'FWM' ? tok[0] : undefined;
    if (!proto) throw new InputError(file, `unrecognised ipvsadm line ${quoted(line)}`, i + 1);
    const sp = endpoint(tok[1] ?? '', file, i + 1, 'virtual service', proto === 'FWM');
    const pi = tok.indexOf('persistent');
    if (tok[2] === undefined) throw new InputError(file, `virtual service line without a scheduler: ${quoted(line)}`, i + 1);
    cur = {
      protocol: proto, addr: sp.addr, port: sp.port ?? 0, scheduler: tok[2],
      persistent: pi >= 0 ? count(tok[pi + 1], file, i + 1, 'persistent timeout') : 0, realServers: [], text: line,
    };
    out.push(cur);
  });
  return out;
}
