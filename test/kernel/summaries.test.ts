/**
 * Summaries made in the kernel against the exact ones: two tracers at once
 * over the same real sessions, one summarising in the kernel, one printing
 * every session. Counts and bytes must be equal per group; percentiles
 * within the documented 12.5 %.
 */
import { spawn } from 'node:child_process';
import { expect, it } from 'vitest';
import {
  bucketOf as histBucketOf,
  bucketRange as histBucketRange,
} from '../../src/pipeline/histogram.js';
import { percentile } from '../../src/pipeline/summary.js';
import { type CliRun, startCli } from '../helpers/cli.js';
import { describeKernel } from '../helpers/kernel.js';

// Sessions that last 2 to 60 ms (long beside the tracers' skew), with data.
const WORK = `
import random, socket, sys, time
random.seed(11)
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(64)
print(srv.getsockname()[1], flush=True)
sys.stdin.readline()
for i in range(80):
    c = socket.create_connection(("127.0.0.1", srv.getsockname()[1]))
    a, _ = srv.accept()
    c.sendall(b"x" * random.randint(0, 5000))
    time.sleep(random.choice([0.002, 0.003, 0.005, 0.01, 0.02, 0.06]))
    c.close(); a.close()
time.sleep(0.3)
print("done", flush=True)
`;

/** Tracers time a session with their own clock readings: tens of µs apart at most. */
const SKEW_MS = 0.05;

interface Row {
  comm?: string;
  rport?: number;
  role?: string;
  sessions: number;
  tx_b: number;
  rx_b: number;
  span_p50_ms: number;
  span_p99_ms: number;
}

interface Rec {
  comm: string;
  rport: number;
  role: string;
  tx_b: number;
  rx_b: number;
  span_us: number;
}

const lines = (s: string) =>
  s
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l));

// Sessions whose spans sit well inside log2 buckets (3, 6, 12, 24 ms), so
// that two tracers' clock readings a few µs apart bucket them alike.
const HIST_WORK = `
import socket, sys, time
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(64)
print(srv.getsockname()[1], flush=True)
sys.stdin.readline()
for i in range(40):
    c = socket.create_connection(("127.0.0.1", srv.getsockname()[1]))
    a, _ = srv.accept()
    time.sleep([0.0028, 0.0056, 0.0112, 0.0224][i % 4])
    c.close(); a.close()
time.sleep(0.3)
print("done", flush=True)
`;

/** Runs the script's sessions while these tracers (made for its port) trace them; stops them after. */
async function overSessions(
  script: string,
  tracers: (port: number) => CliRun[],
): Promise<CliRun[]> {
  const work = spawn('python3', ['-c', script], { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  work.stdout!.on('data', (d) => {
    out += d;
  });
  while (!out.includes('\n')) await new Promise((r) => setTimeout(r, 20));
  const clis = tracers(Number(out.trim()));
  await Promise.all(clis.map((c) => c.ready));
  work.stdin!.write('go\n');
  while (!out.includes('done')) await new Promise((r) => setTimeout(r, 20));
  for (const c of clis) c.proc.kill('SIGINT');
  for (const c of clis) expect(await c.exit).toBe(0);
  return clis;
}

describeKernel('summaries made in the kernel', () => {
  it('--hist span from the kernel equals the userspace histogram of the same sessions', async () => {
    const args = (port: number) => ['-v', '-j', '--hist', 'span', `port == ${port}`];
    const [kernel, user] = (await overSessions(HIST_WORK, (port) => [
      startCli(args(port)),
      startCli([...args(port), '--exact']),
    ])) as [CliRun, CliRun];
    expect(kernel.stderr).toContain('the span_us histogram made in the kernel');
    expect(user.stderr).not.toContain('made in the kernel');
    const k = JSON.parse(kernel.stdout);
    const u = JSON.parse(user.stdout);
    expect(u.buckets.reduce((a: number, b: { count: number }) => a + b.count, 0)).toBe(80);
    expect(k.field).toBe('span_us');
    expect(k.buckets).toEqual(u.buckets);
  });

  it('--hist tx, rx, rtt and retrans from the kernel equal the log2 buckets of every session', async () => {
    const fields = ['tx', 'rx', 'rtt', 'retrans'] as const;
    const member = { tx: 'tx_b', rx: 'rx_b', rtt: 'rtt_us', retrans: 'retrans' } as const;
    const clis = await overSessions(WORK, (port) => [
      startCli(['-v', '-j', `port == ${port}`]),
      ...fields.map((f) => startCli(['-v', '-j', '--hist', f, `port == ${port}`])),
    ]);
    const all = lines(clis[0]!.stdout) as Record<string, number>[];
    expect(all).toHaveLength(160);
    fields.forEach((f, i) => {
      const cli = clis[i + 1]!;
      expect(cli.stderr).toContain(`the ${member[f]} histogram made in the kernel`);
      const counts = new Map<number, number>();
      for (const r of all) {
        const k = histBucketOf(r[member[f]]!);
        counts.set(k, (counts.get(k) ?? 0) + 1);
      }
      const expected = [...counts.entries()]
        .sort((a, b) => a[0] - b[0])
        .map(([k, count]) => {
          const [lo, hi] = histBucketRange(k);
          return { lo, hi, count };
        });
      const got = JSON.parse(cli.stdout) as { field: string; buckets: { count: number }[] };
      expect(got.field).toBe(member[f]);
      // The printed histogram fills the empty buckets between the first and last.
      expect(got.buckets.filter((b) => b.count > 0)).toEqual(expected);
    });
  });

  it('equal the exact ones: counts and bytes per group, percentiles within 12.5 %', async () => {
    const [byPort, byRole, exact] = (await overSessions(WORK, (port) => {
      const filter = `port == ${port}`;
      return [
        startCli(['-v', '-j', '--interval', '60', '--group-by', 'comm,rport', filter]),
        startCli(['-v', '-j', '--interval', '60', '--group-by', 'role', filter]),
        startCli(['-v', '-j', filter]),
      ];
    })) as [CliRun, CliRun, CliRun];
    expect(byPort.stderr).toMatch(/summaries made in the kernel, by comm, rport/);
    expect(byRole.stderr).toMatch(/summaries made in the kernel, by role/);

    const recs = lines(exact.stdout) as Rec[];
    expect(recs).toHaveLength(160);
    const check = (rows: Row[], keyOf: (x: Row | Rec) => string) => {
      // The busiest groups first.
      const counts = rows.map((r) => r.sessions);
      expect(counts).toEqual([...counts].sort((a, b) => b - a));
      const groups = new Map<string, Rec[]>();
      for (const r of recs) groups.set(keyOf(r), [...(groups.get(keyOf(r)) ?? []), r]);
      expect(rows.map(keyOf).sort()).toEqual([...groups.keys()].sort());
      for (const row of rows) {
        const g = groups.get(keyOf(row))!;
        expect(row.sessions).toBe(g.length);
        expect(row.tx_b).toBe(g.reduce((a, r) => a + r.tx_b, 0));
        expect(row.rx_b).toBe(g.reduce((a, r) => a + r.rx_b, 0));
        const spans = g.map((r) => r.span_us).sort((a, b) => a - b);
        for (const [p, got] of [
          [50, row.span_p50_ms],
          [99, row.span_p99_ms],
        ] as const) {
          const want = percentile(spans, p) / 1000;
          expect(Math.abs(got - want)).toBeLessThanOrEqual(0.125 * want + SKEW_MS);
        }
      }
    };
    // The last interval, cut short at exit, holds every session.
    const portRows = lines(byPort.stdout) as Row[];
    expect(portRows.every((r) => (r as { partial?: boolean }).partial === true)).toBe(true);
    check(portRows, (x) => `${x.comm}/${x.rport}`);
    check(lines(byRole.stdout) as Row[], (x) => String(x.role));
  });
});
