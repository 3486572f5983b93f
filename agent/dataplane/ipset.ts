// Parses `ipset save` output (`create NAME TYPE …` / `add NAME ENTRY …`) into named sets the
// tracer looks packets up in (`-m set --match-set NAME src,dst`).
import { InputError } from '../../common/errors.js';
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
    if (!name) throw new InputError(file, `"${line}": missing set name`, i + 1);
    if (cmd === 'create' || cmd === '-N') {
      types.set(name, arg ?? '');
      elems.set(name, []);
    } else if (cmd === 'add' || cmd === '-A') {
      const type = types.get(name);
      if (type === undefined) throw new InputError(file, `entry for undeclared set "${name}"`, i + 1);
      if (!arg) throw new InputError(file, `"${line}": missing entry`, i + 1);
      elems.get(name)!.push(entryOf(type, arg));
    } else {
      throw new InputError(file, `unrecognised ipset command "${cmd ?? ''}"`, i + 1);
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
