import { chmodSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateProgram } from '../../src/codegen/program.js';
import * as IR from '../../src/dsl/ir.js';
import { BpfObject, summariseVerifierLog } from '../../src/kernel/bpf-object.js';
import { buildObject, cacheDirProblem } from '../../src/kernel/build.js';
import { ClangMissingError, VerifierError } from '../../src/kernel/errors.js';
import { Tracer } from '../../src/kernel/tracer.js';
import { splitFilter } from '../../src/plan/split.js';
import { describeKernel } from '../helpers/kernel.js';

const source = () => generateProgram(splitFilter(IR.TRUE), { ringBytes: 1 << 16 }).source;

describeKernel('building with clang, and the object cache', () => {
  it('a program the verifier refuses (EACCES) is said to be refused by the verifier, not a missing permission', async () => {
    const spec = generateProgram(splitFilter(IR.TRUE), { ringBytes: 1 << 16 });
    // The filter reads far past the record on the stack.
    const bad = spec.source.replace(
      /(bool filter\(const struct event \*e\)\s*\{\s*return )[^;]+;/,
      '$1((const volatile char *)e)[1 << 20] == 0;',
    );
    expect(bad).not.toBe(spec.source);
    const built = await buildObject(bad, { cacheDir: null });
    for (const attach of ['tp_btf', 'raw_tp'] as const) {
      const obj = BpfObject.open(built.object, {
        maxEntries: spec.maxEntries,
        settings: spec.settings,
        attach,
      });
      try {
        expect(() => obj.load()).toThrow(VerifierError);
      } finally {
        obj.close();
      }
    }
  });

  it('the second start takes the cached object; the file is private', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'tl-cache-')), 'cache');
    const first = await buildObject(source(), { cacheDir: dir });
    expect(first.cached).toBe(false);
    expect(first.cacheNote).toBeUndefined();
    const second = await buildObject(source(), { cacheDir: dir });
    expect(second.cached).toBe(true);
    expect(second.object.equals(first.object)).toBe(true);
    expect(readdirSync(dir)).toEqual([`${first.hash}.o`]); // no temporary files left
    expect(cacheDirProblem(dir)).toBeUndefined();
  });

  it('the ring size is a setting, not code: the same object and cache entry, the value read back from the program', async () => {
    const small = generateProgram(splitFilter(IR.TRUE), { ringBytes: 1 << 16 });
    const large = generateProgram(splitFilter(IR.TRUE), { ringBytes: 1 << 22 });
    expect(small.source).toBe(large.source);
    expect([small.settings.wakeup_bytes, large.settings.wakeup_bytes]).toEqual([8192, 524288]);
    const dir = join(mkdtempSync(join(tmpdir(), 'tl-cache-')), 'cache');
    await buildObject(small.source, { cacheDir: dir });
    const again = await buildObject(large.source, { cacheDir: dir });
    expect(again.cached).toBe(true);
    for (const spec of [small, large]) {
      const t = await Tracer.start(spec, { cacheDir: dir });
      try {
        expect(t.settings()).toEqual(spec.settings);
      } finally {
        t.close();
      }
    }
  });

  it('a directory others can write is not used', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tl-cache-'));
    chmodSync(dir, 0o777);
    expect(cacheDirProblem(dir)).toMatch(/writable by others/);
    const r = await buildObject(source(), { cacheDir: dir });
    expect(r.cached).toBe(false);
    expect(r.cacheNote).toMatch(/writable by others/);
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('errors a user can meet', () => {
  it('clang missing: what to install', async () => {
    const path = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      await expect(buildObject(source(), { cacheDir: null })).rejects.toThrow(ClangMissingError);
      await expect(buildObject(source(), { cacheDir: null })).rejects.toMatchObject({
        hint: expect.stringContaining('apt-get install -y clang libbpf-dev'),
      });
    } finally {
      process.env.PATH = path;
    }
  });

  it("the verifier's verdict in one line", () => {
    const log = [
      'func#0 @0',
      '0: R1=ctx() R10=fp0',
      '; return on_state(...)',
      '12: (71) r1 = *(u8 *)(r2 +0)',
      "R2 invalid mem access 'scalar'",
      'processed 13 insns (limit 1000000) max_states_per_insn 0 total_states 1 peak_states 1 mark_read 1',
    ].join('\n');
    expect(summariseVerifierLog(log)).toBe("R2 invalid mem access 'scalar'");
  });
});
