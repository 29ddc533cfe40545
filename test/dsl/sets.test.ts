/**
 * Sets in userspace are lookups: an address set is a hash of networks per
 * prefix length, a number set a binary search of merged ranges. Each is the
 * reference meaning (inCidr over every CIDR, every range) on any input, and
 * a set of 100,000 addresses costs a session one lookup, not a scan.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type Addr, type Cidr, cidrMatcher, inCidr, rangeMatcher } from '../../src/dsl/addr.js';
import { compilePredicate } from '../../src/dsl/compile.js';
import { compileFilter, evaluate } from '../../src/dsl/index.js';
import { FIXTURES } from '../fixtures/sessions.js';

const v4: fc.Arbitrary<Addr> = fc
  .array(fc.integer({ min: 0, max: 255 }), { minLength: 4, maxLength: 4 })
  .map((bytes) => ({ family: 4, bytes }));
const v6: fc.Arbitrary<Addr> = fc
  .array(fc.integer({ min: 0, max: 255 }), { minLength: 16, maxLength: 16 })
  .map((bytes) => ({ family: 6, bytes }));
/** An IPv4 address as IPv4-mapped IPv6 (::ffff:a.b.c.d), as dual-stack sockets report it. */
const mapped: fc.Arbitrary<Addr> = v4.map((a) => ({
  family: 6,
  bytes: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...a.bytes],
}));
const cidr: fc.Arbitrary<Cidr> = fc.oneof(
  fc.record({ addr: v4, prefix: fc.integer({ min: 0, max: 32 }) }),
  fc.record({ addr: v6, prefix: fc.integer({ min: 0, max: 128 }) }),
);
/** An address near one of the set's networks (same first bytes), or anywhere. */
const probe = (cidrs: Cidr[]) =>
  fc.oneof(
    v4,
    v6,
    mapped,
    fc
      .tuple(
        fc.constantFrom(...cidrs),
        fc.integer({ min: 0, max: 15 }),
        fc.integer({ min: 0, max: 255 }),
      )
      .map(([c, i, b]): Addr => {
        const bytes = [...c.addr.bytes];
        bytes[i % bytes.length] = b;
        return { family: c.addr.family, bytes };
      }),
    fc.constantFrom(...cidrs).map((c) => c.addr),
  );

describe('set lookups mean what a scan means', () => {
  it('an address set: the hash per prefix length agrees with inCidr over every CIDR', () => {
    fc.assert(
      fc.property(
        fc
          .array(cidr, { minLength: 1, maxLength: 40 })
          .chain((cidrs) =>
            fc.tuple(fc.constant(cidrs), fc.array(probe(cidrs), { minLength: 1, maxLength: 20 })),
          ),
        ([cidrs, addrs]) => {
          const has = cidrMatcher(cidrs);
          for (const a of addrs) expect(has(a)).toBe(cidrs.some((c) => inCidr(a, c)));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('a number set: the binary search of merged ranges agrees with every range', () => {
    const range = fc
      .tuple(fc.integer({ min: 0, max: 70_000 }), fc.integer({ min: 0, max: 300 }))
      .map(([lo, n]): [number, number] => [lo, lo + n]);
    fc.assert(
      fc.property(
        fc.array(range, { minLength: 1, maxLength: 50 }),
        fc.array(fc.integer({ min: 0, max: 71_000 }), { minLength: 1, maxLength: 30 }),
        (ranges, xs) => {
          const has = rangeMatcher(ranges);
          for (const x of xs) expect(has(x)).toBe(ranges.some(([lo, hi]) => x >= lo && x <= hi));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('raddr in (100,000 addresses): compiled, each session one lookup', () => {
    const addrs = Array.from(
      { length: 100_000 },
      (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
    );
    const r = compileFilter(`raddr in (${addrs.join(', ')}, 192.168.0.0/16)`);
    expect(r.diagnostics).toEqual([]);
    const test = compilePredicate(r.pred!);
    const sessions = Array.from({ length: 100_000 }, (_, i) => ({
      ...FIXTURES[0]!,
      raddr:
        i % 3 === 0
          ? `10.0.${(i >> 8) & 255}.${i & 255}`
          : i % 3 === 1
            ? `192.168.1.${i & 255}`
            : '172.16.0.1',
    }));
    const t0 = Date.now();
    let n = 0;
    for (const s of sessions) if (test(s as never)) n++;
    // A scan was 10^10 comparisons here (minutes); lookups take milliseconds.
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(n).toBe(sessions.filter((_, i) => i % 3 !== 2).length);
    for (const s of sessions.slice(0, 30)) expect(test(s as never)).toBe(evaluate(r.pred!, s));
  });
});
