// Small IPv4/IPv6 address and prefix helpers for the rule model and tracer. IPv4 is a plain
// uint32 number (the hot path: hundreds of thousands of rule matches); IPv6 is a bigint.

export type IpAddr =
  | { readonly family: 4; readonly v4: number }
  | { readonly family: 6; readonly v6: bigint };

export type Prefix =
  | { readonly family: 4; readonly net: number; readonly mask: number; readonly len: number }
  | { readonly family: 6; readonly net6: bigint; readonly mask6: bigint; readonly len: number };

const V6_ALL = (1n << 128n) - 1n;

/** Parses a dotted quad to a uint32, or undefined. No regex: this runs once per rule. */
export function parseIpv4(text: string): number | undefined {
  let n = 0, part = 0, digits = 0, dots = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || part > 255) return undefined;
      n = n * 256 + part;
      part = 0; digits = 0; dots++;
    } else if (c >= 48 && c <= 57) {
      part = part * 10 + (c - 48);
      if (++digits > 3) return undefined;
    } else {
      return undefined;
    }
  }
  if (dots !== 3 || digits === 0 || part > 255) return undefined;
  return n * 256 + part;
}

export function parseIpv6(text: string): bigint | undefined {
  if (text.indexOf(':') < 0) return undefined;
  let t = text;
  // Embedded IPv4 (::ffff:1.2.3.4) becomes two hex groups.
  const lastColon = t.lastIndexOf(':');
  const last = t.slice(lastColon + 1);
  if (last.includes('.')) {
    const v4 = parseIpv4(last);
    if (v4 === undefined) return undefined;
    t = `${t.slice(0, lastColon + 1)}${Math.floor(v4 / 65536).toString(16)}:${(v4 % 65536).toString(16)}`;
  }
  const halves = t.split('::');
  if (halves.length > 2) return undefined;
  const parseGroups = (s: string): number[] | undefined => {
    if (s === '') return [];
    const out: number[] = [];
    for (const g of s.split(':')) {
      if (g.length === 0 || g.length > 4) return undefined;
      const v = parseInt(g, 16);
      if (Number.isNaN(v) || !/^[0-9a-fA-F]+$/.test(g)) return undefined;
      out.push(v);
    }
    return out;
  };
  const head = parseGroups(halves[0]!);
  const rest = halves.length === 2 ? parseGroups(halves[1]!) : [];
  if (!head || !rest) return undefined;
  const explicit = head.length + rest.length;
  let groups: number[];
  if (halves.length === 2) {
    if (explicit > 7) return undefined;
    groups = [...head, ...new Array<number>(8 - explicit).fill(0), ...rest];
  } else {
    groups = head;
    if (groups.length !== 8) return undefined;
  }
  let n = 0n;
  for (const g of groups) n = (n << 16n) | BigInt(g);
  return n;
}

export function parseIp(text: string): IpAddr | undefined {
  const t = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  const v4 = parseIpv4(t);
  if (v4 !== undefined) return { family: 4, v4 };
  const v6 = parseIpv6(t);
  return v6 === undefined ? undefined : { family: 6, v6 };
}

/** `10.0.0.0/8`, `10.1.2.3` (a host), `fd00::/64`. */
export function parsePrefix(text: string): Prefix | undefined {
  const slash = text.indexOf('/');
  const addrText = slash < 0 ? text : text.slice(0, slash);
  const ip = parseIp(addrText);
  if (!ip) return undefined;
  let len: number;
  if (slash < 0) len = ip.family === 4 ? 32 : 128;
  else {
    const lenText = text.slice(slash + 1);
    // iptables also accepts a dotted netmask (-s 10.0.0.0/255.0.0.0).
    const dotted = ip.family === 4 ? parseIpv4(lenText) : undefined;
    if (dotted !== undefined) len = 32 - Math.log2(((~dotted) >>> 0) + 1);
    else len = Number(lenText);
    if (!Number.isInteger(len) || len < 0 || len > (ip.family === 4 ? 32 : 128)) return undefined;
  }
  return prefixOf(ip, len);
}

export function prefixOf(ip: IpAddr, len: number): Prefix {
  if (ip.family === 4) {
    const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
    return { family: 4, net: (ip.v4 & mask) >>> 0, mask, len };
  }
  const mask6 = len === 0 ? 0n : (V6_ALL << BigInt(128 - len)) & V6_ALL;
  return { family: 6, net6: ip.v6 & mask6, mask6, len };
}

/** The `n`-th address of a prefix (0: the network address), or undefined past its end. */
export function prefixHost(p: Prefix, n: number): string | undefined {
  const bits = (p.family === 4 ? 32 : 128) - p.len;
  if (bits < 53 && 2 ** bits <= n) return undefined;
  return p.family === 4 ? formatIp({ family: 4, v4: (p.net + n) >>> 0 }) : formatIp({ family: 6, v6: p.net6 + BigInt(n) });
}

export function prefixContains(p: Prefix, ip: IpAddr): boolean {
  if (p.family === 4) return ip.family === 4 && ((ip.v4 & p.mask) >>> 0) === p.net;
  return ip.family === 6 && (ip.v6 & p.mask6) === p.net6;
}

export function formatIp(ip: IpAddr): string {
  if (ip.family === 4) return formatIpv4(ip.v4);
  const groups: string[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((ip.v6 >> BigInt(i * 16)) & 0xffffn).toString(16));
  // Compress the longest run of zero groups (RFC 5952).
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== '0') { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) { best = i; bestLen = j - i; }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

export function formatIpv4(n: number): string {
  return `${(n >>> 24) & 255}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

export function formatPrefix(p: Prefix): string {
  return p.family === 4 ? `${formatIpv4(p.net)}/${p.len}` : `${formatIp({ family: 6, v6: p.net6 })}/${p.len}`;
}

/** Canonical text of an address (so `10.0.0.1` and `10.0.0.1/32` compare equal as keys). */
export function canonicalIp(text: string): string {
  const ip = parseIp(text);
  return ip ? formatIp(ip) : text;
}

/** `ip:port`, IPv6 as `[ip]:port` (kube-proxy's endpoint string). */
export function hostPort(ip: string, port: number): string {
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** Splits `1.2.3.4:80` / `[fd00::1]:80` / `1.2.3.4` into address and port. */
export function splitHostPort(text: string): { host: string; port?: number } {
  if (text.startsWith('[')) {
    const end = text.indexOf(']');
    const host = text.slice(1, end);
    const rest = text.slice(end + 1);
    return rest.startsWith(':') ? { host, port: Number(rest.slice(1)) } : { host };
  }
  const colon = text.indexOf(':');
  if (colon >= 0 && text.indexOf(':', colon + 1) < 0) {
    const port = text.slice(colon + 1);
    // A port range (`:80-90`) keeps its first port; the tracer only needs one.
    return { host: text.slice(0, colon), port: Number(port.split('-')[0]) };
  }
  return { host: text };
}
