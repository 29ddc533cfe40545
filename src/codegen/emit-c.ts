/**
 * The kernel part of a filter → a C expression over `const struct event *e`,
 * plus the data it needs (port bitmaps). Only validated integers reach the
 * text: every number is checked to be a safe non-negative integer, strings
 * become byte comparisons written in hex. Nothing the user typed is copied.
 */
import type { Cidr } from '../dsl/addr.js';
import { assertNever } from '../dsl/ast.js';
import { globPrefix } from '../dsl/glob.js';
import type { Pred } from '../dsl/ir.js';
import { ENTRIES, enumCode, KERNEL_KEYS } from '../model/fields.js';
import { textToBytes } from '../model/text.js';
import { MAX_KERNEL_ADDR_SETS, MAX_KERNEL_CIDRS } from '../plan/split.js';

export class CodegenError extends Error {}

export interface EmittedFilter {
  readonly expr: string;
  readonly data: string;
  /** The address sets looked up in the template's tries, addr_set_0 first (the loader fills them). */
  readonly addrSets: readonly (readonly Cidr[])[];
}

function int(n: number): string {
  if (!Number.isSafeInteger(n) || n < 0) throw new CodegenError(`not a valid integer for C: ${n}`);
  return `${n}ULL`;
}

function hex32(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new CodegenError(`not a u32: ${n}`);
  return `0x${n.toString(16).padStart(8, '0')}U`;
}

function field(key: string): string {
  const kind = KERNEL_KEYS.get(key);
  if (!kind) throw new CodegenError(`field ${key} is not available in the kernel`);
  // The key is a registry name (checked to be an identifier), never user text.
  return `e->${key}`;
}

/** x op t for an integer field x and a real threshold t, exactly. */
function compare(x: string, op: string, t: number): string {
  switch (op) {
    case '==':
      return Number.isInteger(t) ? `(${x} == ${int(t)})` : '0';
    case '!=':
      return Number.isInteger(t) ? `(${x} != ${int(t)})` : '1';
    case '>':
      return `(${x} > ${int(Math.floor(t))})`;
    case '>=':
      return `(${x} >= ${int(Math.ceil(t))})`;
    case '<':
      return `(${x} < ${int(Math.ceil(t))})`;
    case '<=':
      return `(${x} <= ${int(Math.floor(t))})`;
    default:
      throw new CodegenError(`unknown operator ${op}`);
  }
}

function words(bytes: readonly number[], prefix: number): { net: number[]; mask: number[] } {
  const net: number[] = [];
  const mask: number[] = [];
  for (let w = 0; w < bytes.length / 4; w++) {
    let n = 0;
    let m = 0;
    for (let b = 0; b < 4; b++) {
      const bit = (w * 4 + b) * 8;
      const mb =
        prefix >= bit + 8 ? 0xff : prefix <= bit ? 0 : (0xff << (8 - (prefix - bit))) & 0xff;
      n = n * 256 + (bytes[w * 4 + b]! & mb);
      m = m * 256 + mb;
    }
    net.push(n);
    mask.push(m);
  }
  return { net, mask };
}

function cidr(key: string, c: Cidr): string {
  const x = field(key);
  const { net, mask } = words(c.addr.bytes, c.prefix);
  if (c.addr.family === 4) return `v4_in(${x}, e->family, ${hex32(net[0]!)}, ${hex32(mask[0]!)})`;
  return `v6_in(${x}, e->family, ${net.map(hex32).join(', ')}, ${mask.map(hex32).join(', ')})`;
}

function bytesMatch(key: string, s: string, terminated: boolean): string {
  const x = field(key);
  const bytes = [...textToBytes(s)];
  if (bytes.length > 15) throw new CodegenError('comm longer than 15 bytes');
  const terms = bytes.map((b, i) => `${x}[${i}] == (char)0x${b.toString(16).padStart(2, '0')}`);
  if (terminated) terms.push(`${x}[${bytes.length}] == 0`);
  return terms.length ? `(${terms.join(' && ')})` : '1';
}

export class CEmitter {
  private readonly data: string[] = [];
  private sets = 0;

  private readonly addrSets: (readonly Cidr[])[] = [];

  emit(p: Pred): EmittedFilter {
    const expr = this.expr(p);
    return { expr, data: this.data.join('\n'), addrSets: this.addrSets };
  }

  /** A long address set: a lookup in the next of the template's tries. */
  private addrSet(key: string, cidrs: readonly Cidr[]): string {
    const x = field(key);
    const i = this.addrSets.length;
    if (i >= MAX_KERNEL_ADDR_SETS)
      throw new CodegenError(`more than ${MAX_KERNEL_ADDR_SETS} long address sets`);
    this.addrSets.push(cidrs);
    return `addr_in_set(&addr_set_${i}, ${x}, e->family)`;
  }

  private portSet(key: string, ranges: readonly (readonly [number, number])[]): string {
    const x = field(key);
    const ints = ranges
      .map(([lo, hi]) => [Math.ceil(lo), Math.min(65535, Math.floor(hi))] as const)
      .filter(([lo, hi]) => lo <= hi);
    if (ints.length === 0) return '0';
    if (ints.length <= 4) {
      return `(${ints.map(([lo, hi]) => (lo === hi ? `${x} == ${int(lo)}` : `(${x} >= ${int(lo)} && ${x} <= ${int(hi)})`)).join(' || ')})`;
    }
    // Many ranges: a 65,536-bit bitmap in .rodata, one load and a shift,
    // whatever the size of the set (a chain of hundreds of comparisons
    // would grow the program toward the verifier's limits).
    const words = new Map<number, bigint>();
    for (const [lo, hi] of ints) {
      for (let v = lo; v <= hi; v++)
        words.set(v >> 6, (words.get(v >> 6) ?? 0n) | (1n << BigInt(v & 63)));
    }
    const name = `port_set_${this.sets++}`;
    const init = [...words.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([i, w]) => `[${i}] = 0x${w.toString(16)}ULL`)
      .join(', ');
    this.data.push(`static const volatile __u64 ${name}[1024] = { ${init} };`);
    return `((${name}[(${x} >> 6) & 1023] >> (${x} & 63)) & 1)`;
  }

  private expr(p: Pred): string {
    switch (p.k) {
      case 'const':
        return p.value ? '1' : '0';
      case 'and':
        return `(${p.items.map((i) => this.expr(i)).join(' && ')})`;
      case 'or':
        return `(${p.items.map((i) => this.expr(i)).join(' || ')})`;
      case 'not':
        return `!${this.expr(p.item)}`;
      case 'num':
        return compare(field(p.key), p.op, p.value);
      case 'numset': {
        if (KERNEL_KEYS.get(p.key) === 'port') return this.portSet(p.key, p.ranges);
        const x = field(p.key);
        const terms = p.ranges
          .map(([lo, hi]) => [Math.ceil(lo), Math.floor(hi)] as const)
          .filter(([lo, hi]) => lo <= hi)
          .map(([lo, hi]) =>
            lo === hi ? `${x} == ${int(lo)}` : `(${x} >= ${int(lo)} && ${x} <= ${int(hi)})`,
          );
        return terms.length ? `(${terms.join(' || ')})` : '0';
      }
      case 'addr':
        if (p.cidrs.length > MAX_KERNEL_CIDRS) return this.addrSet(p.key, p.cidrs);
        return p.cidrs.length ? `(${p.cidrs.map((c) => cidr(p.key, c)).join(' || ')})` : '0';
      case 'str':
        if (KERNEL_KEYS.get(p.key) === 'enum') {
          const x = field(p.key);
          const codes = [...new Set(p.values.map((v) => enumCode(p.key, v)))];
          return codes.length ? `(${codes.map((c) => `${x} == ${int(c)}`).join(' || ')})` : '0';
        }
        return p.values.length
          ? `(${p.values.map((v) => bytesMatch(p.key, v, true)).join(' || ')})`
          : '0';
      case 'glob': {
        const g = globPrefix(p.pattern);
        if (g.exact === false)
          throw new CodegenError(`glob ${JSON.stringify(p.pattern)} is not a prefix`);
        return bytesMatch(p.key, g.prefix, g.exact === 'equal');
      }
      case 'regex':
        throw new CodegenError('a regex cannot run in the kernel');
      default:
        return assertNever(p);
    }
  }
}

export function emitFilter(p: Pred): EmittedFilter {
  return new CEmitter().emit(p);
}

/**
 * C constants for every enum field's codes, from the registry:
 * ROLE_CLIENT = 1, ROLE_SERVER = 2, OUTCOME_CLOSED = 1, …
 */
export function enumsC(): string {
  return ENTRIES.flatMap(({ name, spec }) =>
    spec.values
      ? [
          `enum {\n${spec.values.map((v, i) => `  ${name.toUpperCase()}_${v.toUpperCase()} = ${i + 1},`).join('\n')}\n};`,
        ]
      : [],
  ).join('\n');
}
