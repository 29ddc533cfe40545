/**
 * Globs work on bytes, as `==` does: a process named 61 62 e9 63 64 (not
 * UTF-8) is `ab\xe9cd` in tcplife's text form, and `comm ~ "ab\xe9*"`,
 * `"a?\xe9cd"` and `"*b\xe9*"` match it — by the reference evaluator, the
 * compiled closure, the kernel (a prefix glob) and live. Before, only `==`
 * did, and `"\xe9\xe9\xe9\xe9\xe9\xe9*"` was refused as 18 bytes.
 */
import { describe, expect, it } from 'vitest';
import { compilePredicate } from '../../src/dsl/compile.js';
import { compileFilter, evaluate } from '../../src/dsl/index.js';
import * as IR from '../../src/dsl/ir.js';
import { splitFilter } from '../../src/plan/split.js';
import { FIXTURES } from '../fixtures/sessions.js';
import { startCli } from '../helpers/cli.js';
import { describeKernel } from '../helpers/kernel.js';
import { connectNamed, sleep, startServer } from '../helpers/tcpgen.js';

const NAME = 'ab\\xe9cd';
const session = { ...FIXTURES[0]!, comm: NAME };
const MATCH = ['ab\\xe9*', 'a?\\xe9cd', '*b\\xe9*', 'ab\\xe9cd', '*\\xe9??', 'a*d'];
const MISS = ['ab\\xe8*', 'a?cd', 'abe9*', 'ab\\\\xe9*', '?\\xe9*', 'ab\\xe9c'];

describe('globs on bytes', () => {
  for (const [glob, want] of [
    ...MATCH.map((g) => [g, true]),
    ...MISS.map((g) => [g, false]),
  ] as const) {
    it(`comm ~ "${glob}" ${want ? 'matches' : 'does not match'} ${NAME}`, () => {
      const r = compileFilter(`comm ~ "${glob}"`);
      expect(r.diagnostics).toEqual([]);
      expect(evaluate(r.pred!, session)).toBe(want);
      expect(compilePredicate(r.pred!)(session as never)).toBe(want);
    });
  }

  it('a glob of six \\xe9 bytes then * is six bytes, not eighteen', () => {
    const r = compileFilter('comm ~ "\\xe9\\xe9\\xe9\\xe9\\xe9\\xe9*"');
    expect(r.diagnostics).toEqual([]);
    // Sixteen literal bytes could never match a comm (at most 15).
    expect(compileFilter(`comm ~ "${'\\xe9'.repeat(16)}*"`).diagnostics[0]?.message).toMatch(
      /holds at most 15 bytes; this string \(16\) could never match/,
    );
  });

  it('the kernel decides a prefix glob byte by byte', () => {
    const s = splitFilter(compileFilter('comm ~ "ab\\xe9*"').pred!);
    expect(s.user).toEqual(IR.TRUE);
  });
});

describeKernel('globs on bytes, live', () => {
  it('a process named 61 62 e9 63 64 is matched by a prefix glob in the kernel and others in userspace', async () => {
    const server = await startServer('tl_glob_srv', '127.0.0.1');
    try {
      for (const filter of ['comm ~ "ab\\xe9*"', 'comm ~ "a?\\xe9cd"', 'comm ~ "*b\\xe9*"']) {
        const cli = startCli(['-v', '-j', `${filter} and rport == ${server.port}`]);
        await cli.ready;
        // A client that names itself with bytes that are not UTF-8, then connects.
        connectNamed('ab\\xe9cd', server.port);
        await sleep(300);
        cli.proc.kill('SIGINT');
        expect(await cli.exit).toBe(0);
        const comms = cli.stdout
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l).comm);
        expect(comms, filter).toEqual([NAME]);
      }
    } finally {
      server.stop();
    }
  });
});
