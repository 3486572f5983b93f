// IPv4/IPv6 address and CIDR arithmetic on bigints: parsing, canonical text (as `ip`
// prints it), containment, overlap and sizes. Pure; shared by the agent's checks and the
// dataplane tracer.

export type IpFamily = 4 | 6;

export interface IpAddress {
  readonly family: IpFamily;
  readonly value: bigint;
}

export interface Cidr {
  readonly family: IpFamily;
  /** Network address (host bits cleared). */
  readonly network: bigint;
  readonly prefix: number;
  /** The address as written, host bits kept (e.g. a gateway `10.244.1.1/24`). */
  readonly address: bigint;
}

export const familyBits = (f: IpFamily): number => (f === 4 ? 32 : 128);

function parseIpv4(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let v = 0n;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    v = (v << 8n) | BigInt(n);
  }
  return v;
}

function parseIpv6(text: string): bigint | undefined {
  if (text.includes('%')) text = text.slice(0, text.indexOf('%'));
  let tail4: bigint | undefined;
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {
    // Embedded IPv4 (::ffff:1.2.3.4): the last two groups.
    tail4 = parseIpv4(text.slice(lastColon + 1));
    if (tail4 === undefined) return undefined;
    text = text.slice(0, lastColon + 1) + '0:0';
  }
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groups = (s: string): string[] => (s === '' ? [] : s.split(':'));
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const all = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  let v = 0n;
  for (const g of all) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    v = (v << 16n) | BigInt(parseInt(g, 16));
  }
  if (tail4 !== undefined) v = (v & ~0xffffffffn) | tail4;
  return v;
}

/** Parses an IPv4 or IPv6 address; undefined when it is neither. */
export function parseIp(text: string): IpAddress | undefined {
  const t = text.trim();
  if (t.includes(':')) {
    const v = parseIpv6(t);
    return v === undefined ? undefined : { family: 6, value: v };
  }
  const v = parseIpv4(t);
  return v === undefined ? undefined : { family: 4, value: v };
}

/** Parses `addr/prefix`; a bare address is a host route (/32 or /128). Undefined when invalid. */
export function parseCidr(text: string): Cidr | undefined {
  const t = text.trim();
  const slash = t.indexOf('/');
  const ip = parseIp(slash < 0 ? t : t.slice(0, slash));
  if (!ip) return undefined;
  const bits = familyBits(ip.family);
  let prefix = bits;
  if (slash >= 0) {
    const p = t.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p)) return undefined;
    prefix = Number(p);
    if (prefix > bits) return undefined;
  }
  return { family: ip.family, network: ip.value & netmask(ip.family, prefix), prefix, address: ip.value };
}

export function netmask(family: IpFamily, prefix: number): bigint {
  const bits = BigInt(familyBits(family));
  const all = (1n << bits) - 1n;
  return prefix === 0 ? 0n : (all >> BigInt(familyBits(family) - prefix)) << BigInt(familyBits(family) - prefix) & all;
}

/** Canonical text: dotted quad, or RFC 5952 compressed IPv6 (what iproute2 prints). */
export function formatIp(family: IpFamily, value: bigint): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 255n)).join('.');
  // inet_ntop prints IPv4-mapped addresses with a dotted tail.
  if (value >> 32n === 0xffffn) return `::ffff:${formatIp(4, value & 0xffffffffn)}`;
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((value >> BigInt(i * 16)) & 0xffffn));
  // Longest run of zero groups (length ≥ 2) becomes '::'.
  let bestStart = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = (gs: number[]): string => gs.map((g) => g.toString(16)).join(':');
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
}

/** `network/prefix` with host bits cleared. */
export function formatCidr(c: Cidr): string {
  return `${formatIp(c.family, c.network)}/${c.prefix}`;
}

/** Canonical form of a CIDR text, or the text itself when it does not parse. */
export function canonicalCidr(text: string): string {
  const c = parseCidr(text);
  return c ? formatCidr(c) : text;
}

/** The address part of a CIDR as written (`10.244.1.1/24` → `10.244.1.1`). */
export function cidrAddress(c: Cidr): string {
  return formatIp(c.family, c.address);
}

export function containsIp(c: Cidr, ip: IpAddress): boolean {
  return c.family === ip.family && (ip.value & netmask(c.family, c.prefix)) === c.network;
}

/** `outer` contains all of `inner`. */
export function containsCidr(outer: Cidr, inner: Cidr): boolean {
  return outer.family === inner.family && outer.prefix <= inner.prefix && (inner.network & netmask(outer.family, outer.prefix)) === outer.network;
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return containsCidr(a, b) || containsCidr(b, a);
}

export function sameCidr(a: Cidr, b: Cidr): boolean {
  return a.family === b.family && a.prefix === b.prefix && a.network === b.network;
}

/** Number of addresses in the prefix (2^(bits − prefix)). */
export function cidrSize(c: Cidr): bigint {
  return 1n << BigInt(familyBits(c.family) - c.prefix);
}

/** Address `n` of the prefix (0 = network address). */
export function nthAddress(c: Cidr, n: bigint): IpAddress {
  return { family: c.family, value: c.network + n };
}

/** Convenience: parse both texts and test overlap; false when either does not parse. */
export function cidrTextsOverlap(a: string, b: string): boolean {
  const ca = parseCidr(a), cb = parseCidr(b);
  return !!ca && !!cb && overlaps(ca, cb);
}
