/**
 * The checked form of a filter: field names resolved to event keys, values
 * converted to base units (bytes, µs), lists flattened. The evaluator gives
 * its meaning; codegen splits it between kernel and userspace.
 */
import type { Cidr } from './addr.js';

export type NumOp = '==' | '!=' | '<' | '<=' | '>' | '>=';

export type Pred =
  | { readonly k: 'const'; readonly value: boolean }
  | { readonly k: 'and'; readonly items: readonly Pred[] }
  | { readonly k: 'or'; readonly items: readonly Pred[] }
  | { readonly k: 'not'; readonly item: Pred }
  /** key op value; value in base units and may have a fraction (tx_kb > 1.5). */
  | { readonly k: 'num'; readonly key: string; readonly op: NumOp; readonly value: number }
  /** key within any of the inclusive ranges */
  | {
      readonly k: 'numset';
      readonly key: string;
      readonly ranges: readonly (readonly [number, number])[];
    }
  /** address within any of the networks (equality is a /32 or /128) */
  | { readonly k: 'addr'; readonly key: string; readonly cidrs: readonly Cidr[] }
  /** string equal to any of the values */
  | { readonly k: 'str'; readonly key: string; readonly values: readonly string[] }
  /** glob: * any run, ? one character, \ escapes */
  | { readonly k: 'glob'; readonly key: string; readonly pattern: string }
  | { readonly k: 'regex'; readonly key: string; readonly source: string; readonly flags: string };

export const TRUE: Pred = { k: 'const', value: true };
export const FALSE: Pred = { k: 'const', value: false };

export function and(items: readonly Pred[]): Pred {
  const flat: Pred[] = [];
  for (const p of items) {
    if (p.k === 'const') {
      if (!p.value) return FALSE;
      continue;
    }
    if (p.k === 'and') flat.push(...p.items);
    else flat.push(p);
  }
  if (flat.length === 0) return TRUE;
  return flat.length === 1 ? flat[0]! : { k: 'and', items: flat };
}

export function or(items: readonly Pred[]): Pred {
  const flat: Pred[] = [];
  for (const p of items) {
    if (p.k === 'const') {
      if (p.value) return TRUE;
      continue;
    }
    if (p.k === 'or') flat.push(...p.items);
    else flat.push(p);
  }
  const merged = mergeSets(flat);
  if (merged.length === 0) return FALSE;
  return merged.length === 1 ? merged[0]! : { k: 'or', items: merged };
}

/** The ranges a numeric atom accepts, if it is `key == v` or `key in (…)`. */
function rangesOf(p: Pred): readonly (readonly [number, number])[] | undefined {
  if (p.k === 'numset') return p.ranges;
  if (p.k === 'num' && p.op === '==') return [[p.value, p.value]];
  return undefined;
}

/**
 * `x == 1 or x == 2 or x in (5..9)` is `x in (1, 2, 5..9)`: one set per key,
 * at the place of its first member, so that a 10,000-term chain of ports is
 * one set (a bitmap in the kernel), not 10,000 comparisons.
 */
function mergeSets(items: readonly Pred[]): Pred[] {
  const sets = new Map<string, { at: number; ranges: (readonly [number, number])[] }>();
  const out: (Pred | undefined)[] = [];
  for (const p of items) {
    const r = rangesOf(p);
    if (!r || !('key' in p)) {
      out.push(p);
      continue;
    }
    const set = sets.get(p.key);
    if (set) {
      set.ranges.push(...r);
      out.push(undefined);
    } else {
      sets.set(p.key, { at: out.length, ranges: [...r] });
      out.push(p);
    }
  }
  for (const [key, set] of sets) {
    const first = out[set.at]!;
    if (set.ranges.length > 1 || first.k === 'numset')
      out[set.at] = { k: 'numset', key, ranges: coalesce(set.ranges) };
  }
  return out.filter((p): p is Pred => p !== undefined);
}

/** Ranges sorted, with overlapping and adjacent whole-number ranges joined. */
function coalesce(ranges: readonly (readonly [number, number])[]): (readonly [number, number])[] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const out: [number, number][] = [];
  for (const [lo, hi] of sorted) {
    const last = out.at(-1);
    const touches =
      last !== undefined &&
      (lo <= last[1] || (Number.isInteger(lo) && Number.isInteger(last[1]) && lo === last[1] + 1));
    if (last && touches) last[1] = Math.max(last[1], hi);
    else out.push([lo, hi]);
  }
  return out;
}

export function not(p: Pred): Pred {
  if (p.k === 'const') return p.value ? FALSE : TRUE;
  if (p.k === 'not') return p.item;
  return { k: 'not', item: p };
}
