/**
 * A short run of the benchmark harness (a few hundred sessions, tcplife
 * only), so that `npm run bench` cannot rot: it builds the load generator,
 * runs every tcplife configuration, checks each output session by session
 * and prints its table. Figures from a run this short mean nothing.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/util/paths.js';
import { describeKernel } from '../helpers/kernel.js';

const run = promisify(execFile);

describeKernel('benchmark harness (smoke run)', () => {
  it('runs, checks every session and prints the table', async () => {
    // Its progress goes to stderr: a run that stalls says where.
    const { stdout } = await run(
      process.execPath,
      [join(PACKAGE_ROOT, 'bench/run.js'), '--smoke'],
      { timeout: 150_000 },
    ).catch((e: { stderr?: string; message: string }) => {
      throw new Error(`bench smoke failed: ${e.message}\n${e.stderr?.slice(-2000) ?? ''}`);
    });
    expect(stdout).toContain('| configuration | sessions/s | vs no tracer (median, worst) |');
    for (const name of [
      'no tracer',
      'tcplife -j (JSON lines) > file',
      'tcplife -s (CSV) > file',
      'tcplife (table) > file',
      'tcplife, 10 % kernel filter',
      'tcplife, regex (userspace)',
      'tcplife -j | jq -c . > file',
      'tcplife -o none --metrics (sessions counted)',
    ]) {
      expect(stdout).toContain(`| ${name} |`);
    }
    // 2 clients × 150 sessions, both ends reported; the 10 % filter sees 2 × 30.
    expect(stdout).toMatch(
      /\| tcplife -j \(JSON lines\) > file \| \d+ \| [\d.]+, [\d.]+ \| 600 \| 600 \| 0 \(0\.000 %\) \| 0 \(0\.000 %\)/,
    );
    expect(stdout).toMatch(
      /\| tcplife, 10 % kernel filter \| \d+ \| [\d.]+, [\d.]+ \| 60 \| 60 \| 0 \(0\.000 %\) \| 0 \(0\.000 %\)/,
    );
    expect(stdout).toMatch(/\| tcplife, cached object \| [\d.]+ \|/);
  }, 180_000);
});

describeKernel('soak (smoke run)', () => {
  it('a few seconds at a steady rate: every session printed, none lost, the socket map empty', async () => {
    const { stdout } = await run(
      process.execPath,
      [join(PACKAGE_ROOT, 'bench/soak.js'), '--seconds', '3', '--rate', '400'],
      { timeout: 60_000 },
    );
    const m = /^\| (\d+) \| (\d+) \| (\d+) \| (\d+) \| (\d+) \|/m.exec(stdout);
    const [sessions, expected, printed, lost, tracked] = m!.slice(1).map(Number);
    expect(sessions).toBeGreaterThan(600);
    expect([expected, printed, lost, tracked]).toEqual([2 * sessions!, 2 * sessions!, 0, 0]);
    expect(stdout).not.toContain('FAILED');
  });
});
