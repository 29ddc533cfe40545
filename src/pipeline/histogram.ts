/**
 * --hist FIELD: a log2 histogram of a numeric field (span_us, tx_b, rx_b,
 * rtt_us, retrans…), per interval or once at exit — the picture BCC's -h
 * tools and bpftrace's hist() draw. Bucket 0 holds 0; bucket k ≥ 1 holds
 * [2^(k-1), 2^k).
 */
import type { OperatorFunction } from 'rxjs';
import { hhmmss, OUT_FIELDS, type Row } from './fields.js';
import type { OutputFormat } from './formatters.js';
import { type IntervalOptions, intervals, type Window } from './intervals.js';

export interface Histogram extends Window {
  readonly field: string;
  /** bucket index → count; index 0 is the value 0 */
  readonly counts: readonly number[];
}

export function bucketOf(v: number): number {
  return v < 1 ? 0 : Math.floor(Math.log2(v)) + 1;
}

export function bucketRange(k: number): [number, number] {
  return k === 0 ? [0, 1] : [2 ** (k - 1), 2 ** k];
}

export function histogram(field: string, o: IntervalOptions): OperatorFunction<Row, Histogram> {
  const get = OUT_FIELDS[field]!.value;
  return intervals(
    o,
    () => {
      const counts: number[] = [];
      let size = 0;
      return {
        get size() {
          return size;
        },
        add(r: Row) {
          const k = bucketOf(Number(get(r)));
          counts[k] = (counts[k] ?? 0) + 1;
          size++;
        },
        finish: (w) => ({ ...w, field, counts: Array.from(counts, (c) => c ?? 0) }),
      };
    },
    true,
  );
}

const BAR = 52;

/** Lines for one histogram: a table of bars, JSON lines, or CSV rows. */
export function formatHistogram(h: Histogram, format: OutputFormat): string[] {
  const rows = h.counts
    .map((count, k) => ({ k, count }))
    .filter((_, k, all) => k >= all.findIndex((x) => x.count > 0));
  const last = rows.findLastIndex((r) => r.count > 0);
  const shown = rows.slice(0, last + 1);
  switch (format) {
    case 'jsonl':
      return [
        JSON.stringify({
          time: new Date(h.end_ms).toISOString(),
          interval_s: (h.end_ms - h.start_ms) / 1000,
          field: h.field,
          buckets: shown.map(({ k, count }) => {
            const [lo, hi] = bucketRange(k);
            return { lo, hi, count };
          }),
          partial: h.partial,
        }),
      ];
    case 'csv':
      return shown.map(({ k, count }) => {
        const [lo, hi] = bucketRange(k);
        return `${new Date(h.end_ms).toISOString()},${h.field},${lo},${hi},${count}`;
      });
    case 'table': {
      const max = Math.max(1, ...shown.map((r) => r.count));
      const labels = shown.map(({ k }) => {
        const [lo, hi] = bucketRange(k);
        return k === 0 ? '[0]' : `[${lo}, ${hi})`;
      });
      const w = Math.max(...labels.map((l) => l.length), 3);
      const cw = Math.max(...shown.map((r) => String(r.count).length), 1);
      return [
        `${hhmmss(h.end_ms)} ${h.field}${h.partial ? ' (partial)' : ''}`,
        ...shown.map(
          ({ count }, i) =>
            `${labels[i]!.padEnd(w)} ${String(count).padStart(cw)} |${'@'.repeat(Math.round((count / max) * BAR)).padEnd(BAR)}|`,
        ),
      ];
    }
  }
}

export const HIST_CSV_HEADER = 'time,field,lo,hi,count';
