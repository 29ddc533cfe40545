/** AST → canonical text. Parsing the result gives the same AST (spans aside). */
import { formatAddr } from './addr.js';
import { assertNever, type Expr, type ListItem, type Literal, type Statement } from './ast.js';

function num(v: number, forceFraction: boolean): string {
  let s = String(v);
  if (/e/i.test(s)) s = v.toFixed(20).replace(/0+$/, '').replace(/\.$/, '.0');
  if (forceFraction && !s.includes('.')) s += '.0';
  return s;
}

/** A string literal for a value in the lossless text form: its \xHH stay byte escapes. */
export function printString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '\\' && /^x[0-9a-fA-F]{2}$/.test(s.slice(i + 1, i + 4))) {
      out += s.slice(i, i + 4);
      i += 3;
    } else if (c === '"') out += '\\"';
    else if (c === '\\') out += '\\\\';
    else if (c === '\n') out += '\\n';
    else if (c === '\t') out += '\\t';
    else if (c === '\r') out += '\\r';
    else if (c === '\0') out += '\\0';
    else if (c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)
      out += `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
    else out += c;
  }
  return `${out}"`;
}

export function printLiteral(l: Literal | ListItem): string {
  switch (l.kind) {
    case 'int':
      return num(l.value, false);
    case 'decimal':
      return num(l.value, true);
    case 'size':
    case 'duration':
      return `${num(l.value, false)}${l.unit}`;
    case 'string':
      return printString(l.value);
    case 'word':
      return l.value;
    case 'regex':
      return `/${l.source}/${l.flags}`;
    case 'addr':
      return formatAddr(l.addr);
    case 'cidr':
      return `${formatAddr(l.addr)}/${l.prefix}`;
    case 'range':
      return `${printLiteral(l.lo)}..${printLiteral(l.hi)}`;
    default:
      return assertNever(l);
  }
}

const LEVEL = { or: 1, and: 2, not: 3, compare: 4, in: 4, ref: 4 } as const;

export function printExpr(e: Expr): string {
  const wrap = (child: Expr, min: number) => {
    const s = printExpr(child);
    return LEVEL[child.kind] < min ? `(${s})` : s;
  };
  switch (e.kind) {
    case 'or':
      // An item of the same kind is a group of its own: it keeps its parentheses.
      return e.items.map((i) => wrap(i, 2)).join(' or ');
    case 'and':
      return e.items.map((i) => wrap(i, 3)).join(' and ');
    case 'not':
      return `not ${wrap(e.operand, 3)}`;
    case 'compare':
      return `${e.field.name} ${e.op} ${printLiteral(e.value)}`;
    case 'in': {
      const list =
        e.list.kind === 'ident' ? e.list.name : `(${e.list.items.map(printLiteral).join(', ')})`;
      return `${e.field.name} ${e.negated ? 'not in' : 'in'} ${list}`;
    }
    case 'ref':
      return e.name.name;
    default:
      return assertNever(e);
  }
}

export function printStatement(s: Statement): string {
  switch (s.kind) {
    case 'include':
      return `include ${printString(s.path)}`;
    case 'list':
      return `list ${s.name.name} = (${s.list.items.map(printLiteral).join(', ')})`;
    case 'macro':
      return `macro ${s.name.name} = ${printExpr(s.expr)}`;
    case 'rule': {
      let out = `rule ${s.name.name}: ${printExpr(s.expr)}`;
      if (s.tags.length) out += `\n  tags (${s.tags.map((t) => t.name).join(', ')})`;
      if (s.desc !== undefined) out += `\n  desc ${printString(s.desc)}`;
      return out;
    }
    case 'sample': {
      const fields = s.fields.map((f) => `${f.name.name}: ${printLiteral(f.value)}`).join(', ');
      let out = `sample {${fields}}`;
      if (s.matches.length) out += ` matches ${s.matches.map((m) => m.name).join(', ')}`;
      if (s.rejects.length) out += ` rejects ${s.rejects.map((m) => m.name).join(', ')}`;
      return out;
    }
    default:
      return assertNever(s);
  }
}
