/**
 * The one planner, used by the command line and the library alike: filter
 * (text or builder AST), rule files, a rule selection and further terms
 * (the CLI's options) in; the checked predicate, its kernel/userspace split
 * and the rule taggers out — or every diagnostic found.
 *
 * Each part is checked against its own source text, so a diagnostic points
 * into what the user wrote: the filter argument, a rule file, or the printed
 * form of an option's term.
 */

import type { Expr } from '../dsl/ast.js';
import { type Diagnostic, hasErrors } from '../dsl/diagnostic.js';
import { compileFilter } from '../dsl/index.js';
import type { Pred } from '../dsl/ir.js';
import * as IR from '../dsl/ir.js';
import { printExpr } from '../dsl/print.js';
import { loadRuleSet, type RuleSet } from '../rules/load.js';
import { type Split, splitFilter } from './split.js';

export interface PlanInput {
  /** The filter: text, or the typed builder's AST. Empty or absent: every session. */
  readonly filter?: string | Expr | undefined;
  /** Where filter text came from, for diagnostics ('<filter>' by default; a file given with -F). */
  readonly filterName?: string;
  /** Further conditions ANDed to the filter (the CLI's -p, -L, -D, -4, -6). */
  readonly terms?: readonly Expr[];
  /** Rule files: sessions matching any selected rule. */
  readonly rules?: readonly string[];
  /** Keep only these rules (with `tags`: these and the rules so tagged; all when both are empty). */
  readonly only?: readonly string[];
  /** Keep the rules carrying any of these tags. */
  readonly tags?: readonly string[];
}

export interface Plan {
  /** The filter and terms as one expression (for --explain); undefined: none. */
  readonly ast: Expr | undefined;
  /** The checked predicate: the rules' union AND the filter AND the terms. */
  readonly pred: Pred;
  /** What the kernel decides, and what userspace must still check. */
  readonly split: Split;
  /** The loaded rule files, whose tag() names the selected rules a session matches. */
  readonly rules: RuleSet | undefined;
}

export type Planned =
  | { readonly plan: Plan; readonly diagnostics: readonly Diagnostic[] }
  | { readonly plan: undefined; readonly diagnostics: readonly Diagnostic[] };

function isEmpty(f: string | Expr | undefined): f is undefined {
  return f === undefined || (typeof f === 'string' && f.trim() === '');
}

export function makePlan(input: PlanInput): Planned {
  const diagnostics: Diagnostic[] = [];
  const only = input.only ?? [];
  const rules = input.rules?.length ? loadRuleSet(input.rules, only, input.tags ?? []) : undefined;
  if (rules) diagnostics.push(...rules.diagnostics);
  const env = rules ? { env: rules.env } : {};

  const parts: Expr[] = [];
  const preds: Pred[] = rules ? [rules.union] : [];
  const check = (what: string | Expr, sourceName: string) => {
    const r = compileFilter(what, { ...env, sourceName });
    diagnostics.push(...r.diagnostics);
    if (r.ast) parts.push(r.ast);
    if (r.pred) preds.push(r.pred);
  };
  if (!isEmpty(input.filter))
    check(
      input.filter,
      typeof input.filter === 'string' ? (input.filterName ?? '<filter>') : '<builder>',
    );
  // An option's term is checked in its printed form, so a diagnostic shows it.
  for (const t of input.terms ?? []) check(printExpr(t), '<options>');

  if (hasErrors(diagnostics)) return { plan: undefined, diagnostics };
  const ast: Expr | undefined =
    parts.length > 1 ? { kind: 'and', items: parts, span: parts[0]!.span } : parts[0];
  const pred = IR.and(preds);
  return { plan: { ast, pred, split: splitFilter(pred), rules }, diagnostics };
}
