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

/**
 * The clock of windows, shared by the per-session intervals below and the
 * summaries made in the kernel: every `intervalMs` (or never, without one)
 * `take` gets the window just ended, and `counted` is called once `count`
 * windows were taken. `end()` takes the last window (cut short, so partial,
 * when there is an interval) unless `count` were taken already; `cancel()`
 * only stops the clock.
 */
export function windowClock(
  o: IntervalOptions,
  take: (w: Window) => void,
  counted: () => void,
): { end(): void; cancel(): void } {
  let start = Date.now();
  let emitted = 0;
  const window = (partial: boolean) => {
    const end = Date.now();
    const w = { start_ms: start, end_ms: end, partial };
    start = end;
    emitted++;
    take(w);
  };
  const reached = () => o.count !== undefined && emitted >= o.count;
  const timer =
    o.intervalMs === undefined
      ? undefined
      : setInterval(() => {
          window(false);
          if (reached()) counted();
        }, o.intervalMs);
  const cancel = () => {
    if (timer) clearInterval(timer);
  };
  return {
    end: () => {
      cancel();
      if (!reached()) window(o.intervalMs !== undefined);
    },
    cancel,
  };
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
      // The last window, cut short, is emitted only with rows in it.
      const clock = windowClock(
        o,
        (w) => {
          const done = acc;
          acc = make();
          if (done.size > 0 || (emitEmpty && !w.partial)) out.next(done.finish(w));
        },
        () => out.complete(),
      );
      const sub = source.subscribe({
        next: (r) => acc.add(r),
        error: (e) => out.error(e),
        complete: () => {
          clock.end();
          out.complete();
        },
      });
      return () => {
        clock.cancel();
        sub.unsubscribe();
      };
    });
}
