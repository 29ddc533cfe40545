/** Rule files against real sessions: tags equal the reference evaluator; unmatched sessions stay in the kernel. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { evaluate } from '../../src/dsl/index.js';
import { loadRuleSet } from '../../src/rules/load.js';
import { startCli } from '../helpers/cli.js';
import { describeKernel } from '../helpers/kernel.js';
import { runClient, sleep, startServer } from '../helpers/tcpgen.js';

describeKernel('rule files on real sessions', () => {
  it('every printed session carries exactly the rules it matches, and nothing else leaves the kernel', async () => {
    const web = await startServer('tl_rweb', '127.0.0.1', { reply: 30_000 });
    const other = await startServer('tl_rother', '127.0.0.1', { reply: 10 });
    const dir = mkdtempSync(join(tmpdir(), 'tl-rk-'));
    const file = join(dir, 'test.rules');
    writeFileSync(
      file,
      [
        `list web_ports = (${web.port}, 1..1023)`,
        'macro mine = comm ~ "tl_r*"',
        'rule big_rx: mine and rx > 20KiB',
        'rule named_a: comm == "tl_rcli_a"',
        'rule web: mine and (lport in web_ports or rport in web_ports)',
        'rule sent_much: mine and tx_b >= 5000 and tx_b < 1MiB',
      ].join('\n'),
    );
    const set = loadRuleSet([file]);
    expect(set.diagnostics).toEqual([]);

    const cli = startCli(['--verbose', '-j', '--stats', '--rules', file]);
    await cli.ready;
    await runClient('tl_rcli_a', '127.0.0.1', web.port, { count: 3, send: 100 });
    await runClient('tl_rcli_b', '127.0.0.1', other.port, { count: 4, send: 6000 });
    await runClient('tl_rcli_a', '127.0.0.1', other.port, { count: 2 });
    await runClient('tl_rcli_c', '127.0.0.1', other.port, { count: 5 }); // matches no rule
    await sleep(150);
    cli.proc.kill('SIGINT');
    expect(await cli.exit).toBe(0);
    web.stop();
    other.stop();

    const printed = cli.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    for (const s of printed) {
      const expected = set.rules.filter((r) => evaluate(r.pred, s)).map((r) => r.name);
      expect(s.rules, JSON.stringify(s)).toEqual(expected);
      expect(s.rules.length).toBeGreaterThan(0);
    }
    const tagged = (n: string) => printed.filter((s) => s.rules.includes(n)).length;
    expect(tagged('big_rx')).toBe(3); // the clients of web
    expect(tagged('named_a')).toBe(5);
    expect(tagged('web')).toBe(6); // both ends of the 3 web sessions
    expect(tagged('sent_much')).toBe(7); // tl_rcli_b's 4 (tx_b 6002) and tl_rweb's 3 replies (tx_b 30001)
    expect(printed.filter((s) => s.comm === 'tl_rcli_c')).toHaveLength(0);
    // Kernel counters: every session that passed the kernel filter was printed.
    const m =
      /(\d+) session\(s\) closed, (\d+) passed the kernel filter, (\d+) read, (\d+) printed/.exec(
        cli.stderr,
      );
    expect(m).not.toBeNull();
    const [, , passed, read, shown] = m!.map(Number);
    expect(passed).toBe(read);
    expect(shown).toBe(printed.length);
    expect(read).toBe(printed.length);
  });
});
