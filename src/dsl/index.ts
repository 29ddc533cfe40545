/**
 * The filter language's facade: text (or a builder AST) in, checked IR and
 * diagnostics out. It never throws on user input. The passes, in order:
 * lex+parse → build AST → resolve names and check types.
 */

import { tcplifeSchema } from '../model/fields.js';
import type { Expr } from './ast.js';
import { Checker, emptyEnv, type NameEnv } from './check.js';
import { type Diagnostic, error, hasErrors } from './diagnostic.js';
import type { Pred } from './ir.js';
import { parseFilter } from './parse.js';
import { pcapEquivalent } from './pcap.js';
import { printExpr } from './print.js';
import type { Schema } from './schema.js';

export interface CompiledFilter {
  readonly ast: Expr | undefined;
  readonly pred: Pred | undefined;
  readonly diagnostics: readonly Diagnostic[];
}

export interface CompileOptions {
  readonly schema?: Schema;
  readonly env?: NameEnv;
  /** Shown in diagnostics; '<filter>' by default. */
  readonly sourceName?: string;
}

export function checkExpr(
  ast: Expr,
  opts: CompileOptions = {},
): { pred: Pred | undefined; diagnostics: Diagnostic[] } {
  const checker = new Checker(opts.schema ?? tcplifeSchema, opts.env ?? emptyEnv);
  const pred = checker.check(ast);
  return {
    pred: hasErrors(checker.diagnostics) ? undefined : pred,
    diagnostics: checker.diagnostics,
  };
}

export function compileFilter(input: string | Expr, opts: CompileOptions = {}): CompiledFilter {
  // A builder AST has no source text: print it, so diagnostics can point into it.
  const text = typeof input === 'string' ? input : printExpr(input);
  const parsed = parseFilter(
    text,
    opts.sourceName ?? (typeof input === 'string' ? '<filter>' : '<builder>'),
  );
  if (!parsed.ast) {
    const pcap = pcapDiagnostic(text, parsed.diagnostics, opts);
    return { ast: undefined, pred: undefined, diagnostics: pcap ? [pcap] : parsed.diagnostics };
  }
  const { pred, diagnostics } = checkExpr(parsed.ast, opts);
  // In source order, whichever pass found them.
  const all = [...parsed.diagnostics, ...diagnostics].sort((a, b) => a.span.start - b.span.start);
  return { ast: parsed.ast, pred: hasErrors(all) ? undefined : pred, diagnostics: all };
}

/**
 * One pointed error for a filter written in pcap-filter's syntax, naming the
 * tcplife filter that means it (when that one compiles), instead of the
 * parser's "unexpected 'port'".
 */
function pcapDiagnostic(
  text: string,
  found: readonly Diagnostic[],
  opts: CompileOptions,
): Diagnostic | undefined {
  const equivalent = pcapEquivalent(text);
  if (!equivalent || !found.length) return undefined;
  const span = { source: found[0]!.span.source, start: 0, end: text.trimEnd().length };
  const ok = compileFilter(equivalent, { ...opts, sourceName: '<pcap>' }).pred !== undefined;
  if (!ok) return undefined;
  return error('pcap', span, `this is pcap-filter syntax; tcplife writes it: ${equivalent}`, [
    'src is this side (lport, laddr), dst the peer (rport, raddr); port, host and net either side (port, addr); every session is TCP',
  ]);
}

export { tcplifeSchema } from '../model/fields.js';
export type { Expr } from './ast.js';
export { not, where } from './builder.js';
export type { NameEnv } from './check.js';
export { compilePredicate } from './compile.js';
export type { Diagnostic, SourceText, Span } from './diagnostic.js';
export { hasErrors, renderDiagnostic, renderDiagnostics } from './diagnostic.js';
export { evaluate } from './evaluate.js';
export type { Pred } from './ir.js';
export { parseFilter, parseRuleFile } from './parse.js';
export { printExpr, printStatement } from './print.js';
export type { FieldDef, Schema } from './schema.js';
export { makeSchema } from './schema.js';
