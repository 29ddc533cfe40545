/**
 * IR → a JS closure for the userspace half of a filter. Same meaning as
 * evaluate() (a property test holds them equal), but regexes and globs are
 * built once.
 */
import { inCidr } from './addr.js';
import { assertNever } from './ast.js';
import { addrOf, compareNum, type Record_ } from './evaluate.js';
import { globMatcher } from './glob.js';
import type { Pred } from './ir.js';

export type Predicate = (s: Record_) => boolean;

export function compilePredicate(p: Pred): Predicate {
  switch (p.k) {
    case 'const': {
      const v = p.value;
      return () => v;
    }
    case 'and': {
      const fs = p.items.map(compilePredicate);
      return (s) => {
        for (const f of fs) if (!f(s)) return false;
        return true;
      };
    }
    case 'or': {
      const fs = p.items.map(compilePredicate);
      return (s) => {
        for (const f of fs) if (f(s)) return true;
        return false;
      };
    }
    case 'not': {
      const f = compilePredicate(p.item);
      return (s) => !f(s);
    }
    case 'num': {
      const { key, op, value } = p;
      return (s) => compareNum(s[key] as number, op, value);
    }
    case 'numset': {
      const { key, ranges } = p;
      return (s) => {
        const x = s[key] as number;
        for (const [lo, hi] of ranges) if (x >= lo && x <= hi) return true;
        return false;
      };
    }
    case 'addr': {
      const { key, cidrs } = p;
      return (s) => {
        const a = addrOf(s[key]);
        if (!a) return false;
        for (const c of cidrs) if (inCidr(a, c)) return true;
        return false;
      };
    }
    case 'str': {
      const { key } = p;
      const set = new Set(p.values);
      return (s) => set.has(s[key] as string);
    }
    case 'glob': {
      const { key } = p;
      const matches = globMatcher(p.pattern);
      return (s) => matches(s[key] as string);
    }
    case 'regex': {
      const { key } = p;
      const re = new RegExp(p.source, p.flags);
      return (s) => re.test(s[key] as string);
    }
    default:
      return assertNever(p);
  }
}
