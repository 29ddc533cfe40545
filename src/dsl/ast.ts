/**
 * The syntax tree: a union of readonly nodes, each with a `kind` and a `span`.
 * Field names are kept as written (aliases are resolved by the checker), and
 * literals keep the value and unit the user wrote, so the printer can give the
 * text back and re-parsing it gives the same tree.
 */
import type { Addr } from './addr.js';
import type { Span } from './diagnostic.js';
import type { DurationUnit, SizeUnit } from './schema.js';

export type CompareOp = '==' | '!=' | '<' | '<=' | '>' | '>=' | '~' | '=~';

export interface Ident {
  readonly kind: 'ident';
  readonly name: string;
  readonly span: Span;
}

export type Literal =
  | { readonly kind: 'int'; readonly value: number; readonly span: Span }
  | { readonly kind: 'decimal'; readonly value: number; readonly span: Span }
  | { readonly kind: 'size'; readonly value: number; readonly unit: SizeUnit; readonly span: Span }
  | {
      readonly kind: 'duration';
      readonly value: number;
      readonly unit: DurationUnit;
      readonly span: Span;
    }
  | { readonly kind: 'string'; readonly value: string; readonly span: Span }
  /** a bare word: a value of an enum field (`role == server`) */
  | { readonly kind: 'word'; readonly value: string; readonly span: Span }
  | { readonly kind: 'regex'; readonly source: string; readonly flags: string; readonly span: Span }
  | { readonly kind: 'addr'; readonly addr: Addr; readonly span: Span }
  | { readonly kind: 'cidr'; readonly addr: Addr; readonly prefix: number; readonly span: Span };

export interface RangeItem {
  readonly kind: 'range';
  readonly lo: Literal;
  readonly hi: Literal;
  readonly span: Span;
}

export type ListItem = Literal | RangeItem;

export interface ListLit {
  readonly kind: 'list';
  readonly items: readonly ListItem[];
  readonly span: Span;
}

/** `a or b or c`: two or more items (n-ary, so that a long chain is not a deep tree). */
export interface OrNode {
  readonly kind: 'or';
  readonly items: readonly Expr[];
  readonly span: Span;
}
export interface AndNode {
  readonly kind: 'and';
  readonly items: readonly Expr[];
  readonly span: Span;
}
export interface NotNode {
  readonly kind: 'not';
  readonly operand: Expr;
  readonly span: Span;
}
export interface CompareNode {
  readonly kind: 'compare';
  readonly field: Ident;
  readonly op: CompareOp;
  readonly value: Literal;
  readonly span: Span;
}
export interface InNode {
  readonly kind: 'in';
  readonly field: Ident;
  readonly negated: boolean;
  /** A literal list, or the name of a list defined in a rule file. */
  readonly list: ListLit | Ident;
  readonly span: Span;
}
/** A bare name: a macro or rule from a rule file. */
export interface RefNode {
  readonly kind: 'ref';
  readonly name: Ident;
  readonly span: Span;
}

export type Expr = OrNode | AndNode | NotNode | CompareNode | InNode | RefNode;

export function assertNever(x: never): never {
  throw new Error(`unexpected node: ${JSON.stringify(x)}`);
}

// ---- rule files ----

export interface IncludeStmt {
  readonly kind: 'include';
  readonly path: string;
  readonly span: Span;
}
export interface ListStmt {
  readonly kind: 'list';
  readonly name: Ident;
  readonly list: ListLit;
  readonly span: Span;
}
export interface MacroStmt {
  readonly kind: 'macro';
  readonly name: Ident;
  readonly expr: Expr;
  readonly span: Span;
}
export interface RuleStmt {
  readonly kind: 'rule';
  readonly name: Ident;
  readonly expr: Expr;
  readonly tags: readonly Ident[];
  readonly desc?: string;
  readonly span: Span;
}
export interface SampleStmt {
  readonly kind: 'sample';
  readonly fields: readonly { readonly name: Ident; readonly value: Literal }[];
  readonly matches: readonly Ident[];
  readonly rejects: readonly Ident[];
  readonly span: Span;
}
export type Statement = IncludeStmt | ListStmt | MacroStmt | RuleStmt | SampleStmt;
