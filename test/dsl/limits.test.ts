/**
 * Deep and large filters: nesting past the documented limit is a usage error
 * with a caret; long chains and lists, which do not nest, just work — and a
 * chain of ports becomes one set.
 */
import { describe, expect, it } from 'vitest';
import { compileFilter, parseRuleFile, renderDiagnostics } from '../../src/dsl/index.js';
import { MAX_NESTING } from '../../src/dsl/parse.js';
import { runCli } from '../helpers/cli.js';

describe('nesting limit', () => {
  it(`${MAX_NESTING} levels parse; one more is an error at the token that goes past`, () => {
    const ok = `${'('.repeat(MAX_NESTING)}lport == 1${')'.repeat(MAX_NESTING)}`;
    expect(compileFilter(ok).diagnostics).toEqual([]);
    const deep = `${'('.repeat(MAX_NESTING + 1)}lport == 1${')'.repeat(MAX_NESTING + 1)}`;
    const r = compileFilter(deep);
    expect(r.pred).toBeUndefined();
    expect(r.diagnostics.map((d) => [d.message, d.span.start])).toEqual([
      [`nested more than ${MAX_NESTING} levels deep (parentheses and not)`, MAX_NESTING],
    ]);
  });

  it('350 parentheses, 2,000 nots: exit 2 with a caret, no stack trace, promptly', async () => {
    for (const filter of [
      `${'('.repeat(350)}lport == 1${')'.repeat(350)}`,
      `${'not '.repeat(2000)}lport == 1`,
    ]) {
      const t0 = Date.now();
      const r = await runCli(['--explain', filter]);
      expect(Date.now() - t0).toBeLessThan(5000);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/<filter>:1:\d+: error: nested more than 100 levels deep/);
      expect(r.stderr).toContain('^');
      expect(r.stderr).not.toMatch(/internal error|Maximum call stack/);
    }
  });
});

describe('long chains', () => {
  it('a 5,000-term or of ports is one set, decided exactly', () => {
    const text = Array.from({ length: 5000 }, (_, i) => `dport == ${i * 13}`).join(' or ');
    const r = compileFilter(text);
    expect(r.diagnostics).toEqual([]);
    expect(r.pred?.k).toBe('numset');
    expect(r.pred).toMatchObject({ key: 'rport' });
  });

  it('a 5,000-term and, and a 2,000-item list, check without trouble', () => {
    const and = Array.from({ length: 5000 }, (_, i) => `lport != ${i}`).join(' and ');
    expect(compileFilter(and).diagnostics).toEqual([]);
    const list = `raddr in (${Array.from({ length: 2000 }, (_, i) => `10.${i >> 8}.${i & 255}.0/24`).join(', ')})`;
    expect(compileFilter(list).diagnostics).toEqual([]);
  });

  it('a rule of 150,000 terms parses (it used to overflow the stack)', () => {
    const text = `rule big: ${Array.from({ length: 150_000 }, (_, i) => `lport == ${i % 65536}`).join(' or ')}\n`;
    const r = parseRuleFile(text, 'big.rules');
    expect(renderDiagnostics(r.diagnostics)).toBe('');
    expect(r.statements).toHaveLength(1);
  }, 60_000);
});
