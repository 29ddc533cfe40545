/**
 * The interval machinery shared by summaries and histograms: rows go into an
 * accumulator; every interval (or once, at the end, without one) the
 * accumulator becomes output and starts afresh. The last, cut short when the
 * source ends, is marked partial.
 */
import { Observable, type OperatorFunction } from 'rxjs';
import type { Row } from './fields.js';

export interface Window {
  readonly start_ms: number;
  readonly end_ms: number;
  /** cut short when tracing stopped */
  readonly partial: boolean;
}

export interface IntervalOptions {
  /** undefined: one window, from start to the end of the source */
  readonly intervalMs?: number;
  /** stop after this many intervals */
  readonly count?: number;
}

export interface Accumulator<T> {
  add(r: Row): void;
  /** rows seen since the last emission */
  readonly size: number;
  /** the window's output; the accumulator is then discarded */
  finish(w: Window): T;
}

export function intervals<T>(
  o: IntervalOptions,
  make: () => Accumulator<T>,
  /** emit a window with no row at all (summaries without groups say "0 sessions") */
  emitEmpty: boolean,
): OperatorFunction<Row, T> {
  return (source) =>
    new Observable<T>((out) => {
      let acc = make();
      let start = Date.now();
      let emitted = 0;
      const flush = (partial: boolean) => {
        const end = Date.now();
        const done = acc;
        acc = make();
        const w = { start_ms: start, end_ms: end, partial };
        start = end;
        emitted++;
        if (done.size > 0 || emitEmpty) out.next(done.finish(w));
        if (o.count !== undefined && emitted >= o.count) out.complete();
      };
      const timer =
        o.intervalMs === undefined ? undefined : setInterval(() => flush(false), o.intervalMs);
      const sub = source.subscribe({
        next: (r) => acc.add(r),
        error: (e) => out.error(e),
        complete: () => {
          // Without an interval the one window is whole; with one, the last is cut short.
          if (acc.size > 0 || o.intervalMs === undefined) flush(o.intervalMs !== undefined);
          out.complete();
        },
      });
      return () => {
        if (timer) clearInterval(timer);
        sub.unsubscribe();
      };
    });
}
