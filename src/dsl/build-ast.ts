/**
 * CST → AST. Pure construction plus literal validation; no name resolution
 * (that is the checker's job).
 */
import type { CstNode, IToken } from 'chevrotain';
import type * as A from './ast.js';
import type { Diagnostic, SourceText, Span } from './diagnostic.js';
import { literalFromToken, tokenSpan, unescapeString } from './literals.js';

type Child = CstNode | IToken;

function nodes(n: CstNode, key: string): CstNode[] {
  return (n.children[key] ?? []) as CstNode[];
}
function tokens(n: CstNode, key: string): IToken[] {
  return (n.children[key] ?? []) as IToken[];
}
function node(n: CstNode, key: string): CstNode {
  const c = nodes(n, key)[0];
  if (!c) throw new Error(`CST ${n.name} has no ${key}`);
  return c;
}

function isToken(c: Child): c is IToken {
  return (c as IToken).image !== undefined;
}

/** All tokens of a CST node in source order (no spreading: a node may hold a million). */
function allTokens(n: CstNode): IToken[] {
  const out: IToken[] = [];
  const visit = (x: CstNode) => {
    for (const list of Object.values(x.children)) {
      for (const c of list as Child[]) {
        if (isToken(c)) out.push(c);
        else visit(c);
      }
    }
  };
  visit(n);
  return out.sort((a, b) => a.startOffset - b.startOffset);
}

/** The first and last source offsets a CST node covers, without collecting its tokens. */
function extent(n: CstNode): { start: number; end: number } | undefined {
  let start = Number.POSITIVE_INFINITY;
  let end = Number.NEGATIVE_INFINITY;
  const visit = (x: CstNode) => {
    for (const list of Object.values(x.children)) {
      for (const c of list as Child[]) {
        if (isToken(c)) {
          start = Math.min(start, c.startOffset);
          end = Math.max(end, (c.endOffset ?? c.startOffset) + 1);
        } else visit(c);
      }
    }
  };
  visit(n);
  return start <= end ? { start, end } : undefined;
}

export class AstBuilder {
  constructor(
    private readonly source: SourceText,
    private readonly diags: Diagnostic[],
  ) {}

  private spanOf(n: CstNode): Span {
    const e = extent(n);
    return { source: this.source, start: e?.start ?? 0, end: e?.end ?? 0 };
  }

  private join(a: Span, b: Span): Span {
    return { source: this.source, start: a.start, end: b.end };
  }

  private ident(t: IToken): A.Ident {
    return { kind: 'ident', name: t.image, span: tokenSpan(this.source, t) };
  }

  expression(n: CstNode): A.Expr {
    const items = nodes(n, 'andExpr').map((c) => this.andExpr(c));
    if (items.length === 1) return items[0]!;
    return { kind: 'or', items, span: this.join(items[0]!.span, items.at(-1)!.span) };
  }

  private andExpr(n: CstNode): A.Expr {
    const items = nodes(n, 'notExpr').map((c) => this.notExpr(c));
    if (items.length === 1) return items[0]!;
    return { kind: 'and', items, span: this.join(items[0]!.span, items.at(-1)!.span) };
  }

  private notExpr(n: CstNode): A.Expr {
    const inner = nodes(n, 'notExpr')[0];
    if (inner) return { kind: 'not', operand: this.notExpr(inner), span: this.spanOf(n) };
    return this.primary(node(n, 'primary'));
  }

  private primary(n: CstNode): A.Expr {
    const e = nodes(n, 'expression')[0];
    if (e) return this.expression(e);
    return this.predicate(node(n, 'predicate'));
  }

  private predicate(n: CstNode): A.Expr {
    const field = this.ident(tokens(n, 'Identifier')[0]!);
    const span = this.spanOf(n);
    const op = nodes(n, 'compareOp')[0];
    if (op) {
      const opTok = allTokens(op)[0]!;
      return {
        kind: 'compare',
        field,
        op: opTok.image as A.CompareOp,
        value: this.value(node(n, 'value')),
        span,
      };
    }
    const listRef = nodes(n, 'listRef')[0];
    if (listRef) {
      return {
        kind: 'in',
        field,
        negated: tokens(n, 'Not').length > 0,
        list: this.listRef(listRef),
        span,
      };
    }
    return { kind: 'ref', name: field, span };
  }

  private listRef(n: CstNode): A.ListLit | A.Ident {
    const lit = nodes(n, 'listLit')[0];
    if (lit) return this.listLit(lit);
    const item = this.listItem(node(n, 'listItem'));
    // A lone word names a list (the checker also takes it as an enum's value).
    if (item.kind === 'word') return { kind: 'ident', name: item.value, span: item.span };
    return { kind: 'list', items: [item], span: this.spanOf(n) };
  }

  listLit(n: CstNode): A.ListLit {
    return {
      kind: 'list',
      items: nodes(n, 'listItem').map((i) => this.listItem(i)),
      span: this.spanOf(n),
    };
  }

  private listItem(n: CstNode): A.ListItem {
    const [lo, hi] = nodes(n, 'value').map((v) => this.value(v));
    if (!hi) return lo!;
    return { kind: 'range', lo: lo!, hi, span: this.spanOf(n) };
  }

  value(n: CstNode): A.Literal {
    return literalFromToken(this.source, allTokens(n)[0]!, this.diags);
  }

  private stringToken(t: IToken): string {
    return unescapeString(t.image.slice(1, -1), tokenSpan(this.source, t), this.diags);
  }

  ruleFile(n: CstNode): A.Statement[] {
    return nodes(n, 'statement').map((s) => this.statement(s));
  }

  private statement(n: CstNode): A.Statement {
    const [child] = Object.values(n.children).flat() as CstNode[];
    const c = child!;
    const span = this.spanOf(c);
    switch (c.name) {
      case 'includeStmt':
        return { kind: 'include', path: this.stringToken(tokens(c, 'StringLit')[0]!), span };
      case 'listStmt':
        return {
          kind: 'list',
          name: this.ident(tokens(c, 'Identifier')[0]!),
          list: this.listLit(node(c, 'listLit')),
          span,
        };
      case 'macroStmt':
        return {
          kind: 'macro',
          name: this.ident(tokens(c, 'Identifier')[0]!),
          expr: this.expression(node(c, 'expression')),
          span,
        };
      case 'ruleStmt': {
        const descTok = tokens(c, 'StringLit')[0];
        const base = {
          kind: 'rule' as const,
          name: this.ident(tokens(c, 'Identifier')[0]!),
          expr: this.expression(node(c, 'expression')),
          tags: nodes(c, 'tagList').flatMap((t) =>
            tokens(t, 'Identifier').map((i) => this.ident(i)),
          ),
          span,
        };
        return descTok ? { ...base, desc: this.stringToken(descTok) } : base;
      }
      case 'sampleStmt': {
        const fields = nodes(c, 'sampleField').map((f) => ({
          name: this.ident(tokens(f, 'Identifier')[0]!),
          value: this.value(node(f, 'value')),
        }));
        const matches: A.Ident[] = [];
        const rejects: A.Ident[] = [];
        for (const e of nodes(c, 'sampleExpect')) {
          const names = tokens(e, 'Identifier').map((i) => this.ident(i));
          (tokens(e, 'Matches').length > 0 ? matches : rejects).push(...names);
        }
        return { kind: 'sample', fields, matches, rejects, span };
      }
      default:
        throw new Error(`unknown statement ${c.name}`);
    }
  }
}
