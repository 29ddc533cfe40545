/**
 * In-kernel summaries: what the program keeps per group of sessions when
 * --interval summaries can be made in the kernel, derived from the record.
 *
 * A group's key is a struct event in which only the grouped members are
 * copied (the rest stay zero): one C text for every --group-by, chosen by a
 * mask in the settings, and keys that userspace reads with the record's own
 * field readers. Its value counts sessions and bytes, and spans in a
 * log-linear histogram: exact below 8 µs, then four buckets per power of
 * two up to 2^41 µs (25 days; longer spans count in the last bucket), so a
 * percentile read from it (the middle of its bucket) is within 12.5 % of
 * the exact one. For --hist the histogram counts another member instead
 * (bytes, RTT, retransmits: HIST_OF), bucketed the same way.
 */
import {
  ENTRIES,
  fieldSpec,
  isResolved,
  isStored,
  type KernelHistField,
  type StoredSpec,
  type ValueType,
} from './fields.js';
import { RECORD_MEMBERS } from './record.js';

/** Types a summary can group by in the kernel: not times, sizes or durations. */
const GROUPABLE: ReadonlySet<ValueType> = new Set([
  'pid',
  'int',
  'string',
  'family',
  'addr',
  'port',
  'bool',
  'enum',
]);

/** The record member a group-by field is keyed on in the kernel (a cgroup's id for its path), if any. */
export function groupMember(name: string): string | undefined {
  const spec = fieldSpec(name);
  if (!spec) return undefined;
  const base = isStored(spec) ? name : isResolved(spec) ? spec.from : undefined;
  if (base === undefined) return undefined;
  const b = fieldSpec(base)!;
  return GROUPABLE.has(b.type) ? base : undefined;
}

/** The settings' mask for these group-by fields (bit i: the i-th record member), or undefined when one cannot be keyed in the kernel. */
export function groupMask(fields: readonly string[]): number | undefined {
  let mask = 0;
  for (const f of fields) {
    const base = groupMember(f);
    if (base === undefined) return undefined;
    const i = RECORD_MEMBERS.findIndex((m) => m.field === base);
    mask += mask & (2 ** i) ? 0 : 2 ** i;
  }
  return mask;
}

/**
 * The record members a group's histogram can count (settings.hist_of is the
 * index): spans for summaries' percentiles; any of them for --hist. Sizes
 * and times alike bucket as whole numbers: µs, bytes, retransmits.
 */
export const HIST_OF: readonly KernelHistField[] = ENTRIES.filter(
  (e) => isStored(e.spec) && e.spec.kernelHist !== undefined,
)
  .sort((a, b) => (a.spec as StoredSpec).kernelHist! - (b.spec as StoredSpec).kernelHist!)
  .map((e) => e.name as KernelHistField);

export const HIST_BUCKETS = 160;
/** Below this many µs, a bucket is one value. */
const EXACT = 8;

/** The bucket of a span in µs (mirrors span_bucket() in C). */
export function bucketOf(us: number): number {
  if (us < EXACT) return us;
  const k = Math.floor(Math.log2(us));
  const sub = Math.floor(us / 2 ** (k - 2)) & 3;
  return Math.min(HIST_BUCKETS - 1, 4 * (k - 1) + sub);
}

/** The spans in µs a bucket holds: [lo, hi). The last one also holds all above. */
export function bucketRange(i: number): { lo: number; hi: number } {
  if (i < EXACT) return { lo: i, hi: i + 1 };
  const k = (i >> 2) + 1;
  const sub = i & 3;
  const step = 2 ** (k - 2);
  return { lo: 2 ** k + sub * step, hi: 2 ** k + (sub + 1) * step };
}

/** A bucket's value for a percentile: the middle of the whole µs it holds. */
export function bucketValue(i: number): number {
  return VALUES[i]!;
}

const VALUES = Float64Array.from({ length: HIST_BUCKETS }, (_, i) => {
  const { lo, hi } = bucketRange(i);
  return (lo + hi - 1) / 2;
});

/** The nearest-rank percentile of a histogram's spans, in µs; null when it is empty. */
export function histPercentile(hist: ArrayLike<number>, total: number, p: number): number | null {
  if (total === 0) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * total));
  let seen = 0;
  for (let i = 0; i < hist.length; i++) {
    seen += hist[i]!;
    if (seen >= rank) return bucketValue(i);
  }
  return bucketValue(hist.length - 1);
}

/** Bytes of a group's value: sessions, tx, rx (u64), then the span buckets (u32). */
export const GROUP_VALUE_SIZE = 24 + 4 * HIST_BUCKETS;

/** A group's value as the kernel wrote it at `off` (8-byte aligned): the buckets are a view, not a copy. */
export function groupValue(
  v: DataView,
  off: number,
): { sessions: number; tx: number; rx: number; hist: Uint32Array } {
  const u64 = (at: number) =>
    v.getUint32(off + at, true) + v.getUint32(off + at + 4, true) * 2 ** 32;
  return {
    sessions: u64(0),
    tx: u64(8),
    rx: u64(16),
    hist: new Uint32Array(v.buffer, v.byteOffset + off + 24, HIST_BUCKETS),
  };
}

/** C: struct group_val, span_bucket() and group_key_of(), for the template. */
export function groupsC(): string {
  const copies = RECORD_MEMBERS.map((m, i) => {
    const bit = `(1ULL << ${i})`;
    if (!GROUPABLE.has(m.spec.type)) return null;
    const copy =
      m.size === 16
        ? `__builtin_memcpy(k->${m.name}, e->${m.name}, 16);`
        : `k->${m.name} = e->${m.name};`;
    return `  if (mask & ${bit})\n    ${copy}`;
  }).filter((x) => x !== null);
  return [
    'struct group_val {',
    '  __u64 sessions;',
    '  __u64 tx_b;',
    '  __u64 rx_b;',
    `  __u32 span_hist[${HIST_BUCKETS}];`,
    '};',
    `_Static_assert(sizeof(struct group_val) == ${GROUP_VALUE_SIZE}, "group value differs from src/model/groups.ts");`,
    '',
    '/* Exact below 8 µs, then four buckets per power of two (src/model/groups.ts). */',
    'static __always_inline __u32 span_bucket(__u64 us)',
    '{',
    `  if (us < ${EXACT})`,
    '    return us;',
    '  __u32 k = 0;',
    '  __u64 v = us;',
    ...[32, 16, 8, 4, 2, 1].map((n) => `  if (v >> ${n}) {\n    v >>= ${n};\n    k += ${n};\n  }`),
    '  __u32 b = 4 * (k - 1) + ((us >> (k - 2)) & 3);',
    `  return b < ${HIST_BUCKETS} ? b : ${HIST_BUCKETS - 1};`,
    '}',
    '',
    "/* The value a group's histogram counts: the settings say which (HIST_OF). */",
    'static __always_inline __u64 hist_value(const struct event *e)',
    '{',
    '  switch (settings.hist_of) {',
    ...HIST_OF.slice(1).map((m, i) => `  case ${i + 1}:\n    return e->${m};`),
    '  default:',
    `    return e->${HIST_OF[0]};`,
    '  }',
    '}',
    '',
    "/* The members of a record in mask (bit i: member i), the rest zero: a group's key. */",
    'static __always_inline void group_key_of(const struct event *e, struct event *k, __u64 mask)',
    '{',
    ...copies,
    '}',
    '',
    `#define METRIC_BOUNDS ${METRIC_BOUNDS}`,
    "/* --metrics counted in the kernel: one label set's counters (src/model/groups.ts). */",
    'struct metric_val {',
    '  __u64 sessions;',
    '  __u64 tx_b;',
    '  __u64 rx_b;',
    '  __u64 span_us;',
    '  /* le[i]: closes whose span is at most settings.metric_bounds[i] µs and above the one',
    '   * before; le[METRIC_BOUNDS]: the rest (unused bounds are ~0: +Inf comes first) */',
    '  __u64 le[METRIC_BOUNDS + 1];',
    '};',
    `_Static_assert(sizeof(struct metric_val) == ${METRIC_VALUE_SIZE}, "metric value differs from src/model/groups.ts");`,
  ].join('\n');
}

/** Duration buckets the kernel can count --metrics in (more: userspace counts). */
export const METRIC_BOUNDS = 32;
/** Bytes of a label set's value in the metrics map: four u64, then METRIC_BOUNDS + 1 bucket counts. */
export const METRIC_VALUE_SIZE = 8 * (4 + METRIC_BOUNDS + 1);

/** A label set's counters as the kernel wrote them at `off`: `le` not cumulative, one past the bounds for +Inf. */
export function metricValue(
  v: DataView,
  off: number,
  bounds: number,
): { sessions: number; tx: number; rx: number; spanUs: number; le: number[] } {
  const u64 = (at: number) =>
    v.getUint32(off + at, true) + v.getUint32(off + at + 4, true) * 2 ** 32;
  const le: number[] = [];
  for (let i = 0; i < bounds; i++) le.push(u64(32 + 8 * i));
  // spans above the last bound: in the first unused slot
  le.push(u64(32 + 8 * bounds));
  return { sessions: u64(0), tx: u64(8), rx: u64(16), spanUs: u64(24), le };
}

/**
 * A log2 histogram (--hist: bucket 0 holds 0, bucket k ≥ 1 holds
 * [2^(k-1), 2^k)) from span histograms: exact, since each bucket lies
 * within one power of two (spans of 2^41 µs or more, in the last bucket,
 * count in [2^41, 2^42)). Trailing empty buckets are dropped.
 */
export function log2Counts(hists: readonly ArrayLike<number>[]): number[] {
  const out: number[] = [];
  for (const h of hists) {
    for (let i = 0; i < h.length; i++) {
      const n = h[i]!;
      if (n === 0) continue;
      const k = i < EXACT ? (i === 0 ? 0 : Math.floor(Math.log2(i)) + 1) : (i >> 2) + 2;
      while (out.length <= k) out.push(0);
      out[k]! += n;
    }
  }
  return out;
}
