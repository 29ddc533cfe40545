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
  if (flat.length === 0) return FALSE;
  return flat.length === 1 ? flat[0]! : { k: 'or', items: flat };
}

export function not(p: Pred): Pred {
  if (p.k === 'const') return p.value ? FALSE : TRUE;
  if (p.k === 'not') return p.item;
  return { k: 'not', item: p };
}
