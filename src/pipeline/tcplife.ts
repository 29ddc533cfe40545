/**
 * The library entry: sessions for a filter given as text or as the typed
 * builder, with rule files as on the command line, as an Observable of typed
 * sessions. The planner splits the filter; its kernel half runs in the BPF
 * program, the rest is an RxJS filter here.
 */
import {
  filter,
  type MonoTypeOperatorFunction,
  map,
  Observable,
  type OperatorFunction,
  type Subscription,
} from 'rxjs';
import { type GenerateOptions, generateProgram } from '../codegen/program.js';
import type { Expr } from '../dsl/ast.js';
import { compilePredicate } from '../dsl/compile.js';
import { renderDiagnostics } from '../dsl/diagnostic.js';
import type { Pred } from '../dsl/ir.js';
import { Tracer, type TracerOptions } from '../kernel/tracer.js';
import type { DecodedSession } from '../model/fields.js';
import { makePlan } from '../plan/plan.js';
import type { RuleSet } from '../rules/load.js';
import { TcplifeError } from '../util/errors.js';

export class FilterError extends TcplifeError {}

export interface SessionsOptions extends TracerOptions, GenerateOptions {
  /** Rule files: only sessions matching a selected rule, tagged with the rules they match. */
  readonly rules?: readonly string[];
  /** With rules: keep only these rules. */
  readonly rule?: readonly string[];
  /** With rules: keep the rules carrying these tags. */
  readonly tag?: readonly string[];
  /** Called once the program is attached (for stats, or to know tracing started). */
  readonly onTracer?: (t: Tracer) => void;
  /**
   * Seconds: also deliver an `interim` record of each session open that
   * long since its last record, every so often (as --interim; within a
   * tenth of the period).
   */
  readonly interim?: number;
}

/** A session, with the names of the rules it matched when rule files were given. */
export type TracedSession = DecodedSession & {
  readonly rules?: readonly string[];
  readonly tags?: readonly string[];
};

/** The userspace half of a split filter (Split.user), as an RxJS operator. */
export function userspacePart<T extends DecodedSession>(user: Pred): MonoTypeOperatorFunction<T> {
  // The kernel decided exactly: no per-session work here.
  if (user.k === 'const' && user.value) return (source) => source;
  const test = compilePredicate(user);
  return filter<T>((s) => test(s as never));
}

/** A session with the names (and tags) of the selected rules it matches. */
export function tagged<T extends DecodedSession>(rules: RuleSet, s: T): T & TracedSession {
  const names = rules.tag(s);
  return { ...s, rules: names, tags: rules.tagsOf(names) };
}

/**
 * The per-session half of a plan, shared by the command, the library and
 * replay: the userspace part of the filter, then, with rule files, the rules
 * each session matched.
 */
export function sessionRows(
  user: Pred,
  rules: RuleSet | undefined,
): OperatorFunction<DecodedSession, TracedSession> {
  const matched = userspacePart<DecodedSession>(user);
  return rules
    ? (source) =>
        source.pipe(
          matched,
          map((s) => tagged(rules, s)),
        )
    : matched;
}

/** Sessions matching `input` (and `opts.rules`), from the kernel. Unsubscribing detaches the program. */
export function sessions(
  input: string | Expr | undefined,
  opts: SessionsOptions = {},
): Observable<TracedSession> {
  return new Observable<TracedSession>((sub) => {
    const planned = makePlan({
      filter: input,
      ...(opts.rules ? { rules: opts.rules } : {}),
      ...(opts.rule ? { only: opts.rule } : {}),
      ...(opts.tag ? { tags: opts.tag } : {}),
    });
    const plan = planned.plan;
    if (!plan) {
      sub.error(new FilterError(`bad filter:\n${renderDiagnostics(planned.diagnostics)}`));
      return;
    }
    let cancelled = false;
    let tracer: Tracer | undefined;
    let inner: Subscription | undefined;
    Tracer.start(generateProgram(plan.split, opts), opts).then(
      (t) => {
        if (cancelled) return t.close();
        tracer = t;
        opts.onTracer?.(t);
        inner = t.sessions().pipe(sessionRows(plan.split.user, plan.rules)).subscribe(sub);
        // Stopped when the tracer closes.
        if (opts.interim) t.reportOpenEvery(opts.interim);
      },
      (e) => sub.error(e),
    );
    return () => {
      cancelled = true;
      inner?.unsubscribe();
      tracer?.close();
    };
  });
}
