/**
 * Long address sets (more than 32 CIDRs) are decided in the kernel by a
 * longest-prefix trie that the loader fills from the set, with the filter's
 * meaning: IPv4 CIDRs hold plain and IPv4-mapped addresses, IPv6 CIDRs IPv6
 * ones. Before, such a set let every session out of the kernel for
 * userspace to scan.
 */
import { describe, expect, it } from 'vitest';
import { generateProgram } from '../../src/codegen/program.js';
import { compileFilter } from '../../src/dsl/index.js';
import * as IR from '../../src/dsl/ir.js';
import { MAX_KERNEL_ADDR_SETS, splitFilter } from '../../src/plan/split.js';
import { runCli, startCli } from '../helpers/cli.js';
import { describeKernel } from '../helpers/kernel.js';
import { runClient, sleep, startServer } from '../helpers/tcpgen.js';

/** n addresses of 10.x.y.z, none of them loopback. */
const others = (n: number, salt = 0) =>
  Array.from({ length: n }, (_, i) => `10.${salt}.${(i >> 8) & 255}.${i & 255}`);
const pred = (f: string) => compileFilter(f).pred!;

describe('long address sets in the kernel', () => {
  it('a set of 1,000 addresses is the kernel’s alone: a trie lookup, the same C for any contents', () => {
    const a = generateProgram(splitFilter(pred(`raddr in (${others(1000).join(', ')})`)));
    const b = generateProgram(splitFilter(pred(`raddr in (${others(1000, 1).join(', ')})`)));
    expect(a.split.user).toEqual(IR.TRUE);
    expect(a.filterC).toBe('addr_in_set(&addr_set_0, e->raddr, e->family)');
    expect(a.addrSets[0]).toHaveLength(1000);
    // One object serves every set of the same shape: the cache keys on the C.
    expect(b.source).toBe(a.source);
  });

  it(`past ${MAX_KERNEL_ADDR_SETS} long sets, the rest are userspace's`, () => {
    // Sets of one field joined by `or` would be one set: each is paired with a port.
    const sets = Array.from(
      { length: MAX_KERNEL_ADDR_SETS + 1 },
      (_, k) => `(raddr in (${others(40, k).join(', ')}) and lport == ${k + 1})`,
    );
    const s = splitFilter(pred(sets.join(' or ')));
    expect(s.user).not.toEqual(IR.TRUE);
    const prog = generateProgram(s);
    expect(prog.addrSets).toHaveLength(MAX_KERNEL_ADDR_SETS);
  });
});

describeKernel('long address sets, live', () => {
  it('sessions to an address in the set pass the kernel; others do not; IPv6 and IPv4-mapped too', async () => {
    const server = await startServer('tl_aset_srv', '::');
    try {
      const cases: [string, string, number][] = [
        // [filter's set, the client's address, sessions expected (client side only)]
        [`${others(100).join(', ')}, 127.0.0.0/8`, '127.0.0.1', 1],
        [`${others(100).join(', ')}, 127.0.0.5`, '127.0.0.1', 0],
        [`${others(100).join(', ')}, ::1`, '::1', 1],
        // An IPv4 CIDR holds the IPv4-mapped address of a dual-stack socket.
        [`${others(100).join(', ')}, 127.0.0.1/32`, '::ffff:127.0.0.1', 1],
      ];
      for (const [set, addr, want] of cases) {
        const filter = `rport == ${server.port} and raddr in (${set})`;
        const explain = await runCli(['--explain', filter]);
        expect(explain.stdout).toContain('userspace:  nothing more: the kernel decides exactly');
        const cli = startCli(['-v', '-j', '--stats', filter]);
        await cli.ready;
        await runClient('tl_aset_cli', addr, server.port, { count: 1 });
        await sleep(300);
        cli.proc.kill('SIGINT');
        expect(await cli.exit).toBe(0);
        const lines = cli.stdout.split('\n').filter(Boolean);
        expect(lines.length, `${addr} in (…${set.slice(-20)})`).toBe(want);
        // The kernel dropped the rest: 'passed the kernel filter' counts only these.
        expect(cli.stderr).toMatch(new RegExp(`${want} passed the kernel filter`));
      }
    } finally {
      server.stop();
    }
  });
});
