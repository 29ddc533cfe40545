/**
 * Rule files: named lists, macros and rules, includes resolved relative to
 * the including file, and samples that prove what the rules mean. Read by the
 * same parser as the filter argument; checked by the same checker, with an
 * environment in which macros and rules expand to their checked predicates.
 *
 * Loading goes in phases, as Falco's loader does: read every file (includes
 * followed), collect every definition, then compile lists, macros and rules
 * in that order, then run the samples. A list has no type of its own: its
 * items are checked against the field where it is used, and an error there
 * points back at the item.
 */
import { realpathSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { formatAddr } from '../dsl/addr.js';
import type { Expr, Ident, ListLit, RuleStmt, SampleStmt, Statement } from '../dsl/ast.js';
import { Checker, type NameEnv } from '../dsl/check.js';
import { compilePredicate } from '../dsl/compile.js';
import { type Diagnostic, error, type Span } from '../dsl/diagnostic.js';
import { evaluate } from '../dsl/evaluate.js';
import type { Pred } from '../dsl/ir.js';
import * as IR from '../dsl/ir.js';
import { parseRuleFile } from '../dsl/parse.js';
import { suggest } from '../dsl/suggest.js';
import { type DecodedSession, sampleDefaults, tcplifeSchema } from '../model/fields.js';
import { errnoText, readTextFile } from '../util/read-text.js';
import { notRootsOwn } from '../util/trust.js';
import { findRuleFile } from './search.js';

type Def =
  | { kind: 'list'; name: Ident; list: ListLit }
  | { kind: 'macro'; name: Ident; expr: Expr }
  | { kind: 'rule'; name: Ident; expr: Expr; stmt: RuleStmt };

export interface Rule {
  readonly name: string;
  readonly pred: Pred;
  readonly tags: readonly string[];
  readonly desc?: string;
  readonly span: Span;
}

export interface RuleSet {
  readonly env: NameEnv;
  readonly diagnostics: readonly Diagnostic[];
  readonly rules: readonly Rule[];
  /** the rules kept by --rule (all when none named) */
  readonly selected: readonly Rule[];
  /** the union of the selected rules: what the kernel is asked for */
  readonly union: Pred;
  readonly files: readonly string[];
  readonly counts: {
    lists: number;
    macros: number;
    rules: number;
    samples: number;
    samplesPassed: number;
  };
  /** names of the selected rules a session matches */
  tag(s: DecodedSession): string[];
  /** the tags of these rules, each once */
  tagsOf(rules: readonly string[]): string[];
}

function displayName(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel.startsWith('..') ? path : rel;
}

class RuleEnv implements NameEnv {
  readonly defs = new Map<string, Def>();
  private readonly checked = new Map<string, Pred>();
  private readonly stack: string[] = [];

  constructor(private readonly diags: Diagnostic[]) {}

  define(d: Def): void {
    const prev = this.defs.get(d.name.name);
    if (prev) {
      this.diags.push(
        error(
          'duplicate-name',
          d.name.span,
          `'${d.name.name}' is already defined as a ${prev.kind}`,
          ['names of lists, macros and rules share one namespace'],
          {
            span: prev.name.span,
            message: `first defined here`,
          },
        ),
      );
      return;
    }
    if (tcplifeSchema.byName.has(d.name.name)) {
      this.diags.push(
        error(
          'shadows-field',
          d.name.span,
          `'${d.name.name}' is a field name; choose another name`,
        ),
      );
      return;
    }
    this.defs.set(d.name.name, d);
  }

  list(name: string): ListLit | undefined {
    const d = this.defs.get(name);
    return d?.kind === 'list' ? d.list : undefined;
  }

  names(): Iterable<string> {
    return this.defs.keys();
  }

  ref(name: string, at: Span): Pred | undefined {
    const d = this.defs.get(name);
    if (!d || d.kind === 'list') return undefined;
    const done = this.checked.get(name);
    if (done) return done;
    if (this.stack.includes(name)) {
      const cycle = [...this.stack.slice(this.stack.indexOf(name)), name].join(' → ');
      this.diags.push(
        error(
          'recursive',
          at,
          `'${name}' refers to itself: ${cycle}`,
          ['a macro or rule cannot use itself, directly or through others'],
          {
            span: d.name.span,
            message: `'${name}' is defined here`,
          },
        ),
      );
      return IR.TRUE;
    }
    this.stack.push(name);
    const checker = new Checker(tcplifeSchema, this);
    let pred = checker.check(d.expr);
    this.stack.pop();
    this.diags.push(...checker.diagnostics);
    // Each use of a macro is a copy of it in what runs (the kernel's C, the
    // closures): one used twice by the next, and so on, doubles at each step.
    const terms = expandedSize(pred, this.sizes);
    if (terms > MAX_EXPANDED_TERMS) {
      this.diags.push(
        error(
          'too-large',
          d.name.span,
          `'${name}' expands to more than ${MAX_EXPANDED_TERMS.toLocaleString('en-US')} terms`,
          [
            'each use of a macro or rule copies it; one that uses another twice doubles it: use it once (a or b), or a list',
          ],
        ),
      );
      pred = IR.TRUE;
    }
    this.checked.set(name, pred);
    return pred;
  }

  private readonly sizes = new WeakMap<Pred, number>();
}

/** The most terms a macro or rule may expand to (a 300,000-term rule is about 3 MiB of text). */
export const MAX_EXPANDED_TERMS = 1_000_000;

/** Terms in a predicate with every shared part counted at each use (capped past the maximum). */
function expandedSize(p: Pred, memo: WeakMap<Pred, number>): number {
  const known = memo.get(p);
  if (known !== undefined) return known;
  let n = 1;
  if (p.k === 'and' || p.k === 'or')
    for (const i of p.items) n = Math.min(n + expandedSize(i, memo), MAX_EXPANDED_TERMS + 1);
  else if (p.k === 'not') n += expandedSize(p.item, memo);
  memo.set(p, n);
  return n;
}

interface Loaded {
  statements: { stmt: Statement; file: string }[];
  files: string[];
}

/** Includes nest at most this deep (a chain of 5,000 files overflowed the stack). */
export const MAX_INCLUDE_DEPTH = 64;

function loadFiles(roots: readonly string[], diags: Diagnostic[]): Loaded {
  const out: Loaded = { statements: [], files: [] };
  const seen = new Set<string>();
  const visit = (path: string, chain: { file: string; at?: Span }[], from?: Span) => {
    if (from && chain.length >= MAX_INCLUDE_DEPTH) {
      diags.push(
        error(
          'include',
          from,
          `includes nest deeper than ${MAX_INCLUDE_DEPTH} files (from ${displayName(chain[0]!.file)}): not read`,
          [
            'an include chain this long is almost certainly a mistake; include the files from one place instead',
          ],
        ),
      );
      return;
    }
    const cannot = (why: string) =>
      diags.push(
        from
          ? error('include', from, `cannot read included file ${displayName(path)}: ${why}`)
          : error(
              'include',
              { source: { name: displayName(path), text: '' }, start: 0, end: 0 },
              `cannot read rule file ${displayName(path)}: ${why}`,
            ),
      );
    let real: string;
    try {
      real = realpathSync(path);
    } catch (e) {
      cannot(errnoText(e));
      return;
    }
    const inChain = chain.findIndex((c) => c.file === real);
    if (inChain >= 0 && from) {
      const names = [...chain.slice(inChain).map((c) => displayName(c.file)), displayName(real)];
      const first = chain[inChain]!.at;
      diags.push(
        error(
          'include-cycle',
          from,
          `include cycle: ${names.join(' includes ')}`,
          [],
          first
            ? { span: first, message: `${displayName(real)} includes the next file here` }
            : undefined,
        ),
      );
      return;
    }
    if (seen.has(real)) return; // included twice (a diamond): its definitions once
    seen.add(real);
    out.files.push(real);
    const read = readTextFile(real, (st) => notRootsOwn(real, st));
    if (typeof read !== 'string') {
      cannot(read.error);
      return;
    }
    const parsed = parseRuleFile(read, displayName(real));
    diags.push(...parsed.diagnostics);
    for (const stmt of parsed.statements ?? []) {
      if (stmt.kind === 'include') {
        visit(
          resolve(dirname(real), stmt.path),
          [...chain, { file: real, at: stmt.span }],
          stmt.span,
        );
      } else out.statements.push({ stmt, file: real });
    }
  };
  for (const r of roots) visit(resolve(r), []);
  return out;
}

/** A sample's fields → a session, through the checker (aliases, units, ranges). */
function sampleSession(s: SampleStmt, diags: Diagnostic[]): Record<string, unknown> | undefined {
  const session = sampleDefaults();
  let ok = true;
  let family: number | undefined;
  for (const f of s.fields) {
    const checker = new Checker(tcplifeSchema);
    const p = checker.check({
      kind: 'compare',
      field: f.name,
      op: '==',
      value: f.value,
      span: f.name.span,
    });
    diags.push(...checker.diagnostics);
    if (checker.diagnostics.length) {
      ok = false;
      continue;
    }
    if (p.k === 'num') session[p.key] = p.value;
    else if (p.k === 'str') session[p.key] = p.values[0];
    else if (p.k === 'addr') {
      const a = p.cidrs[0]!;
      if (a.prefix !== a.addr.bytes.length * 8) {
        diags.push(error('sample', f.value.span, 'a sample holds an address, not a network'));
        ok = false;
        continue;
      }
      session[p.key] = formatAddr(a.addr);
      family = a.addr.family;
    }
  }
  if (family !== undefined && !s.fields.some((f) => f.name.name === 'family'))
    session.family = family;
  return ok ? session : undefined;
}

/** The kinds of value a list may hold; one list holds one kind (its type comes where it is used). */
function itemKind(item: ListLit['items'][number]): string {
  const k = item.kind === 'range' ? item.lo.kind : item.kind;
  switch (k) {
    case 'string':
      return 'strings';
    case 'addr':
    case 'cidr':
      return 'addresses';
    case 'regex':
      return 'regexes';
    default:
      return 'numbers';
  }
}

/** Phase: lists. Items of one list must be of one kind; their type is checked at each use. */
function compileLists(env: RuleEnv, diags: Diagnostic[]): void {
  for (const d of env.defs.values()) {
    if (d.kind !== 'list') continue;
    const first = d.list.items[0];
    if (!first) continue;
    const kind = itemKind(first);
    for (const item of d.list.items) {
      const k = itemKind(item);
      if (k === 'regexes' || k !== kind) {
        diags.push(
          error(
            'list-kind',
            item.span,
            k === 'regexes'
              ? `in list '${d.name.name}': a list holds values, not regexes`
              : `in list '${d.name.name}': this item is one of ${k}, the list's first is one of ${kind}`,
            ['a list holds numbers (sizes, durations, ranges), strings or addresses'],
          ),
        );
        break;
      }
    }
  }
}

export function loadRuleSet(
  names: readonly string[],
  only: readonly string[] = [],
  withTags: readonly string[] = [],
): RuleSet {
  const diags: Diagnostic[] = [];
  // Phase: read (names resolved through the search path: --rules web).
  const files: string[] = [];
  for (const name of names) {
    const found = findRuleFile(name);
    if (typeof found === 'string') files.push(found);
    else
      diags.push(error('include', { source: { name, text: '' }, start: 0, end: 0 }, found.error));
  }
  const loaded = loadFiles(files, diags);
  // Phase: collect every name before compiling anything, so that order in
  // the files does not matter.
  const env = new RuleEnv(diags);
  const samples: SampleStmt[] = [];
  for (const { stmt } of loaded.statements) {
    switch (stmt.kind) {
      case 'list':
        env.define({ kind: 'list', name: stmt.name, list: stmt.list });
        break;
      case 'macro':
        env.define({ kind: 'macro', name: stmt.name, expr: stmt.expr });
        break;
      case 'rule':
        env.define({ kind: 'rule', name: stmt.name, expr: stmt.expr, stmt });
        break;
      case 'sample':
        samples.push(stmt);
        break;
      case 'include':
        break;
    }
  }
  // Phases: lists, then macros, then rules. Every macro is compiled even if
  // nothing uses it, so its errors are reported at the macro.
  compileLists(env, diags);
  for (const d of env.defs.values()) {
    if (d.kind === 'macro') env.ref(d.name.name, d.name.span);
  }
  const rules: Rule[] = [];
  for (const d of env.defs.values()) {
    if (d.kind !== 'rule') continue;
    rules.push({
      name: d.name.name,
      pred: env.ref(d.name.name, d.name.span) ?? IR.TRUE,
      tags: d.stmt.tags.map((t) => t.name),
      ...(d.stmt.desc !== undefined ? { desc: d.stmt.desc } : {}),
      span: d.name.span,
    });
  }

  let samplesPassed = 0;
  for (const s of samples) {
    const session = sampleSession(s, diags);
    if (!session) continue;
    let failed = false;
    for (const [names, want] of [
      [s.matches, true],
      [s.rejects, false],
    ] as const) {
      for (const n of names) {
        const d = env.defs.get(n.name);
        if (!d || d.kind === 'list') {
          diags.push(error('unknown-name', n.span, `no rule or macro named '${n.name}'`));
          failed = true;
          continue;
        }
        const pred = env.ref(n.name, n.span) ?? IR.TRUE;
        if (evaluate(pred, session) !== want) {
          failed = true;
          diags.push(
            error(
              'sample-failed',
              n.span,
              `this sample ${want ? 'does not match' : 'matches'} '${n.name}', but is declared to ${want ? 'match' : 'reject'} it`,
              [`the session: ${JSON.stringify(session)}`],
              { span: d.name.span, message: `'${n.name}' is defined here` },
            ),
          );
        }
      }
    }
    if (!failed) samplesPassed++;
  }

  const known = new Set(rules.map((r) => r.name));
  for (const n of only) {
    if (!known.has(n)) {
      diags.push(
        error(
          'unknown-rule',
          { source: { name: '--rule', text: n }, start: 0, end: n.length },
          `no rule named '${n}' in ${files.join(', ')}`,
          [`rules: ${[...known].join(', ') || '(none)'}`],
        ),
      );
    }
  }
  const tags = new Set(rules.flatMap((r) => r.tags));
  for (const t of withTags) {
    if (!tags.has(t)) {
      const near = suggest(t, tags);
      diags.push(
        error(
          'unknown-tag',
          { source: { name: '--tag', text: t }, start: 0, end: t.length },
          `no rule is tagged '${t}'${near ? `; did you mean '${near}'?` : ''}`,
          [`tags: ${[...tags].join(', ') || '(none)'}`],
        ),
      );
    }
  }
  // --rule and --tag select by name or by tag (either); neither: every rule.
  const selected =
    only.length || withTags.length
      ? rules.filter((r) => only.includes(r.name) || r.tags.some((t) => withTags.includes(t)))
      : rules;
  const tests = selected.map((r) => [r.name, compilePredicate(r.pred)] as const);
  const tagsOf = new Map(selected.map((r) => [r.name, r.tags]));
  return {
    env,
    diagnostics: diags,
    rules,
    selected,
    union: IR.or(selected.map((r) => r.pred)),
    files: loaded.files,
    counts: {
      lists: [...env.defs.values()].filter((d) => d.kind === 'list').length,
      macros: [...env.defs.values()].filter((d) => d.kind === 'macro').length,
      rules: rules.length,
      samples: samples.length,
      samplesPassed,
    },
    tag: (s) => tests.filter(([, t]) => t(s as never)).map(([n]) => n),
    tagsOf: (matched) => [...new Set(matched.flatMap((n) => tagsOf.get(n) ?? []))],
  };
}
