/**
 * For a set of filters, on real sessions: what reaches userspace is exactly
 * what the kernel part accepts, and the final result equals the reference
 * evaluator applied to every session (seen by an unfiltered tracer running
 * alongside).
 */

import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { generateProgram } from '../../src/codegen/program.js';
import { compileFilter, compilePredicate, evaluate } from '../../src/dsl/index.js';
import { BpfObject, RECURSION_MISSES_OFFSET } from '../../src/kernel/bpf-object.js';
import { buildObject } from '../../src/kernel/build.js';
import { TcplifeError } from '../../src/kernel/errors.js';
import type { DecodedSession as Session } from '../../src/model/fields.js';
import { splitFilter } from '../../src/plan/split.js';
import { validFilterArb } from '../dsl/arbitraries.js';
import { ofPorts, startCollecting } from '../helpers/collect.js';
import { describeKernel } from '../helpers/kernel.js';
import { runClient, startServer } from '../helpers/tcpgen.js';

const key = (s: Session) => `${s.laddr}:${s.lport}>${s.raddr}:${s.rport}`;
const keys = (ss: Session[]) => ss.map(key).sort();

describeKernel('the kernel part of filters, on real sessions', () => {
  it('delivers exactly what the kernel part accepts; the result equals the reference evaluator', async () => {
    const web = await startServer('tl_web', '127.0.0.1', { reply: 5000 });
    const db = await startServer('tl_db', '::', { reply: 100 });
    const filters = [
      `rport == ${web.port}`,
      `lport in (${web.port}, ${db.port}) and tx_kb > 4`,
      'comm == "tl_cli_a"',
      'comm ~ "tl_cli*" and rx > 1KiB',
      `comm =~ /_b$/ or lport == ${db.port}`,
      'not (raddr in (127.0.0.0/8)) or rx_b == 5001',
      `lport in (1..1024, 2000, 3000, ${web.port}, 9000..9100)`,
      'span > 1h or tx_b == 102',
      'family == 6 or comm ~ "tl_*_b"',
      'raddr in (::ffff:0:0/96) and not comm == "tl_db"',
      `port == ${db.port} and not host == ::1`,
      `port != ${web.port} and addr in (127.0.0.0/8, ::1)`,
    ];
    // Each filter counts only this test's sessions (its own two ports): the
    // kernel's counters are host-wide, and on a host with other TCP traffic
    // a filter such as comm =~ /_b$/ (every session leaves the kernel) let
    // foreign sessions into them (64,872 delivered against 155,868 passed).
    const scoped = (f: string) => `(${f}) and port in (${web.port}, ${db.port})`;
    const all = await startCollecting(scoped('lport >= 0'));
    const filtered = [];
    for (const f of filters) filtered.push({ f: scoped(f), col: await startCollecting(scoped(f)) });

    await runClient('tl_cli_a', '127.0.0.1', web.port, { count: 5, send: 100 });
    await runClient('tl_cli_b', '127.0.0.1', db.port, { count: 5, send: 20_000 });
    await runClient('tl_cli_a', '::1', db.port, { count: 3 });
    await runClient('tl_cli_b', '127.0.0.1', web.port, { count: 2, send: 7000 });
    web.stop();
    db.stop();

    const ports = [web.port, db.port];
    const everything = ofPorts((await all.stop()).sessions, ports);
    expect(everything.length).toBe(2 * (5 + 5 + 3 + 2));
    for (const { f, col } of filtered) {
      const got = await col.stop();
      const pred = compileFilter(f).pred!;
      const { kernel, user } = splitFilter(pred);
      const delivered = ofPorts(got.sessions, ports);
      // Nothing lost between kernel and userspace.
      expect(got.stats.delivered, f).toBe(got.stats.passed);
      expect(got.stats.ringbuf_drops, f).toBe(0);
      // Delivered = the sessions the kernel part accepts.
      expect(keys(delivered), f).toEqual(keys(everything.filter((s) => evaluate(kernel, s))));
      // Final = the reference evaluator on every session.
      const final = delivered.filter(compilePredicate(user));
      expect(keys(final), f).toEqual(keys(everything.filter((s) => evaluate(pred, s))));
    }
  });

  it('random filters compile with clang and pass the verifier, or fail with a clear error', async () => {
    await fc.assert(
      fc.asyncProperty(validFilterArb, async (text) => {
        const r = compileFilter(text);
        expect(
          r.diagnostics.map((d) => d.message),
          text,
        ).toEqual([]);
        const prog = generateProgram(splitFilter(r.pred!), {
          ringBytes: 1 << 16,
          mapEntries: 1024,
        });
        try {
          const built = await buildObject(prog.source, { cacheDir: null });
          const obj = BpfObject.open(built.object, { ...prog, attach: 'tp_btf' });
          try {
            obj.load();
          } finally {
            obj.close();
          }
        } catch (e) {
          // A user-facing error with a message is acceptable; a crash is not.
          expect(e).toBeInstanceOf(TcplifeError);
          throw new Error(`rejected: ${text}: ${(e as Error).message}`);
        }
      }),
      { numRuns: 30 },
    );
  });

  it('recursion_misses is read at the right offset of bpf_prog_info', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tl-off-'));
    writeFileSync(
      join(dir, 'off.c'),
      '#include <stddef.h>\n#include <stdio.h>\n#include <linux/bpf.h>\nint main(void) { printf("%zu", offsetof(struct bpf_prog_info, recursion_misses)); return 0; }\n',
    );
    execFileSync('cc', ['-o', join(dir, 'off'), join(dir, 'off.c')]);
    const out = execFileSync(join(dir, 'off')).toString();
    expect(Number(out)).toBe(RECURSION_MISSES_OFFSET);
  });
});
