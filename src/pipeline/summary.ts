/**
 * Interval summaries (--interval, --count, --group-by): per interval and
 * group, the number of sessions, tx and rx totals, and span percentiles
 * (nearest rank). What the original's usage line promised and never had.
 */
import type { OperatorFunction } from 'rxjs';
import { fieldReader, type Resolvers } from '../model/decode.js';
import { groupMember, groupValue, HIST_BUCKETS, histPercentile } from '../model/groups.js';
import { RECORD_SIZE } from '../model/record.js';
import { hhmmss, OUT_FIELDS, type Row } from './fields.js';
import { csvQuote, type OutputFormat } from './formatters.js';
import { type Accumulator, intervals, type Window } from './intervals.js';

export interface SummaryRow {
  readonly start_ms: number;
  readonly end_ms: number;
  readonly group: Readonly<Record<string, unknown>>;
  readonly sessions: number;
  readonly tx_b: number;
  readonly rx_b: number;
  /** null when the interval had no session */
  readonly span_p50_ms: number | null;
  readonly span_p99_ms: number | null;
  /** the last interval, cut short when tracing stopped */
  readonly partial: boolean;
  /**
   * The percentiles come from the kernel's span histogram (within 12.5 %),
   * not from every span: `~` before them in the table and CSV, and
   * `"approx": true` in JSON. Absent: exact.
   */
  readonly approx?: boolean;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.max(0, Math.ceil((p / 100) * sorted.length) - 1);
  return sorted[Math.min(i, sorted.length - 1)]!;
}

interface Acc {
  group: Record<string, unknown>;
  sessions: number;
  tx: number;
  rx: number;
  spans: number[];
}

export interface SummarizeOptions {
  readonly intervalMs: number;
  readonly groupBy: readonly string[];
  /** stop after this many intervals */
  readonly count?: number;
}

/** The name --group-by takes for the rules a session matched. */
export const RULE_GROUP = 'rule';

/** One interval's summary, built row by row (live intervals and replay's windows alike). */
export function summaryAccumulator(groupBy: readonly string[]): Accumulator<SummaryRow[]> {
  // `rule`: a session counts once in the group of each rule it matched ('' for none).
  const ruleAt = groupBy.indexOf(RULE_GROUP);
  const getters = groupBy.map((n) => (n === RULE_GROUP ? () => '' : OUT_FIELDS[n]!.value));
  const groups = new Map<string, Acc>();
  const acc: Accumulator<SummaryRow[]> = {
    get size() {
      return groups.size;
    },
    add(r: Row) {
      if (ruleAt >= 0) {
        for (const rule of r.rules?.length ? r.rules : ['']) addTo(r, rule);
        return;
      }
      addTo(r, undefined);
    },
    finish(w: Window): SummaryRow[] {
      const rows: SummaryRow[] = [];
      for (const a of groups.values()) {
        const sorted = a.spans.sort((x, y) => x - y);
        rows.push(summaryRow(w, a, percentile(sorted, 50) / 1000, percentile(sorted, 99) / 1000));
      }
      return ordered(rows, w);
    },
  };
  function addTo(r: Row, rule: string | undefined): void {
    const vals = getters.map((g) => g(r));
    if (rule !== undefined) vals[ruleAt] = rule;
    const key = JSON.stringify(vals);
    let a = groups.get(key);
    if (!a) {
      a = {
        group: Object.fromEntries(groupBy.map((n, i) => [n, vals[i]])),
        sessions: 0,
        tx: 0,
        rx: 0,
        spans: [],
      };
      groups.set(key, a);
    }
    a.sessions++;
    a.tx += r.tx_b;
    a.rx += r.rx_b;
    a.spans.push(r.span_us);
  }
  return acc;
}

/**
 * A group's row in a window, built property by property (object spread is
 * several µs a row when there is one a session).
 */
function summaryRow(
  w: Window,
  a: { group: Readonly<Record<string, unknown>>; sessions: number; tx: number; rx: number },
  p50: number | null,
  p99: number | null,
  /** the percentiles are the kernel histogram's */
  approx = false,
): SummaryRow {
  return {
    start_ms: w.start_ms,
    end_ms: w.end_ms,
    partial: w.partial,
    group: a.group,
    sessions: a.sessions,
    tx_b: a.tx,
    rx_b: a.rx,
    span_p50_ms: p50,
    span_p99_ms: p99,
    approx,
  };
}

/** The busiest groups first; an interval without any says 0 sessions. */
function ordered(rows: SummaryRow[], w: Window): SummaryRow[] {
  rows.sort((a, b) => b.sessions - a.sessions);
  if (rows.length === 0) {
    rows.push({
      ...w,
      group: {},
      sessions: 0,
      tx_b: 0,
      rx_b: 0,
      span_p50_ms: null,
      span_p99_ms: null,
    });
  }
  return rows;
}

/** A group as the kernel summarised it: its key (a record), counts and span histogram. */
export interface KernelGroupAcc {
  /** Adds the kernel's group whose key and value lie at these offsets. */
  add(key: DataView, keyOff: number, value: DataView, valueOff: number): void;
  readonly size: number;
  /**
   * The interval's rows, busiest first, each made as it is given to `emit`
   * (a summary of tens of thousands of groups then holds no object per
   * group through the interval, which the garbage collector would have to
   * move); returns how many.
   */
  finish(w: Window, emit: (r: SummaryRow) => void): number;
}

/** Numbers kept per group in the direct case: sessions, tx, rx, p50 and p99 (µs; NaN for none). */
const NUMS = 5;

/**
 * One interval's summary from the kernel's groups (in-kernel summaries):
 * the grouped fields read from each key with the record's readers (a
 * cgroup's path resolved from its id here, so groups whose ids resolve
 * alike merge), counts and bytes exact, percentiles from the histogram
 * (the middle of the bucket: within 12.5 %, exact below 8 µs).
 */
export function kernelSummaryAccumulator(
  groupBy: readonly string[],
  resolvers: Resolvers,
): KernelGroupAcc {
  const readers = groupBy.map((n) => fieldReader(n, resolvers));
  const groupOf = (key: DataView, keyOff: number) => {
    const group: Record<string, unknown> = {};
    for (let i = 0; i < groupBy.length; i++) group[groupBy[i]!] = readers[i]!(key, keyOff, 0);
    return group;
  };
  // Keys are unique in the kernel's map: groups merge only when a resolved
  // field (cgroup, container) makes two keys print alike. Otherwise each
  // group's key bytes and numbers are kept in flat buffers, its
  // percentiles read from its value at once, and its fields read when its
  // row is made.
  const merges = groupBy.some((n) => groupMember(n) !== n);
  let count = 0;
  let keys = Buffer.alloc(0);
  let nums = new Float64Array(0);
  const merged = new Map<
    string,
    { group: Record<string, unknown>; sessions: number; tx: number; rx: number; hist: Float64Array }
  >();
  const ms = (us: number | null) => (us === null ? null : us / 1000);
  return {
    get size() {
      return count + merged.size;
    },
    add(key, keyOff, value, valueOff) {
      const { sessions, tx, rx, hist } = groupValue(value, valueOff);
      if (!merges) {
        if ((count + 1) * RECORD_SIZE > keys.length) {
          const cap = Math.max(64, 2 * count);
          const k = Buffer.allocUnsafe(cap * RECORD_SIZE);
          k.set(keys.subarray(0, count * RECORD_SIZE));
          keys = k;
          const v = new Float64Array(cap * NUMS);
          v.set(nums);
          nums = v;
        }
        keys.set(
          new Uint8Array(key.buffer, key.byteOffset + keyOff, RECORD_SIZE),
          count * RECORD_SIZE,
        );
        const at = count * NUMS;
        nums[at] = sessions;
        nums[at + 1] = tx;
        nums[at + 2] = rx;
        nums[at + 3] = histPercentile(hist, sessions, 50) ?? Number.NaN;
        nums[at + 4] = histPercentile(hist, sessions, 99) ?? Number.NaN;
        count++;
        return;
      }
      const group = groupOf(key, keyOff);
      const k = JSON.stringify(groupBy.map((n) => group[n]));
      let a = merged.get(k);
      if (!a) {
        a = { group, sessions: 0, tx: 0, rx: 0, hist: new Float64Array(HIST_BUCKETS) };
        merged.set(k, a);
      }
      a.sessions += sessions;
      a.tx += tx;
      a.rx += rx;
      for (let i = 0; i < HIST_BUCKETS; i++) a.hist[i]! += hist[i]!;
    },
    finish(w, emit) {
      if (merges) {
        const rows: SummaryRow[] = [];
        for (const a of merged.values()) {
          rows.push(
            summaryRow(
              w,
              a,
              ms(histPercentile(a.hist, a.sessions, 50)),
              ms(histPercentile(a.hist, a.sessions, 99)),
              true,
            ),
          );
        }
        const out = ordered(rows, w);
        for (const r of out) emit(r);
        return out.length;
      }
      if (count === 0) {
        emit(ordered([], w)[0]!);
        return 1;
      }
      // The busiest first; groups with as many sessions in the kernel's order.
      const order = Array.from({ length: count }, (_, i) => i);
      order.sort((a, b) => nums[b * NUMS]! - nums[a * NUMS]! || a - b);
      const kv = new DataView(keys.buffer, keys.byteOffset, count * RECORD_SIZE);
      const pct = (us: number) => (Number.isNaN(us) ? null : us / 1000);
      for (const i of order) {
        const at = i * NUMS;
        emit(
          summaryRow(
            w,
            {
              group: groupOf(kv, i * RECORD_SIZE),
              sessions: nums[at]!,
              tx: nums[at + 1]!,
              rx: nums[at + 2]!,
            },
            pct(nums[at + 3]!),
            pct(nums[at + 4]!),
            true,
          ),
        );
      }
      return count;
    },
  };
}

/** Emits one array of rows per interval; a final partial interval when the source ends. */
export function summarize(o: SummarizeOptions): OperatorFunction<Row, SummaryRow[]> {
  // An interval with no session still says "0 sessions" (its group fields
  // empty), so that a quiet period does not look like a hung tool.
  return intervals(
    { intervalMs: o.intervalMs, ...(o.count ? { count: o.count } : {}) },
    () => summaryAccumulator(o.groupBy),
    true,
  );
}

export interface SummaryFormatter {
  header(): string | undefined;
  row(r: SummaryRow): string;
}

export function createSummaryFormatter(
  format: OutputFormat,
  groupBy: readonly string[],
): SummaryFormatter {
  const groupText = (r: SummaryRow, n: string) => String(r.group[n] ?? '');
  const spec = (n: string) =>
    n === RULE_GROUP
      ? { header: 'RULE', width: -16 }
      : { header: OUT_FIELDS[n]!.header, width: OUT_FIELDS[n]!.width };
  // A JSON line built as text, in the order the object would have: time,
  // interval_s, the group's fields, counts, bytes, percentiles, partial
  // (object spread and JSON.stringify of a fresh object cost several µs a row).
  const num = (v: number | null) => (v === null ? 'null' : String(v));
  // An interval's rows share their time.
  let head = { end: Number.NaN, start: Number.NaN, text: '' };
  const jsonLine = (r: SummaryRow) => {
    if (r.end_ms !== head.end || r.start_ms !== head.start)
      head = {
        end: r.end_ms,
        start: r.start_ms,
        text: `{"time":"${new Date(r.end_ms).toISOString()}","interval_s":${Math.round(r.end_ms - r.start_ms) / 1000}`,
      };
    let s = head.text;
    for (const k in r.group) s += `,${JSON.stringify(k)}:${JSON.stringify(r.group[k])}`;
    return `${s},"sessions":${r.sessions},"tx_b":${r.tx_b},"rx_b":${r.rx_b},"tx_kb":${r.tx_b / 1024},"rx_kb":${r.rx_b / 1024},"span_p50_ms":${num(r.span_p50_ms)},"span_p99_ms":${num(r.span_p99_ms)}${r.approx && r.span_p50_ms !== null ? ',"approx":true' : ''},"partial":${r.partial}}`;
  };
  const heads = [
    'TIME',
    ...groupBy.map((n) => spec(n).header),
    'SESSIONS',
    'TX_KB',
    'RX_KB',
    'P50_MS',
    'P99_MS',
    ...(format === 'csv' ? ['PARTIAL'] : []),
  ];
  // No session, no percentile: '-', not a 0 that reads as a measurement; one
  // read from the kernel's histogram is marked approximate: ~12.34.
  const ms = (v: number | null, approx?: boolean) =>
    v === null ? '-' : `${approx ? '~' : ''}${v.toFixed(2)}`;
  const cells = (r: SummaryRow) => [
    hhmmss(r.end_ms),
    ...groupBy.map((n) => groupText(r, n)),
    String(r.sessions),
    String(Math.floor(r.tx_b / 1024)),
    String(Math.floor(r.rx_b / 1024)),
    ms(r.span_p50_ms, r.approx),
    ms(r.span_p99_ms, r.approx),
    ...(format === 'csv' ? [r.partial ? 'yes' : 'no'] : []),
  ];
  switch (format) {
    case 'jsonl':
      return { header: () => undefined, row: jsonLine };
    case 'csv':
      return { header: () => heads.join(','), row: (r) => cells(r).map(csvQuote).join(',') };
    case 'table': {
      const widths = heads.map((h, i) => {
        const n = groupBy[i - 1];
        if (i === 0) return 8;
        if (n) return Math.max(h.length, Math.abs(spec(n).width));
        return Math.max(h.length, 8);
      });
      const line = (cs: string[]) =>
        cs
          .map((c, i) => (i <= groupBy.length ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
          .join(' ');
      // The last interval, cut short at exit, says so after its row.
      return {
        header: () => line(heads),
        row: (r) => `${line(cells(r))}${r.partial ? ' (partial)' : ''}`,
      };
    }
  }
}
