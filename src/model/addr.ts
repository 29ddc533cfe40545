/**
 * IPv4/IPv6 addresses as 16 bytes. IPv4 addresses are kept in their 4 bytes
 * (family 4); an IPv4-mapped IPv6 address (::ffff:a.b.c.d) stays family 6, as
 * the kernel reports it for dual-stack sockets, and mappedV4() finds the IPv4
 * inside it for CIDR membership.
 */

export type Family = 4 | 6;

export interface Addr {
  readonly family: Family;
  /** 4 bytes for family 4, 16 for family 6. */
  readonly bytes: readonly number[];
}

export interface Cidr {
  readonly addr: Addr;
  readonly prefix: number;
}

export function parseIPv4(s: string): Addr | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  const bytes: number[] = [];
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return undefined;
    // A leading zero is ambiguous (octal in inet_aton): refuse it.
    if (p.length > 1 && p[0] === '0') return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    bytes.push(n);
  }
  return { family: 4, bytes };
}

export function parseIPv6(s: string): Addr | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(s)) return undefined;
  const dbl = s.indexOf('::');
  if (dbl !== s.lastIndexOf('::')) return undefined;
  const parseGroups = (part: string): number[] | undefined => {
    if (part === '') return [];
    const groups = part.split(':');
    const out: number[] = [];
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i]!;
      if (i === groups.length - 1 && g.includes('.')) {
        const v4 = parseIPv4(g);
        if (!v4) return undefined;
        out.push((v4.bytes[0]! << 8) | v4.bytes[1]!, (v4.bytes[2]! << 8) | v4.bytes[3]!);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
        out.push(Number.parseInt(g, 16));
      }
    }
    return out;
  };
  let groups: number[];
  if (dbl >= 0) {
    const head = parseGroups(s.slice(0, dbl));
    const tail = parseGroups(s.slice(dbl + 2));
    if (!head || !tail || head.length + tail.length > 7) return undefined;
    groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  } else {
    const all = parseGroups(s);
    if (all?.length !== 8) return undefined;
    groups = all;
  }
  const bytes: number[] = [];
  for (const g of groups) bytes.push(g >> 8, g & 0xff);
  return { family: 6, bytes };
}

export function parseAddr(s: string): Addr | undefined {
  return s.includes(':') ? parseIPv6(s) : parseIPv4(s);
}

/** The IPv4 address inside ::ffff:a.b.c.d, if that is what this is. */
export function mappedV4(a: Addr): Addr | undefined {
  if (a.family !== 6) return undefined;
  for (let i = 0; i < 10; i++) if (a.bytes[i] !== 0) return undefined;
  if (a.bytes[10] !== 0xff || a.bytes[11] !== 0xff) return undefined;
  return { family: 4, bytes: a.bytes.slice(12) };
}

export function formatAddr(a: Addr): string {
  if (a.family === 4) return a.bytes.join('.');
  const v4 = mappedV4(a);
  if (v4) return `::ffff:${formatAddr(v4)}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((a.bytes[i]! << 8) | a.bytes[i + 1]!);
  // RFC 5952: compress the longest run (length >= 2) of zero groups, the first if tied.
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  const head = hex.slice(0, bestStart).join(':');
  const tail = hex.slice(bestStart + bestLen).join(':');
  return `${head}::${tail}`;
}

/** True when addr's first `prefix` bits equal net's (same family). */
function prefixMatch(addr: readonly number[], net: readonly number[], prefix: number): boolean {
  const full = prefix >> 3;
  for (let i = 0; i < full; i++) if (addr[i] !== net[i]) return false;
  const rest = prefix & 7;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((addr[full]! ^ net[full]!) & mask) === 0;
}

/**
 * CIDR membership. An IPv4 network also contains the IPv4-mapped IPv6 forms
 * of its addresses; an IPv6 network (e.g. ::ffff:0:0/96) contains only IPv6
 * addresses.
 */
export function inCidr(a: Addr, c: Cidr): boolean {
  if (c.addr.family === 4) {
    const v4 = a.family === 4 ? a : mappedV4(a);
    return v4 !== undefined && prefixMatch(v4.bytes, c.addr.bytes, c.prefix);
  }
  return a.family === 6 && prefixMatch(a.bytes, c.addr.bytes, c.prefix);
}

/** Host bits of a CIDR that are set (10.1.2.3/8): worth a hint. */
export function hostBitsSet(c: Cidr): boolean {
  const bits = c.addr.bytes.length * 8;
  for (let b = c.prefix; b < bits; b++) {
    if ((c.addr.bytes[b >> 3]! >> (7 - (b & 7))) & 1) return true;
  }
  return false;
}

export function maskCidr(c: Cidr): Cidr {
  const bytes = c.addr.bytes.map((v, i) => {
    const lo = i * 8;
    if (c.prefix >= lo + 8) return v;
    if (c.prefix <= lo) return 0;
    return v & ((0xff << (8 - (c.prefix - lo))) & 0xff);
  });
  return { addr: { family: c.addr.family, bytes }, prefix: c.prefix };
}

/** The first `prefix` bits of an address as a string key (the rest masked off). */
function networkKey(bytes: readonly number[], prefix: number): string {
  let key = '';
  const full = prefix >> 3;
  for (let i = 0; i < full; i++) key += String.fromCharCode(bytes[i]!);
  const rest = prefix & 7;
  if (rest) key += String.fromCharCode(bytes[full]! & ((0xff << (8 - rest)) & 0xff));
  return key;
}

/**
 * A test of membership in a set of CIDRs, as inCidr over each of them but
 * in a lookup per distinct prefix length (a hash of networks per length):
 * 100,000 addresses cost a session one lookup, not a scan.
 */
export function cidrMatcher(cidrs: readonly Cidr[]): (a: Addr) => boolean {
  const byLength = { 4: new Map<number, Set<string>>(), 6: new Map<number, Set<string>>() };
  for (const c of cidrs) {
    const m = byLength[c.addr.family];
    let set = m.get(c.prefix);
    if (!set) {
      set = new Set();
      m.set(c.prefix, set);
    }
    set.add(networkKey(c.addr.bytes, c.prefix));
  }
  const v4 = [...byLength[4]];
  const v6 = [...byLength[6]];
  const any = (bytes: readonly number[], groups: [number, Set<string>][]) => {
    for (const [prefix, nets] of groups) if (nets.has(networkKey(bytes, prefix))) return true;
    return false;
  };
  return (a) => {
    if (a.family === 4) return any(a.bytes, v4);
    if (any(a.bytes, v6)) return true;
    // An IPv4-mapped IPv6 address is in an IPv4 CIDR (as inCidr has it).
    const inner = v4.length ? mappedV4(a) : undefined;
    return inner !== undefined && any(inner.bytes, v4);
  };
}

/** Ranges merged and sorted, tested by binary search: a long list costs a session log n. */
export function rangeMatcher(
  ranges: readonly (readonly [number, number])[],
): (x: number) => boolean {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const lo: number[] = [];
  const hi: number[] = [];
  for (const [a, b] of sorted) {
    if (lo.length && a <= hi[hi.length - 1]! + 1)
      hi[hi.length - 1] = Math.max(hi[hi.length - 1]!, b);
    else {
      lo.push(a);
      hi.push(b);
    }
  }
  return (x) => {
    let l = 0;
    let h = lo.length - 1;
    while (l <= h) {
      const m = (l + h) >> 1;
      if (x < lo[m]!) h = m - 1;
      else if (x > hi[m]!) l = m + 1;
      else return true;
    }
    return false;
  };
}
