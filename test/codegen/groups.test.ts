/**
 * In-kernel summaries' span histogram: the bucket arithmetic, and the error
 * bound the documentation states (a percentile within 12.5 % of the exact
 * nearest-rank one; exact below 8 µs), against exact percentiles.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  bucketOf,
  bucketRange,
  groupMask,
  HIST_BUCKETS,
  histPercentile,
  log2Counts,
} from '../../src/model/groups.js';
import { bucketOf as log2Bucket } from '../../src/pipeline/histogram.js';
import { percentile } from '../../src/pipeline/summary.js';

describe('the span histogram of in-kernel summaries', () => {
  it('every span falls in the bucket whose range holds it; buckets tile without gaps', () => {
    for (let i = 0; i < HIST_BUCKETS - 1; i++)
      expect(bucketRange(i + 1).lo).toBe(bucketRange(i).hi);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 41 - 1 }), (us) => {
        const r = bucketRange(bucketOf(us));
        expect(us).toBeGreaterThanOrEqual(r.lo);
        expect(us).toBeLessThan(r.hi);
      }),
    );
  });

  it('a percentile from it is within 12.5 % of the exact one, exact below 8 µs', () => {
    const span = fc.oneof(
      fc.integer({ min: 0, max: 7 }),
      fc.integer({ min: 0, max: 5000 }),
      fc.integer({ min: 0, max: 2 ** 41 - 1 }),
    );
    fc.assert(
      fc.property(
        fc.array(span, { minLength: 1, maxLength: 300 }),
        fc.integer({ min: 1, max: 100 }),
        (spans, p) => {
          const hist = new Array(HIST_BUCKETS).fill(0);
          for (const s of spans) hist[bucketOf(s)]++;
          const exact = percentile(
            [...spans].sort((a, b) => a - b),
            p,
          );
          const approx = histPercentile(hist, spans.length, p)!;
          if (exact < 8) expect(approx).toBe(exact);
          else expect(Math.abs(approx - exact)).toBeLessThanOrEqual(0.125 * exact);
        },
      ),
    );
    expect(histPercentile(new Array(HIST_BUCKETS).fill(0), 0, 50)).toBeNull();
  });

  it('gives --hist its log2 buckets exactly (below 2^41 µs)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 2 ** 41 - 1 })),
          {
            maxLength: 200,
          },
        ),
        (spans) => {
          const hist = new Array(HIST_BUCKETS).fill(0);
          for (const s of spans) hist[bucketOf(s)]++;
          const want: number[] = [];
          for (const s of spans) {
            const k = log2Bucket(s);
            while (want.length <= k) want.push(0);
            want[k]!++;
          }
          expect(log2Counts([hist])).toEqual(want);
        },
      ),
    );
  });

  it('groups by stored and resolved fields; not by sizes, durations or times', () => {
    expect(groupMask(['comm', 'rport'])).toBeGreaterThan(0);
    expect(groupMask(['container'])).toBe(groupMask(['cgroup_id']));
    expect(groupMask([])).toBe(0);
    for (const f of ['tx_b', 'span_ms', 'time', 'rtt_us', 'nosuch'])
      expect(groupMask([f])).toBeUndefined();
  });
});
