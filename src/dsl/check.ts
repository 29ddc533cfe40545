/**
 * Name resolution and type checking: AST → IR. Every error found is reported;
 * the IR is returned only when there are none.
 */

import { textToBytes } from '../model/text.js';
import { type Cidr, hostBitsSet } from './addr.js';
import {
  assertNever,
  type Expr,
  type Ident,
  type ListItem,
  type ListLit,
  type Literal,
} from './ast.js';
import { type Diagnostic, error, type Related, type Span } from './diagnostic.js';
import { globMinBytes } from './glob.js';
import * as IR from './ir.js';
import { DURATION_UNITS, type FieldDef, type Schema, SIZE_UNITS } from './schema.js';
import { suggest } from './suggest.js';

/** Names a rule file defines; the filter argument may use them. */
export interface NameEnv {
  list(name: string): ListLit | undefined;
  /** A macro or rule: its checked predicate (undefined when unknown). */
  ref(name: string, at: Span): IR.Pred | undefined;
  names(): Iterable<string>;
}

export const emptyEnv: NameEnv = { list: () => undefined, ref: () => undefined, names: () => [] };

const NUMERIC = new Set(['int', 'pid', 'port', 'family', 'size', 'duration']);

function describe(l: Literal | ListItem): string {
  switch (l.kind) {
    case 'int':
    case 'decimal':
      return 'a number';
    case 'size':
      return 'a size';
    case 'duration':
      return 'a duration';
    case 'string':
      return 'a string';
    case 'word':
      return `the bare word '${l.value}'`;
    case 'regex':
      return 'a regex';
    case 'addr':
      return 'an address';
    case 'cidr':
      return 'a CIDR prefix';
    case 'range':
      return 'a range';
    default:
      return assertNever(l);
  }
}

/** The same test on another key (the atoms of one comparison all read one key). */
function rekey(p: IR.Pred, key: string): IR.Pred {
  switch (p.k) {
    case 'const':
      return p;
    case 'and':
      return IR.and(p.items.map((i) => rekey(i, key)));
    case 'or':
      return IR.or(p.items.map((i) => rekey(i, key)));
    case 'not':
      return IR.not(rekey(p.item, key));
    default:
      return { ...p, key };
  }
}

/** For an either-side field, the test on its first key or on its second; else the test. */
function eitherSide(f: FieldDef, p: IR.Pred): IR.Pred {
  return f.either ? IR.or([p, rekey(p, f.either[1])]) : p;
}

export class Checker {
  readonly diagnostics: Diagnostic[] = [];

  constructor(
    private readonly schema: Schema,
    private readonly env: NameEnv = emptyEnv,
  ) {}

  private err(
    code: string,
    span: Span,
    msg: string,
    hints: string[] = [],
    related?: Related,
  ): void {
    this.diagnostics.push(error(code, span, msg, hints, related));
  }

  private field(id: Ident): FieldDef | undefined {
    const f = this.schema.byName.get(id.name);
    // Messages name the field as the user wrote it (dport, not rport).
    if (f) return f.name === id.name ? f : { ...f, name: id.name };
    const near = suggest(id.name, this.schema.byName.keys());
    this.err(
      'unknown-field',
      id.span,
      `unknown field '${id.name}'${near ? `; did you mean '${near}'?` : ''}`,
      [`fields: ${this.schema.fields.map((x) => x.name).join(', ')}`],
    );
    return undefined;
  }

  check(e: Expr): IR.Pred {
    switch (e.kind) {
      case 'or':
        return IR.or(e.items.map((i) => this.check(i)));
      case 'and':
        return IR.and(e.items.map((i) => this.check(i)));
      case 'not':
        return IR.not(this.check(e.operand));
      case 'compare':
        return this.compare(e.field, e.op, e.value, e.span);
      case 'in':
        return this.inList(e.field, e.negated, e.list);
      case 'ref':
        return this.ref(e.name);
      default:
        return assertNever(e);
    }
  }

  private ref(id: Ident): IR.Pred {
    const p = this.env.ref(id.name, id.span);
    if (p) return p;
    const f = this.schema.byName.get(id.name);
    // A true-or-false field is a condition by itself: `not start_seen`.
    if (f?.type === 'bool') return { k: 'num', key: f.key, op: '==', value: 1 };
    if (f) {
      this.err('bare-field', id.span, `field '${id.name}' needs a comparison`, [
        `for example: ${id.name} == ...`,
      ]);
      return IR.TRUE;
    }
    if (this.env.list(id.name)) {
      this.err('list-as-condition', id.span, `'${id.name}' is a list, not a condition`, [
        `use it as: field in ${id.name}`,
      ]);
      return IR.TRUE;
    }
    const names = [...this.env.names(), ...this.schema.byName.keys()];
    const near = suggest(id.name, names);
    this.err(
      'unknown-name',
      id.span,
      `unknown name '${id.name}'${near ? `; did you mean '${near}'?` : ''}`,
      [
        `a condition compares a field: fields are ${this.schema.fields.map((x) => x.name).join(', ')}`,
      ],
    );
    return IR.TRUE;
  }

  /** A number in the field's base units, or undefined after reporting why not. */
  private number(f: FieldDef, v: Literal | ListItem): number | undefined {
    const t = f.type;
    switch (v.kind) {
      case 'int':
      case 'decimal': {
        if (v.kind === 'decimal' && t !== 'size' && t !== 'duration') {
          this.err('type', v.span, `${f.name} is a whole number; ${v.value} has a fraction`);
          return undefined;
        }
        if (!f.bareNumbers) {
          this.err('needs-unit', v.span, `${f.name} needs a unit`, [
            t === 'duration'
              ? `for example: ${f.name} > ${v.value}ms`
              : `for example: ${f.name} > ${v.value}KiB`,
          ]);
          return undefined;
        }
        const value = v.value * f.scale;
        return this.inRange(f, value, v.span);
      }
      case 'size':
        if (t !== 'size') {
          this.err(
            'type',
            v.span,
            `${f.name} is ${t === 'duration' ? 'a duration' : 'not a size'}; a size unit does not apply`,
            t === 'duration' ? ['durations: 250us, 100ms, 1.5s, 2m'] : [],
          );
          return undefined;
        }
        return this.inRange(f, v.value * SIZE_UNITS[v.unit], v.span);
      case 'duration':
        if (t !== 'duration') {
          this.err(
            'type',
            v.span,
            `${f.name} is ${t === 'size' ? 'a size' : 'not a duration'}; a duration unit does not apply`,
            t === 'size' ? ['sizes: 100B, 10KiB, 1.5MiB'] : [],
          );
          return undefined;
        }
        return this.inRange(f, v.value * DURATION_UNITS[v.unit], v.span);
      case 'cidr':
      case 'addr':
      case 'string':
      case 'word':
      case 'regex':
      case 'range':
        this.err('type', v.span, `${describe(v)} cannot be compared with ${f.name}, a number`);
        return undefined;
      default:
        return assertNever(v);
    }
  }

  private inRange(f: FieldDef, value: number, span: Span): number | undefined {
    if (f.type === 'family' && value !== 4 && value !== 6) {
      this.err('range', span, `family is 4 or 6, not ${value}`);
      return undefined;
    }
    if (value > f.max) {
      const what = f.type === 'port' ? 'a port is 0-65535' : `${f.name} is at most ${f.max}`;
      this.err('range', span, `${value} is out of range: ${what}`);
      return undefined;
    }
    return value;
  }

  private compare(fid: Ident, op: string, v: Literal, span: Span): IR.Pred {
    const f = this.field(fid);
    if (!f) return IR.TRUE;
    if (f.either) {
      // pcap's `port`: == holds when either side does, != when neither does.
      const negative = op === '!=';
      const one = this.compareField(f, negative ? '==' : op, v, span);
      const both = eitherSide(f, one);
      return negative ? IR.not(both) : both;
    }
    return this.compareField(f, op, v, span);
  }

  private compareField(f: FieldDef, op: string, v: Literal, span: Span): IR.Pred {
    const key = f.key;
    if (NUMERIC.has(f.type)) {
      if (op === '~' || op === '=~') {
        this.err('type', span, `'${op}' matches strings; ${f.name} is a number`, [
          'a regex or glob applies to comm',
        ]);
        return IR.TRUE;
      }
      const n = this.number(f, v);
      return n === undefined ? IR.TRUE : { k: 'num', key, op: op as IR.NumOp, value: n };
    }
    if (f.type === 'bool') {
      if (op !== '==' && op !== '!=') {
        this.err(
          'type',
          span,
          `${f.name} is true or false: it compares with == and !=, not '${op}'`,
        );
        return IR.TRUE;
      }
      const b = this.boolValue(f, v);
      if (b === undefined) return IR.TRUE;
      return { k: 'num', key, op: op as IR.NumOp, value: b };
    }
    if (f.type === 'enum') {
      if (op !== '==' && op !== '!=') {
        this.err(
          'type',
          span,
          `${f.name} is one of ${f.values!.join(', ')}: it compares with == and != (or in), not '${op}'`,
        );
        return IR.TRUE;
      }
      const w = this.enumValue(f, v);
      if (w === undefined) return IR.TRUE;
      const p: IR.Pred = { k: 'str', key, values: [w] };
      return op === '==' ? p : IR.not(p);
    }
    if (f.type === 'addr') {
      if (op !== '==' && op !== '!=') {
        this.err('type', span, `addresses compare with == and != (or in), not '${op}'`);
        return IR.TRUE;
      }
      const c = this.cidr(f, v);
      if (!c) return IR.TRUE;
      const p: IR.Pred = { k: 'addr', key, cidrs: [c] };
      return op === '==' ? p : IR.not(p);
    }
    // string
    if (op === '=~') {
      if (v.kind !== 'regex') {
        this.err('type', v.span, `'=~' takes a /regex/, not ${describe(v)}`, [
          `${f.name} =~ /^nginx/`,
        ]);
        return IR.TRUE;
      }
      return { k: 'regex', key, source: v.source, flags: v.flags };
    }
    if (v.kind === 'regex') {
      this.err('type', v.span, `a regex matches with '=~', not '${op}'`);
      return IR.TRUE;
    }
    if (op === '~') {
      const s = this.str(f, v, true);
      return s === undefined ? IR.TRUE : { k: 'glob', key, pattern: s };
    }
    if (op !== '==' && op !== '!=') {
      this.err('type', span, `strings compare with ==, !=, ~ (glob) and =~ (regex), not '${op}'`);
      return IR.TRUE;
    }
    const s = this.str(f, v, false);
    if (s === undefined) return IR.TRUE;
    const p: IR.Pred = { k: 'str', key, values: [s] };
    return op === '==' ? p : IR.not(p);
  }

  /** A value of an enum field, bare or quoted; an unknown one is reported with a suggestion. */
  /** true or false, as the record stores it: 1 or 0. */
  private boolValue(f: FieldDef, v: Literal | ListItem): number | undefined {
    if ((v.kind === 'word' || v.kind === 'string') && (v.value === 'true' || v.value === 'false'))
      return v.value === 'true' ? 1 : 0;
    this.err('type', v.span, `${f.name} is true or false; ${describe(v)} is not`, [
      `${f.name} == false`,
    ]);
    return undefined;
  }

  private enumValue(f: FieldDef, v: Literal | ListItem): string | undefined {
    const values = f.values ?? [];
    if (v.kind !== 'word' && v.kind !== 'string') {
      this.err('type', v.span, `${f.name} is one of ${values.join(', ')}; ${describe(v)} is not`);
      return undefined;
    }
    if (values.includes(v.value)) return v.value;
    const near = suggest(v.value, values);
    this.err(
      'unknown-value',
      v.span,
      `'${v.value}' is not a value of ${f.name}${near ? `; did you mean '${near}'?` : ''}`,
      [`${f.name} is one of: ${values.join(', ')}`],
    );
    return undefined;
  }

  private str(f: FieldDef, v: Literal | ListItem, glob: boolean): string | undefined {
    if (v.kind !== 'string') {
      this.err(
        'type',
        v.span,
        `${f.name} is a string; ${describe(v)} cannot be compared with it`,
        v.kind === 'int' || v.kind === 'word' ? [`quote it: "${v.value}"`] : [],
      );
      return undefined;
    }
    if (v.value.includes('\0')) {
      this.err('type', v.span, `${f.name} cannot contain a NUL byte`);
      return undefined;
    }
    // A glob's bytes: its literal bytes and one for each `?` (`\xe9` is one byte).
    const bytes = glob ? globMinBytes(v.value) : textToBytes(v.value).length;
    if (f.maxBytes !== undefined && bytes > f.maxBytes) {
      this.err(
        'range',
        v.span,
        `${f.name} holds at most ${f.maxBytes} bytes; this string (${bytes}) could never match`,
        ['the kernel truncates command names to 15 bytes'],
      );
      return undefined;
    }
    return v.value;
  }

  private cidr(f: FieldDef, v: Literal | ListItem): Cidr | undefined {
    if (v.kind === 'addr') return { addr: v.addr, prefix: v.addr.family === 4 ? 32 : 128 };
    if (v.kind === 'cidr') {
      const c = { addr: v.addr, prefix: v.prefix };
      if (hostBitsSet(c)) {
        this.err('cidr-host-bits', v.span, 'host bits are set after the prefix', [
          'write the network address, e.g. 10.0.0.0/8',
        ]);
        return undefined;
      }
      return c;
    }
    this.err('type', v.span, `${f.name} is an address; ${describe(v)} cannot be compared with it`, [
      '10.0.0.1, 10.0.0.0/8, fd00::1 or fd00::/8',
    ]);
    return undefined;
  }

  private inList(fid: Ident, negated: boolean, ref: ListLit | Ident): IR.Pred {
    const f = this.field(fid);
    let list: ListLit | undefined;
    if (ref.kind === 'ident') {
      list = this.env.list(ref.name);
      const ef = list ? undefined : this.schema.byName.get(fid.name);
      if (!list && ef?.type === 'enum') {
        // `outcome in refused`: a lone bare word of an enum field is its value.
        const f = this.field(fid)!;
        const w = this.enumValue(f, { kind: 'word', value: ref.name, span: ref.span });
        if (w === undefined) return IR.TRUE;
        const p: IR.Pred = { k: 'str', key: f.key, values: [w] };
        return negated ? IR.not(eitherSide(f, p)) : eitherSide(f, p);
      }
      if (!list) {
        const near = suggest(ref.name, this.env.names());
        this.err(
          'unknown-list',
          ref.span,
          `unknown list '${ref.name}'${near ? `; did you mean '${near}'?` : ''}`,
          ['define it in a rule file: list NAME = (…)'],
        );
        return IR.TRUE;
      }
    } else list = ref;
    if (!f) return IR.TRUE;
    if (ref.kind === 'ident') {
      // A named list is checked against the field where it is used, and its
      // errors are reported there, pointing back at the list.
      const mark = this.diagnostics.length;
      const p = this.members(f, list);
      const found = this.diagnostics.splice(mark);
      if (found.length) {
        this.err(
          'type',
          ref.span,
          `list '${ref.name}' does not fit ${f.name}: ${found[0]!.message}`,
          [],
          {
            span: found[0]!.span,
            message: 'this item',
          },
        );
        return IR.TRUE;
      }
      return negated ? IR.not(eitherSide(f, p)) : eitherSide(f, p);
    }
    const p = this.members(f, list);
    return negated ? IR.not(eitherSide(f, p)) : eitherSide(f, p);
  }

  private members(f: FieldDef, list: ListLit): IR.Pred {
    const key = f.key;
    if (f.type === 'bool') {
      const ranges: [number, number][] = [];
      for (const item of list.items) {
        if (item.kind === 'range') {
          this.err('type', item.span, `${f.name} takes values, not ranges`);
          continue;
        }
        const b = this.boolValue(f, item);
        if (b !== undefined) ranges.push([b, b]);
      }
      return { k: 'numset', key, ranges };
    }
    if (f.type === 'enum') {
      const values: string[] = [];
      for (const item of list.items) {
        if (item.kind === 'range') {
          this.err('type', item.span, `${f.name} takes values, not ranges`);
          continue;
        }
        const w = this.enumValue(f, item);
        if (w !== undefined) values.push(w);
      }
      return { k: 'str', key, values };
    }
    if (NUMERIC.has(f.type)) {
      const ranges: [number, number][] = [];
      for (const item of list.items) {
        if (item.kind === 'range') {
          const lo = this.number(f, item.lo);
          const hi = this.number(f, item.hi);
          if (lo === undefined || hi === undefined) continue;
          if (lo > hi) {
            this.err('range', item.span, `empty range: ${lo} is above ${hi}`);
            continue;
          }
          ranges.push([lo, hi]);
        } else {
          const n = this.number(f, item);
          if (n !== undefined) ranges.push([n, n]);
        }
      }
      return { k: 'numset', key, ranges };
    }
    if (f.type === 'addr') {
      const cidrs: Cidr[] = [];
      for (const item of list.items) {
        const c = this.cidr(f, item);
        if (c) cidrs.push(c);
      }
      return { k: 'addr', key, cidrs };
    }
    const values: string[] = [];
    for (const item of list.items) {
      const s = this.str(f, item, false);
      if (s !== undefined) values.push(s);
    }
    return { k: 'str', key, values };
  }
}
