/**
 * Text → AST, never throwing: lexing and parsing errors become diagnostics
 * (every one found, thanks to Chevrotain's error recovery), with the tokens
 * that were expected as a hint.
 */
import { type IRecognitionException, type IToken, type TokenType, tokenLabel } from 'chevrotain';
import type { Expr, Statement } from './ast.js';
import { AstBuilder } from './build-ast.js';
import { type Diagnostic, error, type SourceText, type Span } from './diagnostic.js';
import { tokenSpan } from './literals.js';
import { type Expected, type FilterParser, parser } from './parser.js';
import * as T from './tokens.js';

function found(t: IToken): string {
  return t.tokenType.name === 'EOF' ? 'end of input' : `'${t.image}'`;
}

/** The labels of what could have come next, as the parser's message provider gave them. */
function expectedOf(e: IRecognitionException): readonly string[] {
  try {
    return (JSON.parse(e.message) as Expected).expected;
  } catch {
    return [];
  }
}

/** Labels of the tokens that are values, for "expected a value". */
const VALUES: ReadonlySet<string> = new Set(
  [T.NumberLit, T.HexLit, T.UnitLit, T.StringLit, T.RegexLit, T.IPv4Lit, T.IPv6Lit].map(tokenLabel),
);

const WORD = 'a bare word (role == server)';

/** Tokens that are values (a bare word aside). */
const VALUE_TOKENS: ReadonlySet<TokenType> = new Set([
  T.NumberLit,
  T.HexLit,
  T.UnitLit,
  T.StringLit,
  T.RegexLit,
  T.IPv4Lit,
  T.IPv6Lit,
]);

/** Habits from other tools: `dport = 443` (SQL, Falco's older syntax), `port 443` (pcap). */
function habit(prev: IToken | undefined, t: IToken, span: Span): Diagnostic | undefined {
  if (t.tokenType === T.Assign)
    return error('syntax', span, "'=' does not compare; use '=='", [
      prev ? `${prev.image} == …` : 'dport == 443',
    ]);
  if (prev?.tokenType === T.Identifier && VALUE_TOKENS.has(t.tokenType))
    return error(
      'syntax',
      span,
      `a comparison needs an operator between '${prev.image}' and ${found(t)}`,
      [`did you mean: ${prev.image} == ${t.image}?`],
    );
  return undefined;
}

function syntaxDiagnostic(
  source: SourceText,
  e: IRecognitionException,
  tokens: readonly IToken[],
): Diagnostic {
  const t = e.token;
  const span = tokenSpan(source, t);
  if (e.name === 'NotAllInputParsedException') {
    const prev = tokens[tokens.indexOf(t) - 1];
    return (
      habit(prev, t, span) ??
      error('syntax', span, `unexpected ${found(t)} after a complete expression`, [
        'join conditions with and / or; group them with ( )',
      ])
    );
  }
  const expected = expectedOf(e);
  if (t.tokenType.name === 'UnterminatedString') {
    return error('syntax', span, 'unterminated string', ['close it with a double quote']);
  }
  // Where a value may stand, a bare word is an enum's value, not a field name.
  const name = tokenLabel(T.Identifier);
  const isValue = expected.some((x) => VALUES.has(x));
  const shown = isValue ? expected.map((x) => (x === name ? WORD : x)) : expected;
  const what =
    shown.length === 1
      ? shown[0]
      : shown.every((x) => VALUES.has(x) || x === WORD)
        ? 'a value'
        : 'one of these';
  const hints = shown.length > 1 ? [`expected one of: ${shown.join(', ')}`] : [];
  return error('syntax', span, `expected ${what}, found ${found(t)}`, hints);
}

/**
 * How deeply parentheses and `not`s may nest. The parser and every pass after
 * it recurse once per level; chains (`a or b or c`, lists) do not nest, so
 * they may be as long as memory allows.
 */
export const MAX_NESTING = 100;

/** The first token past MAX_NESTING levels of open parentheses and consecutive nots. */
function nestingBeyond(tokens: readonly IToken[]): IToken | undefined {
  let parens = 0;
  let nots = 0;
  for (const t of tokens) {
    const name = t.tokenType.name;
    if (name === 'LParen') parens++;
    else if (name === 'RParen') parens = Math.max(0, parens - 1);
    if (name === 'Not' || name === 'Bang') nots++;
    else if (name !== 'LParen') nots = 0;
    if (parens + nots > MAX_NESTING) return t;
  }
  return undefined;
}

interface Parsed<T> {
  readonly value: T | undefined;
  readonly diagnostics: Diagnostic[];
}

function run<T>(
  source: SourceText,
  rule: (p: FilterParser) => unknown,
  build: (b: AstBuilder, cst: never) => T,
): Parsed<T> {
  const diagnostics: Diagnostic[] = [];
  const lexed = T.lexer().tokenize(source.text);
  for (const e of lexed.errors) {
    const span = { source, start: e.offset, end: e.offset + Math.max(1, e.length) };
    const ch = source.text.slice(e.offset, e.offset + 1);
    diagnostics.push(error('lex', span, `unexpected character '${ch}'`));
  }
  for (const t of lexed.tokens) {
    if (t.tokenType.name === 'UnterminatedString') {
      diagnostics.push(
        error('syntax', tokenSpan(source, t), 'unterminated string', [
          'close it with a double quote',
        ]),
      );
    }
  }
  const toks = lexed.tokens.filter((t) => t.tokenType.name !== 'UnterminatedString');
  const tooDeep = nestingBeyond(toks);
  if (tooDeep) {
    diagnostics.push(
      error(
        'too-deep',
        tokenSpan(source, tooDeep),
        `nested more than ${MAX_NESTING} levels deep (parentheses and not)`,
        ['a long condition is a list, lport in (80, 443, 8000..8099), or a chain: a or b or c'],
      ),
    );
    return { value: undefined, diagnostics };
  }
  const p = parser();
  p.input = toks;
  const cst = rule(p);
  for (const e of p.errors) diagnostics.push(syntaxDiagnostic(source, e, toks));
  if (diagnostics.length > 0 || !cst) return { value: undefined, diagnostics };
  // Literal errors (a bad address, an unknown unit) leave a placeholder in the
  // tree, so the checker still runs and reports its own errors too.
  const value = build(new AstBuilder(source, diagnostics), cst as never);
  return { value, diagnostics };
}

/** Parse a filter expression. */
export function parseFilter(
  text: string,
  name = '<filter>',
): { ast: Expr | undefined; diagnostics: Diagnostic[] } {
  const source = { name, text };
  if (text.trim() === '') {
    return {
      ast: undefined,
      diagnostics: [
        error('syntax', { source, start: 0, end: text.length }, 'empty filter', [
          'try: dport == 443',
        ]),
      ],
    };
  }
  const r = run(
    source,
    (p) => p.filter(),
    (b, cst: import('chevrotain').CstNode) =>
      b.expression(cst.children.expression![0] as import('chevrotain').CstNode),
  );
  return { ast: r.value, diagnostics: r.diagnostics };
}

/** Parse a rule file's statements. */
export function parseRuleFile(
  text: string,
  name: string,
): { statements: Statement[] | undefined; diagnostics: Diagnostic[] } {
  const r = run(
    { name, text },
    (p) => p.ruleFile(),
    (b, cst: import('chevrotain').CstNode) => b.ruleFile(cst),
  );
  return { statements: r.value, diagnostics: r.diagnostics };
}
