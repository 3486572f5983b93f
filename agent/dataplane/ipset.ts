// Parses `ipset save` output (`create NAME TYPE …` / `add NAME ENTRY …`) into named sets the
// tracer looks packets up in (`-m set --match-set NAME src,dst`).
import { InputError, quoted } from '../../common/errors.js';
import { canonicalIp, parsePrefix, type Prefix } from './addr.js';
import { buildSetIndex, protoName, type NamedSet, type SetElement } from './model.js';

export function parseIpsetSave(text: string, file: string): Map<string, NamedSet> {
  const types = new Map<string, string>();
  const elems = new Map<string, SetElement[]>();
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const tok = line.split(/\s+/);
    const [cmd, name, arg] = tok;
    if (!name) throw new InputError(file, `${quoted(line)}: missing set name`, i + 1);
    if (cmd === 'create' || cmd === '-N') {
      if (arg === undefined || !SET_TYPE.test(arg)) throw new InputError(file, `set ${quoted(name)}: type ${arg === undefined ? 'missing' : quoted(arg)} is not an ipset type (hash:…, bitmap:…, list:set)`, i + 1);
      if (types.has(name)) throw new InputError(file, `set ${quoted(name)} is created twice`, i + 1);
      types.set(name, arg);
      elems.set(name, []);
    } else if (cmd === 'add' || cmd === '-A') {
      const type = types.get(name);
      if (type === undefined) throw new InputError(file, `entry for undeclared set ${quoted(name)}`, i + 1);
      if (!arg) throw new InputError(file, `${quoted(line)}: missing entry`, i + 1);
      const problem = entryProblem(type, arg);
      if (problem) throw new InputError(file, `set ${quoted(name)} (${type}): entry ${quoted(arg)} ${problem}`, i + 1);
      elems.get(name)!.push(entryOf(type, arg));
    } else {
      throw new InputError(file, `unrecognised ipset command ${quoted(cmd ?? '')}`, i + 1);
    }
  });
  const out = new Map<string, NamedSet>();
  for (const [name, type] of types) {
    const elements = elems.get(name) ?? [];
    const { index, ranged } = buildSetIndex(elements);
    out.set(name, { name, type: [type], isMap: false, dynamic: false, elements, index, ranged });
  }
  return out;
}

/** Set types ipset knows: hash:<dims>, bitmap:<dim>, list:set. */
const SET_TYPE = /^(hash:(ip|net|mac|port|mark|iface)(,(ip|net|mac|port|mark|iface))*|bitmap:(ip|ip,mac|port)|list:set)$/;

function isPortPart(p: string): boolean {
  // `tcp:80`, `udp:53`, `80`, a range `1000-2000`, or `icmp:ping` style names after a protocol.
  const m = /^(?:([a-z0-9]+):)?([^:]+)$/i.exec(p);
  if (!m) return false;
  const [lo, hi] = m[2]!.split('-');
  const isNum = (x: string | undefined): boolean => x !== undefined && /^\d+$/.test(x) && Number(x) <= 65535;
  if (m[1] !== undefined && /^icmp/i.test(m[1])) return m[2]!.length > 0;
  return isNum(lo) && (hi === undefined || isNum(hi));
}

/** Why an entry does not fit its set's type, or undefined when it does. */
function entryProblem(type: string, entry: string): string | undefined {
  const [kind, dimText = ''] = type.split(':');
  if (kind === 'list') return /^[^\s,]+$/.test(entry) ? undefined : 'is not a set name';
  const dims = dimText.split(',');
  const parts = entry.split(',');
  if (parts.length !== dims.length) return `has ${parts.length} part(s), the type ${dims.length}`;
  for (let k = 0; k < dims.length; k++) {
    const d = dims[k]!, p = parts[k]!;
    switch (d) {
      case 'ip': {
        const range = p.split('-');
        const ok = p.includes('/') ? parsePrefix(p) !== undefined : range.length <= 2 && range.every((x) => parsePrefix(x) !== undefined);
        if (!ok) return `part ${k + 1} ${quoted(p)} is not an IP address`;
        break;
      }
      case 'net':
        if (parsePrefix(p) === undefined && !(p.split('-').length === 2 && p.split('-').every((x) => parsePrefix(x) !== undefined))) return `part ${k + 1} ${quoted(p)} is not a network`;
        break;
      case 'port':
        if (!isPortPart(p)) return `part ${k + 1} ${quoted(p)} is not a port (PROTO:PORT or PORT)`;
        break;
      case 'mark':
        if (!/^(0x[0-9a-f]+|\d+)$/i.test(p)) return `part ${k + 1} ${quoted(p)} is not a mark`;
        break;
      case 'mac':
        if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(p)) return `part ${k + 1} ${quoted(p)} is not a MAC address`;
        break;
      default:
        break; // iface: any name
    }
  }
  return undefined;
}

/**
 * One entry as canonical key parts, one per dimension of the set type: `ip` and `net` parts
 * are addresses (a net with a prefix matches by containment), `port` parts are `proto:port`
 * (bitmap:port entries are bare ports).
 */
function entryOf(type: string, entry: string): SetElement {
  const dims = (type.split(':')[1] ?? '').split(',');
  const parts = entry.split(',');
  const key: string[] = [];
  const prefixes: (Prefix | undefined)[] = [];
  dims.forEach((d, k) => {
    const p = parts[k] ?? '';
    if (d === 'port') {
      const colon = p.indexOf(':');
      key.push(colon < 0 ? (type.startsWith('bitmap') ? p : `tcp:${p}`) : `${protoName(p.slice(0, colon))}:${p.slice(colon + 1)}`);
      prefixes.push(undefined);
    } else if (d === 'net' || (d === 'ip' && p.includes('/'))) {
      const pre = parsePrefix(p);
      const host = pre && pre.len === (pre.family === 4 ? 32 : 128);
      key.push(host ? canonicalIp(p.split('/')[0]!) : p);
      prefixes.push(host ? undefined : pre);
    } else {
      key.push(canonicalIp(p));
      prefixes.push(undefined);
    }
  });
  return { key, ...(prefixes.some((p) => p) ? { prefixes } : {}) };
}
