/** Decoding and validation of literal tokens into AST literals. */
import type { IToken } from 'chevrotain';
import { bytesToText } from '../model/text.js';
import { parseIPv4, parseIPv6 } from './addr.js';
import type { Literal } from './ast.js';
import { type Diagnostic, error, type SourceText, type Span } from './diagnostic.js';
import { DURATION_UNITS, type DurationUnit, SIZE_UNITS, type SizeUnit } from './schema.js';
import { suggest } from './suggest.js';

export function tokenSpan(source: SourceText, t: IToken): Span {
  if (Number.isNaN(t.startOffset))
    return { source, start: source.text.length, end: source.text.length };
  return { source, start: t.startOffset, end: (t.endOffset ?? t.startOffset) + 1 };
}

const ESCAPES: Record<string, string> = {
  n: '\n',
  t: '\t',
  r: '\r',
  '0': '\0',
  '\\': '\\',
  '"': '"',
};

/**
 * A string literal's value. Strings are bytes underneath (a comm is whatever a
 * process set), so `\xHH` is the byte HH, and the value is in the lossless
 * text form of model/text.ts: `"\xc3\xa9"` is "é", `"\xe9"` is one byte that
 * is not UTF-8.
 */
export function unescapeString(body: string, span: Span, diags: Diagnostic[]): string {
  const bytes: number[] = [];
  const text = (s: string) => {
    for (const b of Buffer.from(s, 'utf8')) bytes.push(b);
  };
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== '\\') {
      const cp = body.codePointAt(i)!;
      const ch = String.fromCodePoint(cp);
      text(ch);
      i += ch.length - 1;
      continue;
    }
    const e = body[i + 1] ?? '';
    if (e in ESCAPES) {
      text(ESCAPES[e]!);
      i++;
    } else if (e === 'x' && /^[0-9A-Fa-f]{2}$/.test(body.slice(i + 2, i + 4))) {
      bytes.push(Number.parseInt(body.slice(i + 2, i + 4), 16));
      i += 3;
    } else {
      const at = span.start + 1 + i;
      diags.push(
        error(
          'bad-escape',
          { source: span.source, start: at, end: at + 2 },
          `unknown escape '\\${e}' in string`,
          ['escapes are \\\\ \\" \\n \\t \\r \\0 and \\xHH'],
        ),
      );
      i++;
    }
  }
  return bytesToText(Uint8Array.from(bytes));
}

function numberValue(text: string, span: Span, diags: Diagnostic[]): number {
  const v = Number(text);
  if (!Number.isFinite(v) || (Number.isInteger(v) && !Number.isSafeInteger(v))) {
    diags.push(error('number-too-large', span, `number ${text} is too large`));
    return 0;
  }
  return v;
}

function addrLiteral(text: string, span: Span, family: 4 | 6, diags: Diagnostic[]): Literal {
  const slash = text.indexOf('/');
  const addrText = slash < 0 ? text : text.slice(0, slash);
  const addr = family === 4 ? parseIPv4(addrText) : parseIPv6(addrText);
  if (!addr) {
    const hint =
      family === 4
        ? 'an IPv4 address is four numbers 0-255 without leading zeros: 10.0.0.1'
        : 'an IPv6 address has eight groups of up to four hex digits, one :: at most: fd00::1';
    diags.push(error('bad-address', span, `invalid IPv${family} address '${addrText}'`, [hint]));
    return {
      kind: 'addr',
      addr: { family, bytes: new Array(family === 4 ? 4 : 16).fill(0) },
      span,
    };
  }
  if (slash < 0) return { kind: 'addr', addr, span };
  const prefix = Number(text.slice(slash + 1));
  const max = family === 4 ? 32 : 128;
  if (prefix > max) {
    const pspan = { source: span.source, start: span.start + slash + 1, end: span.end };
    diags.push(
      error('bad-prefix', pspan, `prefix length ${prefix} is more than ${max} for IPv${family}`),
    );
    return { kind: 'cidr', addr, prefix: max, span };
  }
  return { kind: 'cidr', addr, prefix, span };
}

export function literalFromToken(source: SourceText, t: IToken, diags: Diagnostic[]): Literal {
  const span = tokenSpan(source, t);
  const text = t.image;
  switch (t.tokenType.name) {
    case 'Identifier':
      return { kind: 'word', value: text, span };
    case 'NumberLit': {
      const value = numberValue(text, span, diags);
      return text.includes('.') ? { kind: 'decimal', value, span } : { kind: 'int', value, span };
    }
    case 'HexLit': {
      const v = Number.parseInt(text.slice(2), 16);
      if (!Number.isSafeInteger(v))
        diags.push(error('number-too-large', span, `number ${text} is too large`));
      return { kind: 'int', value: Number.isSafeInteger(v) ? v : 0, span };
    }
    case 'UnitLit': {
      const m = /^(\d+(?:\.\d+)?)(.+)$/.exec(text)!;
      const value = numberValue(m[1]!, span, diags);
      const unit = m[2]!;
      if (unit in SIZE_UNITS) return { kind: 'size', value, unit: unit as SizeUnit, span };
      if (unit in DURATION_UNITS)
        return { kind: 'duration', value, unit: unit as DurationUnit, span };
      const units = [...Object.keys(SIZE_UNITS), ...Object.keys(DURATION_UNITS)];
      const near = suggest(unit, units, true);
      const uspan = { source, start: span.start + m[1]!.length, end: span.end };
      diags.push(
        error(
          'unknown-unit',
          uspan,
          `unknown unit '${unit}'${near ? `; did you mean '${near}'?` : ''}`,
          [
            `sizes: ${Object.keys(SIZE_UNITS).join(' ')} (KB = KiB = 1024 bytes); durations: ${Object.keys(DURATION_UNITS).join(' ')}`,
          ],
        ),
      );
      return { kind: 'int', value, span };
    }
    case 'StringLit':
      return { kind: 'string', value: unescapeString(text.slice(1, -1), span, diags), span };
    case 'RegexLit': {
      const end = text.lastIndexOf('/');
      const src = text.slice(1, end);
      const flags = text.slice(end + 1);
      if (/[gy]/.test(flags)) {
        diags.push(
          error('bad-regex', span, `regex flag 'g' or 'y' makes matching stateful`, [
            'use /.../i, s or m',
          ]),
        );
      } else {
        try {
          new RegExp(src, flags);
        } catch (e) {
          diags.push(
            error('bad-regex', span, `invalid regular expression: ${(e as Error).message}`),
          );
        }
      }
      return { kind: 'regex', source: src, flags: flags.replace(/[gy]/g, ''), span };
    }
    case 'IPv4Lit':
      return addrLiteral(text, span, 4, diags);
    case 'IPv6Lit':
      return addrLiteral(text, span, 6, diags);
    default:
      throw new Error(`not a literal token: ${t.tokenType.name}`);
  }
}
