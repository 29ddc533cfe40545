/**
 * Tokens of the filter language and of rule files. Literals are matched
 * loosely here (any run that looks like an address or a number with a unit)
 * and validated when the AST is built, so `300.1.1.1` or `10kb` get a precise
 * diagnostic instead of a generic "unexpected character".
 */
import { createToken, Lexer, type TokenType } from 'chevrotain';

export const WhiteSpace = createToken({
  name: 'WhiteSpace',
  pattern: /[ \t\r\n]+/,
  group: Lexer.SKIPPED,
  line_breaks: true,
});
export const Comment = createToken({ name: 'Comment', pattern: /#[^\n]*/, group: Lexer.SKIPPED });

export const Identifier = createToken({
  name: 'Identifier',
  label: 'a field name',
  pattern: /[A-Za-z_][A-Za-z0-9_]*/,
});

const kw = (name: string, word: string): TokenType =>
  createToken({
    name,
    label: `'${word}'`,
    pattern: new RegExp(`${word}\\b`),
    longer_alt: Identifier,
  });

export const And = kw('And', 'and');
export const Or = kw('Or', 'or');
export const Not = kw('Not', 'not');
export const In = kw('In', 'in');
// Rule-file statements.
export const List = kw('List', 'list');
export const Macro = kw('Macro', 'macro');
export const Rule = kw('Rule', 'rule');
export const Include = kw('Include', 'include');
export const Tags = kw('Tags', 'tags');
export const Desc = kw('Desc', 'desc');
export const Sample = kw('Sample', 'sample');
export const Matches = kw('Matches', 'matches');
export const Rejects = kw('Rejects', 'rejects');

export const AndAnd = createToken({ name: 'AndAnd', label: "'&&'", pattern: /&&/ });
export const OrOr = createToken({ name: 'OrOr', label: "'||'", pattern: /\|\|/ });
export const Eq = createToken({ name: 'Eq', label: "'=='", pattern: /==/ });
export const Ne = createToken({ name: 'Ne', label: "'!='", pattern: /!=/ });
export const RegexMatch = createToken({ name: 'RegexMatch', label: "'=~'", pattern: /=~/ });
export const Le = createToken({ name: 'Le', label: "'<='", pattern: /<=/ });
export const Ge = createToken({ name: 'Ge', label: "'>='", pattern: />=/ });
export const Lt = createToken({ name: 'Lt', label: "'<'", pattern: /</ });
export const Gt = createToken({ name: 'Gt', label: "'>'", pattern: />/ });
export const Bang = createToken({ name: 'Bang', label: "'!'", pattern: /!/ });
export const Tilde = createToken({ name: 'Tilde', label: "'~'", pattern: /~/ });
export const Assign = createToken({ name: 'Assign', label: "'='", pattern: /=/ });
export const LParen = createToken({ name: 'LParen', label: "'('", pattern: /\(/ });
export const RParen = createToken({ name: 'RParen', label: "')'", pattern: /\)/ });
export const LBrace = createToken({ name: 'LBrace', label: "'{'", pattern: /\{/ });
export const RBrace = createToken({ name: 'RBrace', label: "'}'", pattern: /\}/ });
export const Comma = createToken({ name: 'Comma', label: "','", pattern: /,/ });
export const Colon = createToken({ name: 'Colon', label: "':'", pattern: /:/ });
export const DotDot = createToken({ name: 'DotDot', label: "'..'", pattern: /\.\./ });

export const StringLit = createToken({
  name: 'StringLit',
  label: 'a string',
  pattern: /"(?:[^"\\\n]|\\.)*"/,
});
export const UnterminatedString = createToken({
  name: 'UnterminatedString',
  pattern: /"(?:[^"\\\n]|\\.)*/,
});
export const RegexLit = createToken({
  name: 'RegexLit',
  label: 'a /regex/',
  pattern: /\/(?:[^/\\\n]|\\.)+\/[A-Za-z]*/,
});

const HEXISH = /[0-9A-Fa-f:.]/;
/**
 * An IPv6-looking run: hex digits, colons and dots with `::` or at least two
 * colons, optionally `/len`. A custom matcher because a regex for "valid IPv6"
 * is unreadable, and validation belongs to the AST builder anyway.
 */
function matchIPv6(text: string, offset: number): RegExpExecArray | null {
  let i = offset;
  let colons = 0;
  while (i < text.length && HEXISH.test(text[i]!)) {
    // `..` starts the upper bound of a range, not part of the address.
    if (text[i] === '.' && text[i + 1] === '.') break;
    if (text[i] === ':') colons++;
    i++;
  }
  // `rule name:` has one colon after a word; an address has two or more.
  if (colons < 2) return null;
  const m = /^\/\d+/.exec(text.slice(i, i + 5));
  if (m) i += m[0].length;
  // Followed by a letter the run was a word such as `face::x`? No such words exist,
  // but keep the boundary honest.
  if (i < text.length && /[G-Zg-z_]/.test(text[i]!)) return null;
  const result = [text.slice(offset, i)] as unknown as RegExpExecArray;
  return result;
}

export const IPv6Lit = createToken({
  name: 'IPv6Lit',
  label: 'an IPv6 address or CIDR',
  pattern: { exec: matchIPv6 },
  line_breaks: false,
  start_chars_hint: [...'0123456789abcdefABCDEF:'],
});
export const IPv4Lit = createToken({
  name: 'IPv4Lit',
  label: 'an IPv4 address or CIDR',
  pattern: /\d+\.\d+\.\d+\.\d+(?:\/\d+)?/,
});
export const HexLit = createToken({
  name: 'HexLit',
  label: 'a number',
  pattern: /0[xX][0-9A-Fa-f]+/,
});
/** A number with a unit glued to it: 10KiB, 1.5s, 250us. */
export const UnitLit = createToken({
  name: 'UnitLit',
  label: 'a size or duration (10KiB, 250ms)',
  pattern: /\d+(?:\.\d+)?[A-Za-zµ]+/,
});
export const NumberLit = createToken({
  name: 'NumberLit',
  label: 'a number',
  pattern: /\d+(?:\.\d+)?/,
});

export const allTokens: TokenType[] = [
  WhiteSpace,
  Comment,
  IPv6Lit,
  IPv4Lit,
  HexLit,
  UnitLit,
  NumberLit,
  StringLit,
  UnterminatedString,
  RegexLit,
  AndAnd,
  OrOr,
  Eq,
  Ne,
  RegexMatch,
  Le,
  Ge,
  Lt,
  Gt,
  Bang,
  Tilde,
  Assign,
  LParen,
  RParen,
  LBrace,
  RBrace,
  Comma,
  Colon,
  DotDot,
  And,
  Or,
  Not,
  In,
  List,
  Macro,
  Rule,
  Include,
  Tags,
  Desc,
  Sample,
  Matches,
  Rejects,
  Identifier,
];

/**
 * Chevrotain validates token definitions and the grammar when they are built,
 * which costs ~80 ms of every start. The test suite builds both with
 * validations on (test/dsl/grammar.test.ts); the tool skips them.
 */
export const VALIDATE_GRAMMAR = process.env.TCPLIFE_VALIDATE_GRAMMAR === '1';

export function makeLexer(validate = VALIDATE_GRAMMAR): Lexer {
  return new Lexer(allTokens, {
    ensureOptimizations: false,
    positionTracking: 'full',
    skipValidations: !validate,
  });
}

let lexerInstance: Lexer | undefined;
/** The one lexer, built on first use (a run with no filter text never needs it). */
export function lexer(): Lexer {
  lexerInstance ??= makeLexer();
  return lexerInstance;
}
