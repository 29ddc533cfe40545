/** Checked IR → filter text, for --explain (what runs where). */
import { formatAddr } from './addr.js';
import { assertNever } from './ast.js';
import type { Pred } from './ir.js';
import { printString } from './print.js';

const LEVEL: Record<Pred['k'], number> = {
  or: 1,
  and: 2,
  not: 3,
  const: 4,
  num: 4,
  numset: 4,
  addr: 4,
  str: 4,
  glob: 4,
  regex: 4,
};

export function printPred(p: Pred): string {
  const wrap = (c: Pred, min: number) => (LEVEL[c.k] < min ? `(${printPred(c)})` : printPred(c));
  switch (p.k) {
    case 'const':
      return p.value ? 'true' : 'false';
    case 'or':
      return p.items.map((i) => wrap(i, 2)).join(' or ');
    case 'and':
      return p.items.map((i) => wrap(i, 3)).join(' and ');
    case 'not':
      return `not ${wrap(p.item, 3)}`;
    case 'num':
      return `${p.key} ${p.op} ${p.value}`;
    case 'numset':
      return `${p.key} in (${p.ranges.map(([lo, hi]) => (lo === hi ? `${lo}` : `${lo}..${hi}`)).join(', ')})`;
    case 'addr':
      return `${p.key} in (${p.cidrs.map((c) => `${formatAddr(c.addr)}/${c.prefix}`).join(', ')})`;
    case 'str':
      return p.values.length === 1
        ? `${p.key} == ${printString(p.values[0]!)}`
        : `${p.key} in (${p.values.map(printString).join(', ')})`;
    case 'glob':
      return `${p.key} ~ ${printString(p.pattern)}`;
    case 'regex':
      return `${p.key} =~ /${p.source}/${p.flags}`;
    default:
      return assertNever(p);
  }
}
