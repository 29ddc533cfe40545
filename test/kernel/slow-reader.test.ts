/**
 * A reader that stops reading (a paused `| jq`, a terminal on hold) must not
 * make tcplife lose sessions: what it has not taken waits in tcplife's
 * output buffer, and the ring keeps draining. Past the buffer's cap, the
 * loss is counted once, with the setting that helps.
 */
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { expect, it } from 'vitest';
import { BIN } from '../helpers/cli.js';
import { describeKernel } from '../helpers/kernel.js';
import { runClient, sleep, startServer } from '../helpers/tcpgen.js';

/**
 * tcplife with its stdout unread until `read()` is called; or, `fifo`, into
 * a named pipe the test never reads while tcplife runs (Node discards what
 * a child's unread stdout holds at its exit, so what is left there could
 * not be counted).
 */
function pausedReader(args: string[], { fifo = false } = {}) {
  let readEnd: number | undefined;
  let out: 'pipe' | number = 'pipe';
  if (fifo) {
    const path = join(mkdtempSync(join(tmpdir(), 'tl-fifo-')), 'out');
    execFileSync('mkfifo', [path]);
    // The read end first, non-blocking: opening the write end then does not wait.
    readEnd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    out = openSync(path, 'w');
    rmSync(dirname(path), { recursive: true });
  }
  const proc = spawn(BIN, args, { stdio: ['ignore', out, 'pipe'] });
  if (typeof out === 'number') closeSync(out);
  let stderr = '';
  let stdout = '';
  proc.stderr!.on('data', (d) => {
    stderr += d;
  });
  const attached = new Promise<void>((resolve, reject) => {
    proc.stderr!.on('data', () => {
      if (stderr.includes('tcplife: attached')) resolve();
    });
    proc.once('exit', () => reject(new Error(`tcplife exited: ${stderr}`)));
  });
  const exit = new Promise<number | null>((r) => proc.once('exit', (c) => r(c)));
  // stderr read to its end (stdout may never be read: no 'close' then).
  const stderrEnd = new Promise((r) => proc.stderr!.once('close', r));
  return {
    proc,
    attached,
    stderrText: async () => {
      await exit;
      await stderrEnd;
      return stderr;
    },
    read: () =>
      proc.stdout!.on('data', (d) => {
        stdout += d;
      }),
    /** With `fifo`, once tcplife has exited: what is left in the pipe for the reader. */
    leftInPipe: () => {
      const all: Buffer[] = [];
      const buf = Buffer.alloc(1 << 16);
      for (let n = readSync(readEnd!, buf); n > 0; n = readSync(readEnd!, buf))
        all.push(Buffer.from(buf.subarray(0, n)));
      closeSync(readEnd!);
      return Buffer.concat(all).toString();
    },
    done: async () => {
      proc.kill('SIGINT');
      // 'close': stdout and stderr read to their end, not just the exit.
      const code = await new Promise<number | null>((r) => proc.once('close', (c) => r(c)));
      return { code, stdout, stderr };
    },
  };
}

async function burst(port: number, sessions: number, clients: number): Promise<number> {
  const runs = await Promise.all(
    Array.from({ length: clients }, () =>
      runClient('tl_burst', '127.0.0.1', port, { count: sessions / clients }),
    ),
  );
  return runs.reduce((n, r) => n + r.sessions, 0);
}

describeKernel('a reader that pauses', () => {
  it('a burst of 50,000 sessions while the reader pauses for 5 s: none lost', async () => {
    const server = await startServer('tl_burst_srv', '127.0.0.1');
    try {
      const t = pausedReader([
        '-v',
        '-j',
        '--stats',
        `lport == ${server.port} or rport == ${server.port}`,
      ]);
      await t.attached;
      const t0 = Date.now();
      const made = await burst(server.port, 50_000, 4);
      expect(made).toBe(50_000);
      // The ring (4 MiB, about 32,000 records) alone could not hold the 100,000 records.
      await sleep(Math.max(0, 5000 - (Date.now() - t0)));
      t.read();
      const r = await t.done();
      expect(r.code).toBe(0);
      const lines = r.stdout.split('\n').filter(Boolean);
      expect(lines.length).toBe(2 * made);
      expect(r.stderr).toMatch(/tcplife: 0 session\(s\) lost: 0 with the ring buffer full/);
      expect(r.stderr).toMatch(/0 with the output buffer full/);
      expect(r.stderr).toMatch(new RegExp(`${2 * made} printed`));
    } finally {
      server.stop();
    }
  }, 60_000);

  it('past --buffer-size, the loss is counted once, with the setting that helps', async () => {
    const server = await startServer('tl_burst_srv', '127.0.0.1');
    try {
      const t = pausedReader([
        '-v',
        '-j',
        '--stats',
        '--buffer-size',
        '256K',
        `lport == ${server.port} or rport == ${server.port}`,
      ]);
      await t.attached;
      const made = await burst(server.port, 5_000, 2);
      await sleep(500);
      t.read();
      const r = await t.done();
      expect(r.code).toBe(0);
      const printed = r.stdout.split('\n').filter(Boolean).length;
      const said = r.stderr.match(/of output wait for a slow reader/g) ?? [];
      expect(said).toHaveLength(1);
      expect(r.stderr).toContain('256KiB of output wait for a slow reader');
      expect(r.stderr).toContain('a larger --buffer-size');
      const dropped = Number(/(\d+) with the output buffer full/.exec(r.stderr)?.[1]);
      expect(dropped).toBeGreaterThan(0);
      // Every session printed or counted, once.
      expect(printed + dropped).toBe(2 * made);
      expect(r.stderr).toMatch(new RegExp(`${printed} printed`));
    } finally {
      server.stop();
    }
  }, 60_000);

  it('a reader that never reads: SIGTERM or --duration still end the run within a second', async () => {
    const server = await startServer('tl_burst_srv', '127.0.0.1');
    try {
      const filter = `lport == ${server.port} or rport == ${server.port}`;
      for (const [how, args] of [
        ['SIGTERM', []],
        ['--duration', ['--duration', '3']],
      ] as const) {
        const t = pausedReader(['-v', '-j', '--stats', ...args, filter], { fifo: true });
        await t.attached;
        const t0 = Date.now();
        // About 6 MB of JSON lines: far more than a pipe holds.
        const made = await burst(server.port, 10_000, 2);
        let code: number | null;
        let stderr: string;
        if (how === 'SIGTERM') {
          const asked = Date.now();
          t.proc.kill('SIGTERM');
          code = await new Promise((r) => t.proc.once('exit', (c) => r(c)));
          expect(Date.now() - asked, how).toBeLessThan(1500);
          stderr = await t.stderrText();
        } else {
          code = await new Promise((r) => t.proc.once('exit', (c) => r(c)));
          expect(Date.now() - t0, how).toBeLessThan(3000 + 1500);
          stderr = await t.stderrText();
        }
        expect(code, how).toBe(0);
        // What could not be written is counted, not silently gone.
        const unwritten = Number(
          /(\d+) never taken by a reader that stopped reading/.exec(stderr)?.[1],
        );
        const printed = Number(/(\d+) printed;/.exec(stderr)?.[1]);
        expect(unwritten, how).toBeGreaterThan(0);
        expect(printed + unwritten, how).toBe(2 * made);
        // What went into the pipe before the reader was given up on is
        // printed, not counted as never taken; a line begun and not
        // finished is never taken.
        const left = t.leftInPipe();
        expect(left.split('\n').length - 1, how).toBe(printed);
      }
    } finally {
      server.stop();
    }
  }, 60_000);
});
