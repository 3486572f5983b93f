// Parses IPVS state as `ipvsadm -Sn` prints it (one command per line: `-A -t VIP:PORT -s rr
// [-p T]`, `-a -t VIP:PORT -r RIP:PORT -m -w W`), and also the `ipvsadm -Ln` listing, into
// virtual servers with their real servers.
import { InputError } from '../../common/errors.js';
import { canonicalIp, splitHostPort } from './addr.js';
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

export function parseIpvsadm(text: string, file: string): IpvsVirtualServer[] {
  if (/^\s*(#.*\n)?\s*IP Virtual Server version/m.test(text) || /^\s*->/m.test(text)) return parseIpvsList(text, file);
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
        case '-w': case '--weight': weight = Number(next()); break;
        case '-m': case '--masquerading': forward = 'masq'; break;
        case '-g': case '--gatewaying': forward = 'route'; break;
        case '-i': case '--ipip': forward = 'tunnel'; break;
        case '-M': case '--netmask': case '-x': case '--u-threshold': case '-y': case '--l-threshold': case '-b': case '--sched-flags': case '--pe': next(); break;
        default: break; // flags such as --ops
      }
    }
    if (!proto || !service) throw new InputError(file, `"${line}" names no virtual service (-t/-u/--sctp-service/-f)`, i + 1);
    const sp = proto === 'FWM' ? { host: service, port: 0 } : splitHostPort(service);
    const addr = canonicalIp(sp.host);
    const port = sp.port ?? 0;
    const key = vsKey(proto, addr, port);
    if (cmd === '-A' || cmd === '--add-service') {
      const vs: MutableVs = { protocol: proto, addr, port, scheduler, persistent, realServers: [], text: line };
      byKey.set(key, vs);
      out.push(vs);
    } else if (cmd === '-a' || cmd === '--add-server') {
      const vs = byKey.get(key);
      if (!vs) throw new InputError(file, `real server for undeclared virtual service ${proto} ${service}`, i + 1);
      if (!real) throw new InputError(file, 'real server line without -r', i + 1);
      const rp = splitHostPort(real);
      vs.realServers.push({ addr: canonicalIp(rp.host), port: rp.port ?? port, forward, weight });
    } else {
      throw new InputError(file, `unrecognised ipvsadm command "${cmd ?? ''}"`, i + 1);
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
      const rp = splitHostPort(tok[1] ?? '');
      const fw = (tok[2] ?? '').toLowerCase();
      cur.realServers.push({
        addr: canonicalIp(rp.host), port: rp.port ?? cur.port,
        forward: fw === 'masq' ? 'masq' : fw === 'tunnel' ? 'tunnel' : fw === 'local' ? 'local' : 'route',
        weight: Number(tok[3] ?? 1),
      });
      return;
    }
    const proto = tok[0] === 'TCP' || tok[0] === 'UDP' || tok[0] === 'SCTP' || tok[0] === 'FWM' ? tok[0] : undefined;
    if (!proto) throw new InputError(file, `unrecognised ipvsadm line "${line}"`, i + 1);
    const sp = splitHostPort(tok[1] ?? '');
    const pi = tok.indexOf('persistent');
    cur = {
      protocol: proto, addr: canonicalIp(sp.host), port: sp.port ?? 0, scheduler: tok[2] ?? '',
      persistent: pi >= 0 ? Number(tok[pi + 1] ?? 0) : 0, realServers: [], text: line,
    };
    out.push(cur);
  });
  return out;
}
