import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { emitFilter } from '../../src/codegen/emit-c.js';
import { generateProgram } from '../../src/codegen/program.js';
import { fillTemplate, TemplateError } from '../../src/codegen/template.js';
import { compileFilter, evaluate } from '../../src/dsl/index.js';
import type { Pred } from '../../src/dsl/ir.js';
import { splitFilter } from '../../src/plan/split.js';
import { sessionArb, validFilterArb } from '../dsl/arbitraries.js';

function pred(text: string): Pred {
  const r = compileFilter(text);
  if (!r.pred) throw new Error(r.diagnostics.map((d) => d.message).join('; '));
  return r.pred;
}

function kernelC(text: string): string {
  return emitFilter(splitFilter(pred(text)).kernel).expr;
}

describe('golden C for the kernel part', () => {
  it('ports and bytes, exactly', () => {
    expect(kernelC('dport == 443 && tx_kb > 10')).toBe(
      '((e->rport == 443ULL) && (e->tx_b > 10240ULL))',
    );
    expect(kernelC('tx_kb > 1.5')).toBe('(e->tx_b > 1536ULL)');
    expect(kernelC('tx_kb >= 0.001')).toBe('(e->tx_b >= 2ULL)');
    expect(kernelC('span_ms < 0.0015')).toBe('(e->span_us < 2ULL)');
    expect(kernelC('tx_kb == 0.5')).toBe('(e->tx_b == 512ULL)');
    expect(kernelC('tx_kb == 0.0001')).toBe('0');
  });

  it('IPv4 CIDRs also match IPv4-mapped IPv6; IPv6 CIDRs by words', () => {
    expect(kernelC('raddr in (10.0.0.0/8)')).toBe(
      '(v4_in(e->raddr, e->family, 0x0a000000U, 0xff000000U))',
    );
    expect(kernelC('laddr == fd00::1')).toBe(
      '(v6_in(e->laddr, e->family, 0xfd000000U, 0x00000000U, 0x00000000U, 0x00000001U, 0xffffffffU, 0xffffffffU, 0xffffffffU, 0xffffffffU))',
    );
  });

  it('comm equality and prefix become byte comparisons; a regex stays in userspace', () => {
    expect(kernelC('comm == "ab"')).toBe(
      '((e->comm[0] == (char)0x61 && e->comm[1] == (char)0x62 && e->comm[2] == 0))',
    );
    expect(kernelC('comm ~ "ab*"')).toBe('(e->comm[0] == (char)0x61 && e->comm[1] == (char)0x62)');
    const s = splitFilter(pred('dport == 80 and comm =~ /^node/'));
    expect(emitFilter(s.kernel).expr).toBe('(e->rport == 80ULL)');
    expect(s.user).toEqual(pred('dport == 80 and comm =~ /^node/'));
  });

  it('a glob with an inner wildcard: the kernel checks its prefix, userspace the rest', () => {
    const s = splitFilter(pred('comm ~ "ja*va"'));
    expect(emitFilter(s.kernel).expr).toBe(
      '(e->comm[0] == (char)0x6a && e->comm[1] == (char)0x61)',
    );
    expect(s.user).toEqual(pred('comm ~ "ja*va"'));
  });

  it('large port sets become one bitmap lookup, not a chain', () => {
    expect(kernelC('lport in (1..1024, 8080, 9000..9100)')).toBe(
      '((e->lport >= 1ULL && e->lport <= 1024ULL) || e->lport == 8080ULL || (e->lport >= 9000ULL && e->lport <= 9100ULL))',
    );
    const e = emitFilter(
      splitFilter(pred('lport in (1..1024, 2000, 3000, 4000, 8080, 9000..9100)')).kernel,
    );
    expect(e.expr).toBe('((port_set_0[(e->lport >> 6) & 1023] >> (e->lport & 63)) & 1)');
    expect(e.data).toMatch(
      /^static const volatile __u64 port_set_0\[1024\] = \{ \[0\] = 0xfffffffffffffffeULL, /,
    );
  });

  it('negation of what the kernel cannot decide keeps the kernel part weaker, never stronger', () => {
    // not (comm =~ /x/): the kernel cannot tell, so it must accept everything
    expect(kernelC('not comm =~ /x/')).toBe('1');
    expect(kernelC('dport == 1 and not comm =~ /x/')).toBe('(e->rport == 1ULL)');
  });
});

describe('split laws', () => {
  it('the kernel part never rejects a session the whole filter accepts', () => {
    // Well-typed filters only (every case is checked: none is skipped).
    fc.assert(
      fc.property(validFilterArb, sessionArb, (text, s) => {
        const r = compileFilter(text);
        expect(r.diagnostics, text).toEqual([]);
        const { kernel, user } = splitFilter(r.pred!);
        const whole = evaluate(r.pred!, s);
        if (whole) expect(evaluate(kernel, s)).toBe(true);
        // kernel && user is the whole filter
        expect(evaluate(kernel, s) && evaluate(user, s)).toBe(whole);
      }),
      { numRuns: 3000 },
    );
  });
});

describe('no user text reaches C', () => {
  // Values, written into the filter as string literals with the language's escapes.
  const nasty = ['a"b', 'a\\b', '*/x', 'x\ny', 'a\x01', "'", '%s%n', '\t#', '}; //', 'é'];
  const literal = (v: string) =>
    `"${[...v]
      .map((ch) =>
        ch === '"' || ch === '\\'
          ? `\\${ch}`
          : ch.charCodeAt(0) < 0x20
            ? `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`
            : ch,
      )
      .join('')}"`;
  for (const s of nasty) {
    it(`comm == ${JSON.stringify(s)} is compared byte for byte`, () => {
      const r = compileFilter(`comm == ${literal(s)}`);
      expect(r.diagnostics).toEqual([]);
      expect(r.pred).toEqual({ k: 'str', key: 'comm', values: [s] });
      const c = emitFilter(splitFilter(r.pred!).kernel).expr;
      // Only the fixed vocabulary of the emitter: no quotes, comments or newlines.
      expect(c).toMatch(/^[()e\->comm[\]0-9a-fx=&| char]+$/);
      const bytes = [...Buffer.from(s)].map((b) => `(char)0x${b.toString(16).padStart(2, '0')}`);
      // One value in the set: the set's parentheses around the value's.
      expect(c).toBe(
        `((${[...bytes.map((b, i) => `e->comm[${i}] == ${b}`), `e->comm[${bytes.length}] == 0`].join(' && ')}))`,
      );
    });
  }

  it('a NUL in a comm literal is rejected with a diagnostic', () => {
    const r = compileFilter('comm == "a\\0b"');
    expect(r.pred).toBeUndefined();
    expect(r.diagnostics[0]?.message).toBe('comm cannot contain a NUL byte');
  });

  it('the generated program contains no text from the filter', () => {
    const p = generateProgram(splitFilter(pred('comm == "EVIL*/" or comm ~ "x\\"y*"')), {
      ringBytes: 1 << 20,
    });
    expect(p.source).not.toContain('EVIL');
    expect(p.source).not.toContain('x"y');
  });
});

describe('strict templates', () => {
  it('fills every slot', () => {
    expect(fillTemplate('a @@X@@ b @@Y@@', { X: '1', Y: '2' })).toBe('a 1 b 2');
  });
  it('rejects missing, unknown and leftover slots', () => {
    expect(() => fillTemplate('a @@X@@ @@Y@@', { X: '1' })).toThrow(TemplateError);
    expect(() => fillTemplate('a @@X@@', { X: '1', Z: '2' })).toThrow(/no such template slots: Z/);
    expect(() => fillTemplate('a @@X@@', { X: '@@Y@@' })).toThrow(TemplateError);
  });
});
