/**
 * One executor per run path (src/plan/run.ts): each takes a running tracer
 * and a writer, and makes what its path makes until stopped. The command
 * (trace.ts) owns the rest: starting the tracer, signals, the exit account.
 */
import { filter, map, type Observable, Subject, Subscription, take, tap } from 'rxjs';
import type { Tracer } from '../kernel/tracer.js';
import { closeMs, type DecodedSession } from '../model/fields.js';
import { groupValue, log2Counts } from '../model/groups.js';
import type { FormatOptions } from '../model/output.js';
import { fastWriter } from '../pipeline/fast.js';
import type { Row } from '../pipeline/fields.js';
import { createFormatter, type OutputFormat } from '../pipeline/formatters.js';
import { formatHistogram, HIST_CSV_HEADER, histogram } from '../pipeline/histogram.js';
import { type Window, windowClock } from '../pipeline/intervals.js';
import {
  createSummaryFormatter,
  kernelSummaryAccumulator,
  summarize,
} from '../pipeline/summary.js';
import { sessionRows } from '../pipeline/tcplife.js';
import type { LineWriter } from '../pipeline/writer.js';
import type { RunPath, RunPlan } from '../plan/run.js';
import type { RuleSet } from '../rules/load.js';
import { collectGarbage } from '../util/gc.js';
import { loadLibc } from '../util/libc.js';

export interface RunContext {
  readonly tracer: Tracer;
  readonly plan: RunPlan;
  readonly format: OutputFormat | 'none';
  readonly rules: RuleSet | undefined;
  readonly writer: LineWriter;
  /** Sees every row the per-session pipeline makes (the metrics). */
  readonly tap?: (r: Row) => void;
  /** Ends the whole run (an executor's last window was made). */
  readonly requestStop: () => void;
  readonly stderr: (s: string) => void;
}

export interface Execution {
  /** Settles when the run has ended (after stop(), or by itself). */
  readonly done: Promise<void>;
  /** Ends it: what the ring holds is printed, the last window is made. */
  stop(): void;
  /** Lines of data printed (the exit account's "printed"). */
  printed(): number;
  /** The subscription to the tracer's stream: ended before the tracer closes. */
  readonly subscription: Subscription;
}

export function execute(ctx: RunContext): Execution {
  return withOpenSessions(ctx, onPath(ctx));
}

/**
 * Records of sessions still open (plan.open): interim records every period
 * (Tracer.reportOpenEvery); at the end, when they are printed, one exit
 * record of each session still open. A snapshot reports them once and ends
 * the run.
 */
function withOpenSessions(ctx: RunContext, e: Execution): Execution {
  const { tracer, plan, writer } = ctx;
  if (plan.snapshot) {
    setImmediate(() => {
      tracer.reportOpen('interim', 0, true);
      ctx.requestStop();
    });
    return e;
  }
  const open = plan.open;
  if (!open || !tracer.canWalk) return e;
  const stopInterim = tracer.reportOpenEvery(open.periodSecs);
  return {
    ...e,
    stop: () => {
      stopInterim();
      if (open.print && !writer.closed) tracer.reportOpen('exit', 0);
      e.stop();
    },
  };
}

function onPath(ctx: RunContext): Execution {
  const path = ctx.plan.path;
  switch (path.kind) {
    case 'kernel-hist':
    case 'kernel-summary':
      return kernelSummary(ctx, path);
    case 'fast':
      return fast(ctx, path.format);
    case 'hist':
    case 'summary':
    case 'print':
    case 'none':
      return sessionPipeline(ctx, path);
    case 'kernel-metrics':
      return countedInKernel();
    case 'explain':
      throw new Error('an --explain plan runs no tracer');
    default:
      return assertNever(path);
  }
}

function assertNever(x: never): never {
  throw new Error(`unknown run path ${JSON.stringify(x)}`);
}

/**
 * Windows of what the kernel summarised: every interval (or once, at the
 * end, without one), `take` reads and prints a window; the last is marked
 * partial when tracing stops before its end. Returns what ends it (on
 * Ctrl-C, the end of --duration, or after --count windows).
 */
function kernelWindows(
  intervalSecs: number | undefined,
  count: number | undefined,
  take: (w: Window) => void,
  done: () => void,
  stop: () => void,
): () => void {
  const clock = windowClock(
    {
      ...(intervalSecs !== undefined ? { intervalMs: intervalSecs * 1000 } : {}),
      ...(count !== undefined ? { count } : {}),
    },
    take,
    stop,
  );
  return () => {
    clock.end();
    done();
  };
}

/** Summaries or the histogram made in the kernel: no records, a map read per window. */
function kernelSummary(
  ctx: RunContext,
  path: Extract<RunPath, { kind: 'kernel-hist' | 'kernel-summary' }>,
): Execution {
  const { tracer, writer, plan } = ctx;
  const format = ctx.format as OutputFormat;
  let printed = 0;
  let take: (w: Window) => void;
  if (path.kind === 'kernel-hist') {
    // The histogram made in the kernel: its log2 buckets, exactly.
    if (format === 'csv') writer.line(HIST_CSV_HEADER);
    take = (w) => {
      const hists: Uint32Array[] = [];
      // Copies: the batch buffer is reused once takeGroups returns.
      tracer.takeGroups((_k, _ko, v, vo) => {
        hists.push(groupValue(v, vo).hist.slice());
      });
      // As histogram() does: every window, but a cut-short last one only with sessions.
      if (w.partial && hists.length === 0) return;
      const counts = log2Counts(hists);
      for (const l of formatHistogram({ ...w, field: path.field, counts }, format)) writer.line(l);
    };
  } else {
    const { groupBy } = path;
    const f = createSummaryFormatter(format, groupBy);
    const h = f.header();
    if (h) writer.line(h);
    // As summarize() does: an interval without sessions says so (one row of
    // 0, group fields empty); the last, cut short, only when it has sessions.
    take = (w) => {
      const acc = kernelSummaryAccumulator(groupBy, tracer.resolvers);
      tracer.takeGroups((k, ko, v, vo) => acc.add(k, ko, v, vo));
      if (acc.size > 0 || !w.partial) printed += acc.finish(w, (r) => writer.line(f.row(r)));
    };
  }
  let end = () => {};
  const done = new Promise<void>((resolve) => {
    end = kernelWindows(plan.interval, plan.count, take, resolve, ctx.requestStop);
  });
  // Summaries made in the kernel send no records: nothing to drain.
  return { done, stop: () => end(), printed: () => printed, subscription: Subscription.EMPTY };
}

/** -o none --metrics counted in the kernel: nothing to do per session; the scrapes read the kernel. */
function countedInKernel(): Execution {
  let stop = () => {};
  const done = new Promise<void>((resolve) => {
    stop = resolve;
  });
  return { done, stop, printed: () => 0, subscription: Subscription.EMPTY };
}

/** Every record the kernel sends, printed as it is: record bytes to output bytes (fast.ts). */
function fast(ctx: RunContext, format: FormatOptions): Execution {
  const { tracer, writer } = ctx;
  const f = createFormatter(format);
  const h = f.header();
  if (h) writer.line(h);
  const headerLines = h ? 1 : 0;
  // Compiling the writer is a peak of the run's memory (util/gc.ts).
  collectGarbage();
  const write = fastWriter(format, tracer.resolvers, (bytes, lines) => writer.bytes(bytes, lines));
  // The planner sends here only layouts of record fields (ROW_ONLY_FIELDS).
  if (!write) throw new Error('the fast path was planned for a layout it cannot write');
  // Making the writer had V8 compile it (for JSON lines): some 5 MB of
  // compiler memory, now freed, which glibc would keep in the heap for the
  // whole run. Before the first subscriber maps the ring.
  loadLibc().malloc_trim(0);
  let resolve = () => {};
  const done = new Promise<void>((r) => {
    resolve = r;
  });
  const subscription = tracer.records(write).subscribe({
    error: (e) => ctx.stderr(`tcplife: ${e}\n`),
  });
  return {
    done,
    stop: () => {
      // Sessions already in the ring are printed before exit.
      if (!writer.closed) tracer.drainNow();
      resolve();
    },
    // Printed: what stdout took, without the header.
    printed: () => Math.max(0, writer.written - headerLines),
    subscription,
  };
}

/** The rows of the per-session pipeline: the userspace filter, rule tags, -t, -c, metrics. */
function rowsOf(ctx: RunContext, src: Observable<DecodedSession>): Observable<Row> {
  const { plan } = ctx;
  // The tracer's own split: the whole filter when it had to run without clang.
  let rows: Observable<Row> = src.pipe(sessionRows(ctx.tracer.program.split.user, ctx.rules));
  const tapOpen = ctx.tap;
  if (plan.open && !plan.open.print && tapOpen) {
    // Records of open sessions made for the metrics alone: not printed, not counted by -c.
    rows = rows.pipe(
      filter((r) => {
        if (r.event === 'close') return true;
        tapOpen(r);
        return false;
      }),
    );
  }
  if (plan.rows.timestamp) {
    let first: number | undefined;
    // A session is shared with every subscriber: extras go on a copy.
    rows = rows.pipe(
      map((s): Row => {
        const at = closeMs(s as DecodedSession);
        first ??= at;
        return { ...s, ts: (at - first) / 1000 };
      }),
    );
  }
  if (plan.rows.exitAfter) rows = rows.pipe(take(plan.rows.exitAfter));
  if (ctx.tap) rows = rows.pipe(tap(ctx.tap));
  return rows;
}

/** A Session per record, through the userspace half of the filter, to one of four ends. */
function sessionPipeline(
  ctx: RunContext,
  path: Extract<RunPath, { kind: 'hist' | 'summary' | 'print' | 'none' }>,
): Execution {
  const { tracer, writer, plan } = ctx;
  const src = new Subject<DecodedSession>();
  const rows = rowsOf(ctx, src);
  let printed = () => 0;
  const done = new Promise<void>((resolve, reject) => {
    const complete = { error: reject, complete: () => resolve() };
    const format = ctx.format as OutputFormat;
    if (path.kind === 'none') {
      rows.subscribe({ next: () => {}, ...complete });
    } else if (path.kind === 'hist') {
      if (format === 'csv') writer.line(HIST_CSV_HEADER);
      rows
        .pipe(
          histogram(path.field, {
            ...(plan.interval !== undefined ? { intervalMs: plan.interval * 1000 } : {}),
            ...(plan.count ? { count: plan.count } : {}),
          }),
        )
        .subscribe({
          next: (h) => {
            for (const l of formatHistogram(h, format)) writer.line(l);
          },
          ...complete,
        });
    } else if (path.kind === 'summary') {
      const f = createSummaryFormatter(format, path.groupBy);
      const h = f.header();
      if (h) writer.line(h);
      let n = 0;
      printed = () => n;
      rows
        .pipe(
          summarize({
            intervalMs: (plan.interval ?? 0) * 1000,
            groupBy: path.groupBy,
            ...(plan.count ? { count: plan.count } : {}),
          }),
        )
        .subscribe({
          next: (rs) => {
            for (const r of rs) writer.line(f.row(r));
            n += rs.length;
          },
          ...complete,
        });
    } else {
      const f = createFormatter(path.format);
      const h = f.header();
      if (h) writer.line(h);
      const headerLines = h ? 1 : 0;
      rows.subscribe({ next: (r) => writer.line(f.row(r)), ...complete });
      // Printed: what stdout took, without the header.
      printed = () => Math.max(0, writer.written - headerLines);
    }
  });
  const subscription = tracer.sessions().subscribe(src);
  return {
    done,
    stop: () => {
      // Sessions already in the ring are printed before exit.
      if (!writer.closed) tracer.drainNow();
      src.complete();
    },
    printed: () => printed(),
    subscription,
  };
}
