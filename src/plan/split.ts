/**
 * Split a checked filter into the strongest condition the kernel can decide
 * that every accepted session satisfies (the kernel part may let through
 * what userspace then drops, never the reverse).
 *
 * weaken(P) gives W with P ⇒ W; strengthen(P) gives S with S ⇒ P; negation
 * swaps the two. `exact` says the result is equivalent to P, in which case
 * userspace need not look at the session again.
 */
import { assertNever } from '../dsl/ast.js';
import { globPrefix } from '../dsl/glob.js';
import type { Pred } from '../dsl/ir.js';
import * as IR from '../dsl/ir.js';
import { KERNEL_KEYS } from '../model/fields.js';
import { textToBytes } from '../model/text.js';

/** Past these, a set is checked in userspace (ports use a bitmap instead). */
export const MAX_KERNEL_RANGES = 32;
/** Address sets up to this many CIDRs are comparisons in the C; longer ones, tries. */
export const MAX_KERNEL_CIDRS = 32;
/** Longer address sets the kernel looks up in a trie, at most this many per filter (the template's addr_set_N). */
export const MAX_KERNEL_ADDR_SETS = 4;
/** A comm compared byte by byte: the kernel keeps 15 bytes and a NUL. */
const COMM_BYTES = 15;

interface Part {
  readonly p: Pred;
  readonly exact: boolean;
}

/** What the split has used so far of the kernel's fixed means (its address tries). */
interface Budget {
  addrSets: number;
}

function atom(p: Pred, dir: 'weaken' | 'strengthen', budget: Budget): Part {
  const inexact = (): Part => ({ p: dir === 'weaken' ? IR.TRUE : IR.FALSE, exact: false });
  if (p.k === 'const') return { p, exact: true };
  if (!('key' in p)) throw new Error('not an atom');
  const kind = KERNEL_KEYS.get(p.key);
  if (!kind) return inexact();
  switch (p.k) {
    case 'num':
      return kind === 'num' || kind === 'port' ? { p, exact: true } : inexact();
    case 'numset':
      if (kind === 'port') return { p, exact: true };
      return kind === 'num' && p.ranges.length <= MAX_KERNEL_RANGES
        ? { p, exact: true }
        : inexact();
    case 'addr':
      if (kind !== 'addr') return inexact();
      if (p.cidrs.length <= MAX_KERNEL_CIDRS) return { p, exact: true };
      if (budget.addrSets >= MAX_KERNEL_ADDR_SETS) return inexact();
      budget.addrSets++;
      return { p, exact: true };
    case 'str':
      // An enum's values are small codes in the kernel's record.
      if (kind === 'enum') return { p, exact: true };
      if (kind !== 'comm' || p.values.length > MAX_KERNEL_RANGES) return inexact();
      return p.values.every((v) => textToBytes(v).length <= COMM_BYTES)
        ? { p, exact: true }
        : inexact();
    case 'glob': {
      if (kind !== 'comm') return inexact();
      const g = globPrefix(p.pattern);
      if (textToBytes(g.prefix).length > COMM_BYTES) return inexact();
      if (g.exact === 'equal')
        return { p: { k: 'str', key: p.key, values: [g.prefix] }, exact: true };
      if (g.exact === 'prefix') return { p, exact: true };
      // "ja*va": the kernel checks the prefix "ja", userspace the rest.
      if (dir === 'strengthen') return inexact();
      return {
        p: { k: 'glob', key: p.key, pattern: `${g.prefix.replace(/[*?\\]/g, '\\$&')}*` },
        exact: false,
      };
    }
    case 'regex':
      return inexact();
    default:
      return assertNever(p);
  }
}

function part(p: Pred, dir: 'weaken' | 'strengthen', budget: Budget): Part {
  switch (p.k) {
    case 'and':
    case 'or': {
      const parts = p.items.map((i) => part(i, dir, budget));
      const items = parts.map((x) => x.p);
      return {
        p: p.k === 'and' ? IR.and(items) : IR.or(items),
        exact: parts.every((x) => x.exact),
      };
    }
    case 'not': {
      const inner = part(p.item, dir === 'weaken' ? 'strengthen' : 'weaken', budget);
      return { p: IR.not(inner.p), exact: inner.exact };
    }
    default:
      return atom(p, dir, budget);
  }
}

export interface Split {
  /** What the kernel decides. */
  readonly kernel: Pred;
  /** What userspace must still check (TRUE when the kernel part is exact). */
  readonly user: Pred;
}

export function splitFilter(p: Pred): Split {
  const k = part(p, 'weaken', { addrSets: 0 });
  return { kernel: k.p, user: k.exact ? IR.TRUE : p };
}
