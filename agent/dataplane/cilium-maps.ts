// Cilium's load-balancer maps, decoded from `bpftool -j map dump` output. bpftool prints
// every entry's raw key and value bytes (`"key": ["0x0a", …]`), and, when the map carries
// BTF (real Cilium maps do), also a `formatted` object with the C member names. The bytes
// are decoded here with the C layouts below, chosen by the entry sizes; when `formatted`
// is present its member names must match that layout, else the map is reported unreadable
// rather than misread.
//
// Layouts, checked against cilium/cilium bpf/lib/common.h (v1.14-era tree, structs in
// common.h) and bpf/lib/lb.h (current main, structs moved to lb.h):
//   lb4_key     {be32 address; be16 dport; u16 backend_slot; u8 proto; u8 scope; u8 pad[2]}   12 bytes
//   lb6_key     {v6addr address; be16 dport; u16 backend_slot; u8 proto; u8 scope; u8 pad[2]} 24 bytes
//   lb4_service / lb6_service {u32 backend_id|affinity_timeout|l7_lb_proxy_port; u16 count;
//               u16 rev_nat_index; u8 flags; u8 flags2; u16 qcount (pad[2] before qcount)}    12 bytes
//   lb4_backend (backends_v3) {be32 address; be16 port; u8 proto; u8 flags; u16 cluster_id; u8 zone; u8 pad}
//               12 bytes; v1.14 had {… u8 flags; u8 cluster_id; u8 pad[3]} — same bytes for cluster_id < 256
//   lb6_backend (backends_v3) the same with a 16-byte address, 24 bytes
//   lb4_backend (backends_v2, older releases) {be32 address; be16 port; u8 proto; u8 flags} 8 bytes (lb6: 20)
// Host-order fields (backend_slot, count, ids) are read little-endian: every architecture
// Cilium ships for (amd64, arm64) is. `proto` 0 is IPPROTO_ANY (older releases never set it).
// Constants (lb.h / common.h enums): LB_LOOKUP_SCOPE_EXT 0, LB_LOOKUP_SCOPE_INT 1; flags
// SVC_FLAG_EXTERNAL_IP 1<<0, NODEPORT 1<<1, EXT_LOCAL_SCOPE 1<<2, HOSTPORT 1<<3, AFFINITY 1<<4,
// LOADBALANCER 1<<5, ROUTABLE 1<<6, SOURCE_RANGE 1<<7; flags2 LOCALREDIRECT 1<<0, NAT_46X64 1<<1,
// L7_LOADBALANCER 1<<2, LOOPBACK 1<<3, INT_LOCAL_SCOPE 1<<4, TWO_SCOPES 1<<5; backend states
// BE_STATE_ACTIVE 0, TERMINATING 1, QUARANTINED 2, MAINTENANCE 3; LB_ALGORITHM_SHIFT 24 (the
// frontend's affinity_timeout keeps the algorithm in its top 8 bits).
import { InputError } from '../../common/errors.js';
import { jsonSyntaxError } from '../../common/json-input.js';
import type { BpfFacts } from '../inspect/bpf.js';
import { canonicalIp } from './addr.js';

export const SCOPE_EXT = 0;
export const SCOPE_INT = 1;
export const SVC_FLAG = { externalIP: 1 << 0, nodePort: 1 << 1, extLocal: 1 << 2, hostPort: 1 << 3, affinity: 1 << 4, loadBalancer: 1 << 5, routable: 1 << 6, sourceRange: 1 << 7 } as const;
export const SVC_FLAG2 = { localRedirect: 1 << 0, nat46x64: 1 << 1, l7LoadBalancer: 1 << 2, loopback: 1 << 3, intLocal: 1 << 4, twoScopes: 1 << 5 } as const;
export const BACKEND_STATES = ['active', 'terminating', 'quarantined', 'maintenance'] as const;
export const IPPROTO: Readonly<Record<string, number>> = { TCP: 6, UDP: 17, SCTP: 132 };
const PROTO_NAME: Readonly<Record<number, string>> = { 0: 'ANY', 6: 'TCP', 17: 'UDP', 132: 'SCTP' };
const AFFINITY_TIMEOUT_MASK = (1 << 24) - 1;

export interface LbFrontend {
  readonly family: 4 | 6;
  readonly address: string;
  readonly port: number;
  /** IPPROTO number; 0 = any protocol. */
  readonly proto: number;
  readonly scope: number;
  /** Backend slots traffic is spread over (slots 1..count). */
  readonly count: number;
  /** Quarantined slots after them (count+1..count+qcount). */
  readonly qcount: number;
  readonly revNat: number;
  readonly flags: number;
  readonly flags2: number;
  readonly affinityTimeout: number;
  /** slot → backend id. */
  readonly slots: ReadonlyMap<number, number>;
}

export interface LbBackend {
  readonly id: number;
  readonly address: string;
  readonly port: number;
  readonly state: string;
  readonly clusterId: number;
}

export interface CiliumLb {
  /** Keyed by frontendKey(). */
  readonly frontends: ReadonlyMap<string, LbFrontend>;
  readonly backends: { readonly 4: ReadonlyMap<number, LbBackend>; readonly 6: ReadonlyMap<number, LbBackend> };
  /** Per map read, the layout it was decoded with (evidence). */
  readonly layouts: Readonly<Record<string, string>>;
  /** Maps that exist but cannot be judged (unknown layout, dump failed). */
  readonly unreadable: Readonly<Record<string, string>>;
}

export const frontendKey = (family: 4 | 6, address: string, port: number, proto: number, scope: number): string => `${family}|${address}|${port}|${proto}|${scope}`;

export const protoName = (p: number): string => PROTO_NAME[p] ?? String(p);

interface RawEntry { readonly key: Uint8Array; readonly value: Uint8Array; readonly formatted?: { key?: unknown; value?: unknown } }

/** Parses `bpftool -j map dump` output; a malformed dump is an InputError naming the file and JSON path. */
export function parseBpftoolDump(text: string, file: string): RawEntry[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    const e = jsonSyntaxError(text, err);
    throw new InputError(file, `${e.reason} (bpftool -j map dump)`, e.line, e.column);
  }
  if (!Array.isArray(doc)) throw new InputError(file, '$: expected the array bpftool -j map dump prints');
  const bytes = (v: unknown, path: string): Uint8Array => {
    if (!Array.isArray(v)) throw new InputError(file, `${path}: expected an array of bytes like "0x0a"`);
    const out = new Uint8Array(v.length);
    v.forEach((b, i) => {
      if (typeof b !== 'string' || !/^0x[0-9a-fA-F]{1,2}$/.test(b)) throw new InputError(file, `${path}[${i}]: expected a byte like "0x0a", got ${JSON.stringify(b)}`);
      out[i] = parseInt(b.slice(2), 16);
    });
    return out;
  };
  return doc.map((e, i) => {
    if (typeof e !== 'object' || e === null || Array.isArray(e)) throw new InputError(file, `$[${i}]: expected an object with "key" and "value"`);
    const o = e as Record<string, unknown>;
    const f = o['formatted'];
    return {
      key: bytes(o['key'], `$[${i}].key`), value: bytes(o['value'], `$[${i}].value`),
      ...(typeof f === 'object' && f !== null ? { formatted: f as { key?: unknown; value?: unknown } } : {}),
    };
  });
}

const u16 = (b: Uint8Array, o: number): number => b[o]! | (b[o + 1]! << 8);
const u32 = (b: Uint8Array, o: number): number => (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
const be16 = (b: Uint8Array, o: number): number => (b[o]! << 8) | b[o + 1]!;

function ipAt(b: Uint8Array, o: number, family: 4 | 6): string {
  if (family === 4) return `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(be16(b, o + i).toString(16));
  return canonicalIp(groups.join(':'));
}

/** The BTF member names an entry's `formatted` object shows, flattened one level (anonymous unions). */
function memberNames(v: unknown): Set<string> {
  const names = new Set<string>();
  if (typeof v !== 'object' || v === null) return names;
  for (const [k, x] of Object.entries(v)) {
    names.add(k);
    if (k === '' && typeof x === 'object' && x !== null) for (const k2 of Object.keys(x)) names.add(k2);
  }
  return names;
}

function checkBtf(e: RawEntry, keyNames: readonly string[], valueNames: readonly string[]): string | undefined {
  if (!e.formatted) return undefined;
  const k = memberNames(e.formatted.key);
  const v = memberNames(e.formatted.value);
  const missing = [...(k.size > 0 ? keyNames.filter((n) => !k.has(n)) : []), ...valueNames.filter((n) => !v.has(n))];
  return missing.length > 0 ? `its BTF lacks the members netconform decodes (${missing.join(', ')}): a layout netconform does not know` : undefined;
}

const cache = new WeakMap<BpfFacts, CiliumLb>();

/** The decoded Cilium LB maps of a bpf facet (cached per facet). */
export function ciliumLbOf(facts: BpfFacts): CiliumLb {
  let lb = cache.get(facts);
  if (!lb) cache.set(facts, (lb = decodeCiliumLb(facts)));
  return lb;
}

export function decodeCiliumLb(facts: BpfFacts): CiliumLb {
  const frontends = new Map<string, LbFrontend>();
  const backends = { 4: new Map<number, LbBackend>(), 6: new Map<number, LbBackend>() } as const;
  const layouts: Record<string, string> = {};
  const unreadable: Record<string, string> = { ...(facts.unreadable ?? {}) };
  const fileOf = (m: string): string => (facts.root === 'bundle' ? `bpf/${m}.json` : `${facts.root}/tc/globals/${m}`);

  for (const family of [4, 6] as const) {
    const alen = family === 4 ? 4 : 16;
    // Backends: v3 first (current releases); v2 only when v3 is absent.
    for (const name of [`cilium_lb${family}_backends_v3`, `cilium_lb${family}_backends_v2`]) {
      const text = facts.maps[name];
      if (text === undefined || backends[family].size > 0 || layouts[`cilium_lb${family}_backends_v3`]) continue;
      const entries = parseBpftoolDump(text, fileOf(name));
      const vlen = entries[0]?.value.length;
      const v3 = vlen === alen + 8, v2 = vlen === alen + 4;
      if (entries.length > 0 && !v3 && !v2) { unreadable[name] = `value size ${vlen} bytes matches no lb${family}_backend layout netconform knows`; continue; }
      layouts[name] = v2 ? `lb${family}_backend without cluster_id (${alen + 4} bytes)` : `lb${family}_backend (${alen + 8} bytes)`;
      for (const e of entries) {
        const bad = (e.key.length !== 4 && e.key.length !== 2) || e.value.length !== vlen ? 'entries of different sizes' : checkBtf(e, [], ['address', 'port', 'flags']);
        if (bad) { unreadable[name] = bad; backends[family].clear(); delete layouts[name]; break; }
        const id = e.key.length === 4 ? u32(e.key, 0) : u16(e.key, 0);
        const state = e.value[alen + 3]!;
        backends[family].set(id, {
          id, address: ipAt(e.value, 0, family), port: be16(e.value, alen),
          state: BACKEND_STATES[state] ?? `state ${state}`, clusterId: v3 ? u16(e.value, alen + 4) : 0,
        });
      }
    }
    const sname = `cilium_lb${family}_services_v2`;
    const stext = facts.maps[sname];
    if (stext === undefined) continue;
    const entries = parseBpftoolDump(stext, fileOf(sname));
    const klen = alen + 8;
    const slots = new Map<string, Map<number, number>>();
    const masters = new Map<string, Omit<LbFrontend, 'slots'>>();
    let bad: string | undefined;
    for (const e of entries) {
      if (e.key.length !== klen || e.value.length !== 12) { bad = `key/value size ${e.key.length}/${e.value.length} bytes matches no lb${family}_key/lb${family}_service layout netconform knows (expected ${klen}/12)`; break; }
      bad = checkBtf(e, ['address', 'dport', 'backend_slot', 'proto', 'scope'], ['count', 'rev_nat_index', 'flags', 'flags2']);
      if (bad) break;
      const address = ipAt(e.key, 0, family);
      const port = be16(e.key, alen);
      const slot = u16(e.key, alen + 2);
      const proto = e.key[alen + 4]!;
      const scope = e.key[alen + 5]!;
      const k = frontendKey(family, address, port, proto, scope);
      const first = u32(e.value, 0);
      if (slot === 0) {
        masters.set(k, {
          family, address, port, proto, scope, count: u16(e.value, 4), qcount: u16(e.value, 10), revNat: u16(e.value, 6),
          flags: e.value[8]!, flags2: e.value[9]!, affinityTimeout: first & AFFINITY_TIMEOUT_MASK,
        });
      } else {
        let s = slots.get(k);
        if (!s) slots.set(k, (s = new Map()));
        s.set(slot, first);
      }
    }
    if (bad) { unreadable[sname] = bad; continue; }
    layouts[sname] = `lb${family}_key (${klen} bytes) → lb${family}_service (12 bytes)`;
    for (const [k, m] of masters) frontends.set(k, { ...m, slots: slots.get(k) ?? new Map() });
  }
  return { frontends, backends, layouts, unreadable };
}

/** The map entry a frontend is, as evidence shows it. */
export function frontendText(f: LbFrontend): string {
  const addr = f.family === 6 ? `[${f.address}]` : f.address;
  const flags = [
    ...Object.entries(SVC_FLAG).filter(([, b]) => (f.flags & b) !== 0).map(([n]) => n),
    ...Object.entries(SVC_FLAG2).filter(([, b]) => (f.flags2 & b) !== 0).map(([n]) => n),
  ];
  return `cilium_lb${f.family}_services_v2 ${addr}:${f.port}/${protoName(f.proto)} scope=${f.scope === SCOPE_INT ? 'internal' : 'external'} slot 0: count=${f.count}${f.qcount ? ` qcount=${f.qcount}` : ''} rev_nat=${f.revNat} flags=[${flags.join(',')}]${f.flags & SVC_FLAG.affinity ? ` affinity_timeout=${f.affinityTimeout}s` : ''}`;
}
