/**
 * The reference evaluator: the meaning of a filter on a decoded session.
 * Kernel code and userspace operators are tested against it, so it is plain
 * and direct rather than fast (see compile.ts for the fast closure).
 */
import { type Addr, inCidr, parseAddr } from './addr.js';
import { assertNever } from './ast.js';
import { globMatcher } from './glob.js';
import type { Pred } from './ir.js';

export type Record_ = Readonly<Record<string, unknown>>;

export function addrOf(v: unknown): Addr | undefined {
  if (typeof v === 'string') return parseAddr(v);
  if (v && typeof v === 'object' && 'bytes' in v) return v as Addr;
  return undefined;
}

export function compareNum(x: number, op: string, v: number): boolean {
  switch (op) {
    case '==':
      return x === v;
    case '!=':
      return x !== v;
    case '<':
      return x < v;
    case '<=':
      return x <= v;
    case '>':
      return x > v;
    case '>=':
      return x >= v;
    default:
      throw new Error(`bad op ${op}`);
  }
}

export function evaluate(p: Pred, s: Record_): boolean {
  switch (p.k) {
    case 'const':
      return p.value;
    case 'and':
      return p.items.every((i) => evaluate(i, s));
    case 'or':
      return p.items.some((i) => evaluate(i, s));
    case 'not':
      return !evaluate(p.item, s);
    case 'num':
      return compareNum(Number(s[p.key]), p.op, p.value);
    case 'numset': {
      const x = Number(s[p.key]);
      return p.ranges.some(([lo, hi]) => x >= lo && x <= hi);
    }
    case 'addr': {
      const a = addrOf(s[p.key]);
      return a !== undefined && p.cidrs.some((c) => inCidr(a, c));
    }
    case 'str':
      return p.values.includes(String(s[p.key]));
    case 'glob':
      return globMatcher(p.pattern)(String(s[p.key]));
    case 'regex':
      return new RegExp(p.source, p.flags).test(String(s[p.key]));
    default:
      return assertNever(p);
  }
}
