/**
 * Faults around the build: a damaged cached object, clang missing with the
 * object cached, a clang that never returns, no usable TMPDIR. Each as a user
 * meets it: the command, its exit status and its one-line message.
 */

import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  symlinkSync,
  truncateSync,
  utimesSync,
  watch,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { generateProgram } from '../../src/codegen/program.js';
import { compileFilter } from '../../src/dsl/index.js';
import { buildObject, MAX_CACHED_OBJECTS } from '../../src/kernel/build.js';
import { splitFilter } from '../../src/plan/split.js';
import { asUser, BIN, runCli, startCli } from '../helpers/cli.js';
import { describeKernel } from '../helpers/kernel.js';
import { sleep } from '../helpers/tcpgen.js';

const base = mkdtempSync(join(tmpdir(), 'tl-faults-'));
/** A PATH with node and sh but no clang. */
const noClang = join(base, 'no-clang');
mkdirSync(noClang);
symlinkSync(process.execPath, join(noClang, 'node'));
symlinkSync('/bin/sh', join(noClang, 'sh'));
/** A clang that never returns. */
const slowClang = join(base, 'slow-clang');
mkdirSync(slowClang);
writeFileSync(join(slowClang, 'clang'), '#!/bin/sh\nexec sleep 600\n', { mode: 0o755 });

const run = (args: string[], env: Record<string, string>) =>
  runCli(args, { env: { ...process.env, ...env } as Record<string, string> });
// A filter no other test uses, so that its object is built here.
// (A byte count: a filter of ports or a PID would be read from the settings, one object for all.)
const unique = (n: number) => `tx_b == ${4_000_000 + (process.pid % 100_000) * 10 + n}`;

describeKernel('build faults', () => {
  it('a damaged cached object is rebuilt and replaced, with a note', async () => {
    const dir = join(base, 'cache');
    const r = compileFilter(unique(1));
    const src = generateProgram(splitFilter(r.pred!)).source;
    const first = await buildObject(src, { cacheDir: dir });
    const [file] = readdirSync(dir);
    truncateSync(join(dir, file!), 100);
    const second = await buildObject(src, { cacheDir: dir });
    expect(second.cached).toBe(false);
    expect(second.cacheNote).toMatch(/was damaged: rebuilt/);
    // (clang records its working directory in the object: compare with the rebuilt one.)
    expect(second.object.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
    expect(second.object.length).toBeGreaterThan(first.object.length / 2);
    const third = await buildObject(src, { cacheDir: dir });
    expect(third.cached).toBe(true);
    expect(third.object.equals(second.object)).toBe(true);
  });

  it('the cache keeps the 128 most recently used objects', async () => {
    const dir = join(base, 'lru');
    mkdirSync(dir, { mode: 0o700 });
    const old = new Date(Date.now() - 86_400_000);
    for (let i = 0; i < MAX_CACHED_OBJECTS; i++) {
      const p = join(dir, `${i.toString(16).padStart(32, '0')}.o`);
      writeFileSync(p, 'stale');
      utimesSync(p, old, new Date(old.getTime() + i * 1000));
    }
    const r = compileFilter(unique(7));
    const built = await buildObject(generateProgram(splitFilter(r.pred!)).source, {
      cacheDir: dir,
    });
    const left = readdirSync(dir);
    expect(left).toHaveLength(MAX_CACHED_OBJECTS);
    expect(left).toContain(`${built.hash}.o`);
    expect(left).not.toContain(`${'0'.repeat(32)}.o`); // the least recently used went
  });

  it('without clang, a cached object still serves; an uncached one says what to install', async () => {
    const filter = unique(2);
    expect((await run(['--duration', '0.2', filter], {})).code).toBe(0);
    const cached = await run(['--duration', '0.2', filter], { PATH: noClang });
    // No word of clang: the cached object served (the exit account may follow, host-wide).
    expect(cached.stderr.split('\n')[0]).toBe('tcplife: tracing TCP sessions; Ctrl-C to end');
    expect(cached.stderr).not.toContain('clang');
    expect(cached.code).toBe(0);
    const fresh = await run(['--duration', '0.2', unique(3)], { PATH: noClang });
    expect(fresh.code).toBe(1);
    expect(fresh.stderr).toContain('tcplife: clang is not installed');
    expect(fresh.stderr).toContain('apt-get install -y clang libbpf-dev');
  });

  it('a clang that never returns is stopped with a clear error', async () => {
    const t0 = Date.now();
    const r = await run(['--no-cache', '--duration', '0.2', unique(4)], {
      PATH: `${slowClang}:${process.env.PATH}`,
      TCPLIFE_CLANG_TIMEOUT: '1',
    });
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('tcplife: clang did not finish within 1 s');
    expect(r.stderr).not.toMatch(/internal error|at .*\.js:\d+/);
  });

  it('a signal during the build ends clang too', async () => {
    // A clang that sleeps a time no other test uses, to be found by it.
    const hung = join(base, 'hung-clang');
    mkdirSync(hung);
    writeFileSync(join(hung, 'clang'), '#!/bin/sh\nexec sleep 613\n', { mode: 0o755 });
    const running = () => spawnSync('pgrep', ['-f', '^sleep 613$']).status === 0;
    const cli = startCli(['--no-cache', '--duration', '0.2', unique(8)], {
      env: { ...process.env, PATH: `${hung}:${process.env.PATH}` } as Record<string, string>,
    });
    const t0 = Date.now();
    while (!running() && Date.now() - t0 < 10_000) await sleep(50);
    expect(running()).toBe(true);
    cli.proc.kill('SIGTERM');
    await cli.exit;
    const t1 = Date.now();
    while (running() && Date.now() - t1 < 2000) await sleep(50);
    expect(running()).toBe(false);
  });

  it('a damaged kernel BTF is named as such, not "No such process"', () => {
    const garbage = join(base, 'garbage.btf');
    writeFileSync(garbage, randomBytes(4096));
    // In a mount namespace of its own, the kernel's BTF file is replaced by garbage.
    const r = spawnSync(
      'unshare',
      [
        '-m',
        'sh',
        '-c',
        'mount --bind "$0" /sys/kernel/btf/vmlinux && exec "$@"',
        garbage,
        BIN,
        '--duration',
        '0.2',
      ],
      { encoding: 'utf8', timeout: 20_000 },
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(
      "tcplife: cannot read the kernel's BTF at /sys/kernel/btf/vmlinux: it is damaged or unreadable",
    );
    expect(r.stderr).not.toMatch(/No such process|internal error/);
  });

  it('a TMPDIR another user owns decides nothing: the build makes nothing there to swap', async () => {
    // The attack of the second hardening round, made deterministic: TMPDIR is a
    // directory nobody owns; a watcher (inotify) sees every name made in it, and
    // an attacker running as nobody swaps any tcplife-* directory for one of its
    // own whose C does not compile. Before the build went through clang's
    // stdin and stdout, the watcher saw tcplife-XXXXXX every time.
    const dir = mkdtempSync(join(tmpdir(), 'tl-hostile-tmp-'));
    chownSync(dir, 65534, 65534);
    chmodSync(dir, 0o755);
    const made: string[] = [];
    const watcher = watch(dir, (_event, name) => {
      if (name) made.push(name);
    });
    const attacker = spawn(
      ...asUser('nobody', '/usr/bin/python3', [
        '-c',
        `
import os, sys, time
d = sys.argv[1]
end = time.time() + 60
while time.time() < end:
    for n in os.listdir(d):
        if n.startswith('tcplife-') and not n.endswith('.orig'):
            try:
                os.rename(os.path.join(d, n), os.path.join(d, n + '.orig'))
                os.mkdir(os.path.join(d, n))
                with open(os.path.join(d, n, 'tcplife.bpf.c'), 'w') as f:
                    f.write('#error swapped by another user\\n')
            except OSError:
                pass
`,
        dir,
      ]),
      { stdio: 'ignore' },
    );
    try {
      const r = await run(['--no-cache', '--duration', '0.2', unique(5)], { TMPDIR: dir });
      expect(r.stderr).not.toContain('swapped');
      expect(r.code).toBe(0);
      expect(made).toEqual([]);
      // And a TMPDIR that does not exist is not needed either.
      const missing = await run(['--no-cache', '--duration', '0.2', unique(6)], {
        TMPDIR: join(base, 'missing', 'tmp'),
      });
      expect(missing.code).toBe(0);
    } finally {
      attacker.kill('SIGKILL');
      watcher.close();
    }
  });
});
