/**
 * The embedded half of the language: a typed builder producing the same AST
 * as the parser, so TypeScript checks field names and value kinds:
 *
 *   where(f => f.dport.eq(443).and(f.tx_kb.gt(10)))
 *
 * Values are checked again by the checker like parsed text (ports in range,
 * units that fit the field), since a type cannot say "0 to 65535".
 */

import type { FilterNames } from '../model/fields.js';
import { tcplifeSchema } from '../model/fields.js';
import { parseAddr } from './addr.js';
import type { CompareOp, Expr, Ident, ListItem, Literal } from './ast.js';
import type { Span } from './diagnostic.js';
import {
  DURATION_UNITS,
  type DurationUnit,
  type FieldDef,
  SIZE_UNITS,
  type SizeUnit,
} from './schema.js';

const NOWHERE: Span = { source: { name: '<builder>', text: '' }, start: 0, end: 0 };

export type SizeValue = number | `${number}${SizeUnit}`;
export type DurationValue = number | `${number}${DurationUnit}`;

function numLit(v: number): Literal {
  return Number.isInteger(v)
    ? { kind: 'int', value: v, span: NOWHERE }
    : { kind: 'decimal', value: v, span: NOWHERE };
}

function unitLit(v: number | string): Literal {
  if (typeof v === 'number') return numLit(v);
  const m = /^(\d+(?:\.\d+)?)(.+)$/.exec(v);
  if (!m) throw new TypeError(`not a size or duration: ${v}`);
  const value = Number(m[1]);
  const unit = m[2]!;
  if (unit in SIZE_UNITS) return { kind: 'size', value, unit: unit as SizeUnit, span: NOWHERE };
  if (unit in DURATION_UNITS)
    return { kind: 'duration', value, unit: unit as DurationUnit, span: NOWHERE };
  throw new TypeError(`unknown unit in ${v}`);
}

function addrLit(v: string): Literal {
  const [a, p] = v.split('/');
  const addr = parseAddr(a ?? '');
  if (!addr) throw new TypeError(`not an address: ${v}`);
  return p === undefined
    ? { kind: 'addr', addr, span: NOWHERE }
    : { kind: 'cidr', addr, prefix: Number(p), span: NOWHERE };
}

export class Cond {
  constructor(readonly expr: Expr) {}
  and(other: Cond): Cond {
    // a.and(b).and(c) is the parser's `a and b and c`: one node, three items.
    const items =
      this.expr.kind === 'and' ? [...this.expr.items, other.expr] : [this.expr, other.expr];
    return new Cond({ kind: 'and', items, span: NOWHERE });
  }
  or(other: Cond): Cond {
    const items =
      this.expr.kind === 'or' ? [...this.expr.items, other.expr] : [this.expr, other.expr];
    return new Cond({ kind: 'or', items, span: NOWHERE });
  }
  not(): Cond {
    return new Cond({ kind: 'not', operand: this.expr, span: NOWHERE });
  }
}

export function not(c: Cond): Cond {
  return c.not();
}

abstract class Field<V> {
  protected readonly id: Ident;
  constructor(name: string) {
    this.id = { kind: 'ident', name, span: NOWHERE };
  }
  protected abstract lit(v: V): Literal;
  protected cmp(op: CompareOp, v: V): Cond {
    return new Cond({ kind: 'compare', field: this.id, op, value: this.lit(v), span: NOWHERE });
  }
  protected list(negated: boolean, items: readonly (V | readonly [V, V])[]): Cond {
    const lits: ListItem[] = items.map((i) =>
      Array.isArray(i)
        ? { kind: 'range', lo: this.lit(i[0] as V), hi: this.lit(i[1] as V), span: NOWHERE }
        : this.lit(i as V),
    );
    return new Cond({
      kind: 'in',
      field: this.id,
      negated,
      list: { kind: 'list', items: lits, span: NOWHERE },
      span: NOWHERE,
    });
  }
  eq(v: V): Cond {
    return this.cmp('==', v);
  }
  ne(v: V): Cond {
    return this.cmp('!=', v);
  }
}

export class NumberField<V extends number | string = number> extends Field<V> {
  constructor(
    name: string,
    private readonly units: boolean,
  ) {
    super(name);
  }
  protected lit(v: V): Literal {
    return this.units ? unitLit(v) : numLit(v as number);
  }
  lt(v: V): Cond {
    return this.cmp('<', v);
  }
  le(v: V): Cond {
    return this.cmp('<=', v);
  }
  gt(v: V): Cond {
    return this.cmp('>', v);
  }
  ge(v: V): Cond {
    return this.cmp('>=', v);
  }
  /** Membership: values and inclusive [lo, hi] ranges. */
  in(...items: (V | readonly [V, V])[]): Cond {
    return this.list(false, items);
  }
  notIn(...items: (V | readonly [V, V])[]): Cond {
    return this.list(true, items);
  }
}

export class StringField extends Field<string> {
  protected lit(v: string): Literal {
    return { kind: 'string', value: v, span: NOWHERE };
  }
  /** Glob match: * and ? */
  glob(pattern: string): Cond {
    return this.cmp('~', pattern);
  }
  matches(re: RegExp): Cond {
    return new Cond({
      kind: 'compare',
      field: this.id,
      op: '=~',
      value: { kind: 'regex', source: re.source, flags: re.flags, span: NOWHERE },
      span: NOWHERE,
    });
  }
  in(...items: string[]): Cond {
    return this.list(false, items);
  }
  notIn(...items: string[]): Cond {
    return this.list(true, items);
  }
}

/** An enum field: one of its values (`f.outcome.in('refused', 'timeout')`). */
export class EnumField<V extends string> extends Field<V> {
  protected lit(v: V): Literal {
    return { kind: 'string', value: v, span: NOWHERE };
  }
  in(...items: V[]): Cond {
    return this.list(false, items);
  }
  notIn(...items: V[]): Cond {
    return this.list(true, items);
  }
}

export class BoolField extends Field<boolean> {
  protected lit(v: boolean): Literal {
    return { kind: 'word', value: v ? 'true' : 'false', span: NOWHERE };
  }
}

export class AddrField extends Field<string> {
  protected lit(v: string): Literal {
    return addrLit(v);
  }
  /** Membership in addresses and CIDR networks: '10.0.0.0/8', 'fd00::/8'. */
  in(...items: string[]): Cond {
    return this.list(false, items);
  }
  notIn(...items: string[]): Cond {
    return this.list(true, items);
  }
}

/** The builder field for a registry entry, by its type and units. */
type BuilderField<F> = F extends { readonly type: 'enum'; readonly values: readonly (infer V)[] }
  ? EnumField<V & string>
  : F extends { readonly type: 'bool' }
    ? BoolField
    : F extends { readonly type: 'string' }
      ? StringField
      : F extends { readonly type: 'addr' }
        ? AddrField
        : F extends { readonly type: 'family' }
          ? NumberField<4 | 6>
          : F extends { readonly needsUnit: true; readonly type: 'duration' }
            ? NumberField<`${number}${DurationUnit}`>
            : F extends { readonly type: 'size' }
              ? NumberField<SizeValue>
              : F extends { readonly type: 'duration' }
                ? NumberField<DurationValue>
                : NumberField;

/** The tcplife fields (names and aliases), typed from the field registry. */
export type TcplifeFields = { readonly [N in keyof FilterNames]: BuilderField<FilterNames[N]> };

function builderField(name: string, f: FieldDef): unknown {
  switch (f.type) {
    case 'string':
      return new StringField(name);
    case 'enum':
      return new EnumField(name);
    case 'bool':
      return new BoolField(name);
    case 'addr':
      return new AddrField(name);
    case 'size':
    case 'duration':
      return new NumberField(name, true);
    default:
      return new NumberField(name, false);
  }
}

let fields: TcplifeFields | undefined;

/** Build a filter AST with the compiler checking field names and value kinds. */
export function where(build: (f: TcplifeFields) => Cond): Expr {
  fields ??= Object.fromEntries(
    [...tcplifeSchema.byName].map(([name, f]) => [name, builderField(name, f)]),
  ) as TcplifeFields;
  return build(fields).expr;
}
