/**
 * What --metrics counts, and whether the kernel can count it: the label
 * fields, the duration buckets, the cap on label sets. The kernel counts
 * (no record per session leaves it) when nothing else needs the sessions
 * (-o none), the kernel decides the whole filter, no rules tag sessions,
 * each label is keyed in the kernel as a summary's group is, and the
 * buckets fit its table.
 */
import { groupMask, METRIC_BOUNDS } from '../model/groups.js';

/** Seconds: 100 µs to 10 min, roughly ×2.5 each. */
export const DEFAULT_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
  30, 60, 120, 300, 600,
];
export const DEFAULT_LABELS = ['role', 'outcome'];
export const DEFAULT_MAX_SERIES = 1000;

export interface MetricsInput {
  /** label names: fields, or `rule` */
  readonly labels: readonly string[];
  /** the duration histogram's bounds, in seconds, ascending */
  readonly buckets: readonly number[];
  readonly maxSeries: number;
}

/** What --metrics counts: the options given, the defaults for the rest. */
export function metricsInput(
  o: { readonly [K in keyof MetricsInput]?: MetricsInput[K] | undefined } = {},
): MetricsInput {
  return {
    labels: o.labels ?? DEFAULT_LABELS,
    buckets: o.buckets ?? DEFAULT_BUCKETS,
    maxSeries: o.maxSeries ?? DEFAULT_MAX_SERIES,
  };
}

/** Whether the kernel can key and bucket these metrics (the rest of the decision is the planner's). */
export function kernelCountable(m: MetricsInput): boolean {
  return (
    !m.labels.includes('rule') &&
    groupMask(m.labels) !== undefined &&
    m.buckets.length <= METRIC_BOUNDS
  );
}

/**
 * The most whole µs a bucket of `le` seconds holds as a Prometheus client
 * counts it (a span's seconds, µs / 1e6 in doubles, at most le): the
 * kernel compares µs with it, and counts what the userspace path would.
 */
export function boundUs(le: number): number {
  let u = Math.min(Number.MAX_SAFE_INTEGER - 1, Math.floor(le * 1e6));
  while (u < Number.MAX_SAFE_INTEGER - 1 && (u + 1) / 1e6 <= le) u++;
  while (u > 0 && u / 1e6 > le) u--;
  return u;
}
