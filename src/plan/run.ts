/**
 * The run planner: what a run does, decided from its options alone. Options
 * in, a plan out — no I/O, no kernel — so that the choice of path is one
 * function, tested as a table (test/plan/run.test.ts), and the CLI, the
 * library and replay each execute the plan they are given.
 *
 * The paths, cheapest first:
 * - `kernel-hist` / `kernel-summary`: the program itself sums sessions into
 *   groups (or one histogram); userspace reads a map once per interval. Only
 *   when the kernel decides the whole filter and nothing needs a session.
 * - `fast`: every record the kernel sends is printed as it is: record bytes
 *   to output bytes, no Session per record. Same conditions.
 * - `hist` / `summary` / `print` / `none`: the per-session pipeline
 *   (decoded sessions, the userspace half of the filter, rule tags), ending
 *   in a histogram, interval summaries, one line per session, or nothing
 *   (metrics only).
 */

import type { KernelHistField } from '../model/fields.js';
import { groupMask, HIST_OF } from '../model/groups.js';
import { type FormatOptions, type OutputFormat, ROW_ONLY_FIELDS } from '../model/output.js';
import { boundUs, kernelCountable, type MetricsInput, metricsInput } from './metrics.js';
import type { Split } from './split.js';

/** What the program counts of --metrics (codegen's GenerateOptions.metrics). */
export interface GenerateMetrics {
  readonly labels: readonly string[];
  readonly boundsUs: readonly number[];
  readonly maxSeries: number;
  readonly only: boolean;
}

export type HistOf = KernelHistField;

/** What the options ask for, already validated (src/cli/options.ts). */
export interface RunInput {
  readonly format: OutputFormat | 'none';
  /** --fields, resolved */
  readonly fields?: readonly string[];
  readonly interval?: number;
  readonly count?: number;
  readonly groupBy?: readonly string[];
  /** --hist's field, resolved */
  readonly hist?: string;
  /** --metrics is served */
  readonly metrics?: boolean;
  /** ... counting these labels and buckets (absent: the defaults) */
  readonly metricsOf?: MetricsInput;
  /** -c: stop after so many sessions */
  readonly exitAfter?: number;
  /** rule files are loaded (sessions are tagged) */
  readonly rules?: boolean;
  readonly time?: boolean;
  readonly timestamp?: boolean;
  readonly wide?: boolean;
  readonly extended?: boolean;
  /** -s: the original's CSV */
  readonly classic?: boolean;
  /** --explain or --ebpf: print the plan, trace nothing */
  readonly explain?: 'explain' | 'ebpf';
  /** --exact: the per-session paths only (exact percentiles; also to compare costs) */
  readonly sessionPathOnly?: boolean;
  readonly ringBytes?: number;
  readonly mapEntries?: number;
  readonly socketStorage?: boolean;
  /** --interim SECS: records of the sessions still open */
  readonly interim?: number;
  /** tcplife snapshot: report the sessions open now, then stop */
  readonly snapshot?: boolean;
}

/**
 * Metrics follow the bytes of sessions still open at this period when
 * --interim gives none (seconds).
 */
export const METRICS_OPEN_PERIOD = 15;

export type RunPath =
  | { readonly kind: 'explain'; readonly ebpfOnly: boolean }
  | { readonly kind: 'kernel-hist'; readonly field: HistOf }
  | { readonly kind: 'kernel-summary'; readonly groupBy: readonly string[] }
  | { readonly kind: 'fast'; readonly format: FormatOptions }
  | { readonly kind: 'hist'; readonly field: string }
  | { readonly kind: 'summary'; readonly groupBy: readonly string[] }
  | { readonly kind: 'print'; readonly format: FormatOptions }
  | { readonly kind: 'none' }
  /** -o none --metrics, counted in the kernel: no record per session leaves it */
  | { readonly kind: 'kernel-metrics' };

export interface RunPlan {
  readonly path: RunPath;
  /** What the BPF program is generated with (GenerateOptions). */
  readonly program: {
    readonly ringBytes?: number;
    readonly mapEntries?: number;
    readonly socketStorage?: boolean;
    readonly summarise?: { readonly groupBy: readonly string[]; readonly histOf?: HistOf };
    readonly metrics?: GenerateMetrics;
  };
  /** Where what is made goes. */
  readonly sinks: { readonly stdout: boolean; readonly metrics: boolean };
  /** What the per-session pipeline adds to each session, and when it stops. */
  readonly rows: {
    readonly timestamp: boolean;
    readonly rules: boolean;
    readonly exitAfter?: number;
  };
  /** Windows: every `interval` seconds, at most `count` of them. */
  readonly interval?: number;
  readonly count?: number;
  /**
   * Records of sessions still open, every `periodSecs` (interim), and at
   * the end (exit) when they are printed; `print` false: they go to the
   * metrics only. Absent: none are made (summaries and histograms count a
   * session once, at its close).
   */
  readonly open?: { readonly periodSecs: number; readonly print: boolean };
  /** Report the sessions open now (as interim records), then stop. */
  readonly snapshot?: boolean;
}

/** The kernel decides the whole filter: userspace has nothing left to check. */
export function decidedInKernel(split: Split): boolean {
  return split.user.k === 'const' && split.user.value;
}

function formatOf(i: RunInput, format: OutputFormat): FormatOptions {
  return {
    format,
    ...(i.fields ? { fields: i.fields } : {}),
    time: i.time === true,
    timestamp: i.timestamp === true,
    wide: i.wide === true,
    extended: i.extended === true,
    // -s keeps the original's CSV; -o csv is data CSV.
    classic: i.classic === true,
    rules: i.rules === true,
    ...(i.interim !== undefined ? { open: true } : {}),
  };
}

/**
 * Where the sessions come from: any program the filter needs (built with
 * clang); only the one shipped with the package (no kernel filter, no
 * kernel summaries), when clang is missing; or a recording (replay: no
 * program, so no kernel summaries and no record bytes for the fast path).
 */
export type ProgramChoice = 'any' | 'shipped' | 'recording';

/** Nothing but the metrics needs a Session per record: the kernel decides, no rules, no -c. */
function noSessionsBut(i: RunInput, split: Split, choice: ProgramChoice): boolean {
  return (
    choice !== 'recording' &&
    !i.exitAfter &&
    !i.rules &&
    !i.sessionPathOnly &&
    decidedInKernel(split)
  );
}

function metricsOf(i: RunInput): MetricsInput {
  return i.metricsOf ?? metricsInput();
}

/** The path, given what the kernel decides of the filter (`split`). */
function pathOf(i: RunInput, split: Split, choice: ProgramChoice): RunPath {
  if (i.explain) return { kind: 'explain', ebpfOnly: i.explain === 'ebpf' };
  const groupBy = i.groupBy ?? [];
  // The paths without a Session per record serve runs with nothing else to
  // do per session, over a program that decides the whole filter.
  const noSessions = !i.metrics && noSessionsBut(i, split, choice);
  const histOf = HIST_OF.find((m) => m === i.hist);
  if (i.format === 'none')
    return i.metrics &&
      choice === 'any' &&
      !i.snapshot &&
      noSessionsBut(i, split, choice) &&
      kernelCountable(metricsOf(i))
      ? { kind: 'kernel-metrics' }
      : { kind: 'none' };
  if (i.hist !== undefined)
    return noSessions && choice === 'any' && histOf
      ? { kind: 'kernel-hist', field: histOf }
      : { kind: 'hist', field: i.hist };
  if (i.interval !== undefined)
    return noSessions && choice === 'any' && groupMask(groupBy) !== undefined
      ? { kind: 'kernel-summary', groupBy }
      : { kind: 'summary', groupBy };
  const format = formatOf(i, i.format);
  // -t and rule tags are added to a Session: the fast writer has none.
  const rowOnly = i.timestamp || i.fields?.some((f) => ROW_ONLY_FIELDS.has(f));
  return noSessions && !rowOnly ? { kind: 'fast', format } : { kind: 'print', format };
}

function kernelMetrics(m: MetricsInput): GenerateMetrics {
  return {
    labels: m.labels,
    boundsUs: m.buckets.map(boundUs),
    maxSeries: m.maxSeries,
    only: true,
  };
}

export function planRun(i: RunInput, split: Split, choice: ProgramChoice = 'any'): RunPlan {
  const path = pathOf(i, split, choice);
  const summarise =
    path.kind === 'kernel-hist'
      ? { groupBy: [], histOf: path.field }
      : path.kind === 'kernel-summary'
        ? { groupBy: path.groupBy }
        : undefined;
  return {
    path,
    program: {
      ...(i.ringBytes ? { ringBytes: i.ringBytes } : {}),
      ...(i.mapEntries ? { mapEntries: i.mapEntries } : {}),
      ...(i.socketStorage ? { socketStorage: true } : {}),
      ...(summarise ? { summarise } : {}),
      ...(path.kind === 'kernel-metrics' ? { metrics: kernelMetrics(metricsOf(i)) } : {}),
    },
    sinks: {
      stdout: path.kind !== 'none' && path.kind !== 'kernel-metrics' && path.kind !== 'explain',
      metrics: i.metrics === true,
    },
    rows: {
      timestamp: i.timestamp === true,
      rules: i.rules === true,
      ...(i.exitAfter ? { exitAfter: i.exitAfter } : {}),
    },
    ...(i.interval !== undefined ? { interval: i.interval } : {}),
    ...(i.count !== undefined ? { count: i.count } : {}),
    ...openOf(i, path),
  };
}

/**
 * Records of open sessions go where one line per session goes (print,
 * fast) and to the metrics; summaries and histograms take none.
 */
function openOf(i: RunInput, path: RunPath): Pick<RunPlan, 'open' | 'snapshot'> {
  if (i.snapshot) return { snapshot: true };
  const printed = path.kind === 'print' || path.kind === 'fast';
  if (i.interim !== undefined && printed) return { open: { periodSecs: i.interim, print: true } };
  if (
    i.metrics &&
    (path.kind === 'print' || path.kind === 'none' || path.kind === 'kernel-metrics')
  )
    return { open: { periodSecs: i.interim ?? METRICS_OPEN_PERIOD, print: false } };
  return {};
}
