/**
 * The library entry: sessions for a filter given as text or as the typed
 * builder, as an Observable of typed sessions. The kernel half of the filter
 * runs in the BPF program; the rest is an RxJS filter here.
 */
import { filter, type MonoTypeOperatorFunction, Observable, type Subscription } from 'rxjs';
import { splitFilter } from '../codegen/split.js';
import type { Expr } from '../dsl/ast.js';
import type { NameEnv } from '../dsl/check.js';
import { compilePredicate } from '../dsl/compile.js';
import { compileFilter, renderDiagnostics } from '../dsl/index.js';
import type { Pred } from '../dsl/ir.js';
import * as IR from '../dsl/ir.js';
import { TcplifeError } from '../kernel/errors.js';
import type { Session } from '../kernel/layout.js';
import { Tracer, type TracerOptions } from '../kernel/tracer.js';

export class FilterError extends TcplifeError {}

export interface SessionsOptions extends Omit<TracerOptions, 'filter'> {
  readonly env?: NameEnv;
  /** Called once the program is attached (for stats, or to know tracing started). */
  readonly onTracer?: (t: Tracer) => void;
}

export function checkedFilter(input: string | Expr | undefined, env?: NameEnv): Pred {
  if (input === undefined || (typeof input === 'string' && input.trim() === '')) return IR.TRUE;
  const r = compileFilter(input, env ? { env } : {});
  if (!r.pred) throw new FilterError(`bad filter:\n${renderDiagnostics(r.diagnostics)}`);
  return r.pred;
}

/** Userspace half of a checked filter, as an RxJS operator. */
export function userFilter(pred: Pred): MonoTypeOperatorFunction<Session> {
  return userspacePart(splitFilter(pred).user);
}

/** The userspace half of a split filter (Split.user), as an RxJS operator. */
export function userspacePart(user: Pred): MonoTypeOperatorFunction<Session> {
  // The kernel decided exactly: no per-session work here.
  if (user.k === 'const' && user.value) return (source) => source;
  const test = compilePredicate(user);
  return filter<Session>((s) => test(s as never));
}

/** Sessions matching `input`, from the kernel. Unsubscribing detaches the program. */
export function sessions(
  input: string | Expr | undefined,
  opts: SessionsOptions = {},
): Observable<Session> {
  return new Observable<Session>((sub) => {
    let pred: Pred;
    try {
      pred = checkedFilter(input, opts.env);
    } catch (e) {
      sub.error(e);
      return;
    }
    let cancelled = false;
    let tracer: Tracer | undefined;
    let inner: Subscription | undefined;
    Tracer.start({ ...opts, filter: pred }).then(
      (t) => {
        if (cancelled) return t.close();
        tracer = t;
        opts.onTracer?.(t);
        inner = t.sessions().pipe(userFilter(pred)).subscribe(sub);
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
