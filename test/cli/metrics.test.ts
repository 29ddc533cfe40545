/**
 * --metrics, scraped by a real Prometheus (Debian's prometheus, started by
 * the test): what it stores equals the sessions made, and byte counters
 * that follow a session while it is open. And the overflow series, the
 * usage errors, a port in use.
 */
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { sessionOf } from '../../src/model/fields.js';
import { SessionMetrics } from '../../src/pipeline/metrics.js';
import { FIXTURES } from '../fixtures/sessions.js';
import { runCli, startCli } from '../helpers/cli.js';
import { describeKernel } from '../helpers/kernel.js';
import { freePort, type Prometheus, startPrometheus } from '../helpers/prometheus.js';
import { runClient, sleep, startServer } from '../helpers/tcpgen.js';

const stats = () => ({
  closed: 0,
  passed: 0,
  ringbuf_drops: 2,
  missed_start: 3,
  map_full: 1,
  owner_unknown: 0,
  started: 0,
  group_full: 0,
  stale: 0,
  no_tcp_sock: 0,
  nested: 0,
  recursion_misses: 4,
  delivered: 0,
  adopted: 0,
  open_records: 0,
});

describe('metrics, without a kernel', () => {
  it('past --max-series, sessions go to one __other__ series, said once, counted', async () => {
    const warned: number[] = [];
    const m = new SessionMetrics({
      labels: ['comm'],
      maxSeries: 2,
      stats,
      onOverflow: (cap) => warned.push(cap),
    });
    for (const comm of ['a', 'b', 'c', 'd', 'a']) m.add({ ...FIXTURES[0]!, comm });
    const text = await m.registry.metrics();
    expect(text).toContain('tcplife_sessions_total{comm="a"} 2');
    expect(text).toContain('tcplife_sessions_total{comm="b"} 1');
    expect(text).toContain('tcplife_sessions_total{comm="__other__"} 2');
    expect(text).toContain('tcplife_series_dropped_total 2');
    expect(text).toContain('tcplife_lost_sessions_total{reason="map_full"} 1');
    expect(text).toContain('tcplife_kernel_skipped_runs_total 4');
    expect(warned).toEqual([2]);
  });

  it('interim records advance the byte counters by what moved since; the close counts the session once', async () => {
    const m = new SessionMetrics({ labels: ['comm'], stats });
    const at = (event: 'interim' | 'close' | 'exit', tx_b: number) =>
      m.add({ ...FIXTURES[0]!, event, tx_b, rx_b: tx_b * 2 });
    const text = async () => m.registry.metrics();
    at('interim', 1000);
    expect(await text()).toContain('tcplife_sent_bytes_total{comm="curl"} 1000');
    expect(await text()).not.toContain('tcplife_sessions_total{comm="curl"}');
    at('interim', 1500);
    at('close', 4000);
    at('exit', 9999);
    const t = await text();
    expect(t).toContain('tcplife_sent_bytes_total{comm="curl"} 4000');
    expect(t).toContain('tcplife_received_bytes_total{comm="curl"} 8000');
    expect(t).toContain('tcplife_sessions_total{comm="curl"} 1');
    expect(t).toContain('tcplife_session_duration_seconds_count{comm="curl"} 1');
  });

  it('with the rule label, a session counts once per rule it matched', async () => {
    const m = new SessionMetrics({ labels: ['rule'], stats });
    m.add({ ...sessionOf({ ...FIXTURES[0]!, time: 0 }), rules: ['slow', 'big'] });
    const text = await m.registry.metrics();
    expect(text).toContain('tcplife_sessions_total{rule="slow"} 1');
    expect(text).toContain('tcplife_sessions_total{rule="big"} 1');
  });

  it('usage errors exit 2', async () => {
    for (const [args, msg] of [
      [['--metrics', 'x'], 'expected [HOST:]PORT'],
      [
        ['--labels', 'comm'],
        '--labels, --max-series, --buckets and --metrics-max-connections go with --metrics',
      ],
      [['--metrics', '9', '--labels', 'bogus'], "--labels takes field names or rule, not 'bogus'"],
      [['--metrics', '9', '--buckets', '1,0.5'], 'expected ascending seconds'],
    ] as const) {
      const r = await runCli([...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toContain(msg);
    }
  });
});

describeKernel('metrics scraped by a real Prometheus', () => {
  let prometheus: Prometheus | undefined;
  afterAll(() => prometheus?.stop());

  it('stores what the sessions were; a port in use is a clear error', async () => {
    const port = await freePort();
    const cli = startCli([
      '--verbose',
      '-o',
      'none',
      '--metrics',
      String(port),
      '--labels',
      'comm,outcome',
      'comm ~ "tl_prom*"',
    ]);
    await cli.ready;
    const again = await runCli(['-o', 'none', '--metrics', String(port), '--duration', '1']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(
      `tcplife: cannot serve metrics on 127.0.0.1:${port}: the port is in use`,
    );

    prometheus = await startPrometheus(port);
    const api = prometheus.query;

    const srv = await startServer('tl_promsrv', '127.0.0.1', { reply: 700 });
    await runClient('tl_promcli', '127.0.0.1', srv.port, { count: 4, send: 3000 });
    await runClient('tl_promcli', '127.0.0.1', 1, { count: 1, tolerate: true });
    srv.stop();
    // Scrapes every second: wait until Prometheus has the last session.
    let closed: number[] = [];
    for (let i = 0; i < 100; i++) {
      closed = await api('tcplife_sessions_total{comm="tl_promcli",outcome="closed"}');
      const refused = await api('tcplife_sessions_total{comm="tl_promcli",outcome="refused"}');
      if (closed[0] === 4 && refused[0] === 1) break;
      await sleep(200);
    }
    expect(closed).toEqual([4]);
    expect(await api('tcplife_sent_bytes_total{comm="tl_promcli",outcome="closed"}')).toEqual([
      4 * 3002,
    ]);
    expect(await api('tcplife_received_bytes_total{comm="tl_promsrv"}')).toEqual([4 * 3001]);
    expect(
      await api('tcplife_session_duration_seconds_count{comm="tl_promsrv",outcome="closed"}'),
    ).toEqual([4]);
    expect(await api('tcplife_lost_sessions_total{reason="ring_full"}')).toEqual([0]);
    cli.proc.kill('SIGINT');
    expect(await cli.exit).toBe(0);
    expect(cli.stdout).toBe('');
  }, 120_000);
});

describeKernel('metrics counted in the kernel, from the command line', () => {
  it('-o none counts in the kernel (said with -v), prints nothing; label sets past the cap go to __other__', async () => {
    const server = await startServer('tl_kmet_srv', '127.0.0.1');
    const port = await freePort();
    const cli = startCli([
      '-v',
      '-o',
      'none',
      '--metrics',
      String(port),
      '--labels',
      'rport',
      '--max-series',
      '3',
      `lport == ${server.port} or rport == ${server.port}`,
    ]);
    try {
      await cli.ready;
      expect(cli.stderr).toContain(
        'tcplife: metrics counted in the kernel, by rport (at most 3 label sets)',
      );
      await runClient('tl_kmet_cli', '127.0.0.1', server.port, { count: 30 });
      await sleep(300);
      // 60 session ends: the clients' share an rport, each server end has its own: three series, the rest in __other__.
      const o = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      const series = [...o.matchAll(/^tcplife_sessions_total\{rport="(\d+)"\} (\d+)$/gm)];
      expect(series.length).toBe(3);
      const other = Number(/^tcplife_sessions_total\{rport="__other__"\} (\d+)$/m.exec(o)?.[1]);
      expect(other + series.reduce((a, m) => a + Number(m[2]), 0)).toBe(60);
      expect(other).toBeGreaterThan(20);
      expect(o).toContain(`tcplife_series_dropped_total ${other}`);
    } finally {
      cli.proc.kill('SIGINT');
      expect(await cli.exit).toBe(0);
      server.stop();
    }
    expect(cli.stdout).toBe('');
    // Said once, as when userspace counts.
    expect(cli.stderr.split('\n').filter((l) => l.includes('more than 3 label sets'))).toHaveLength(
      1,
    );
  }, 60_000);
});

describeKernel('a metrics endpoint under abuse', () => {
  it('clients that pipeline requests and never read: memory stays bounded, a real scrape still answers', async () => {
    const port = await freePort();
    const server = await startServer('tl_abuse_srv', '127.0.0.1');
    const cli = startCli([
      '--verbose',
      '-o',
      'none',
      '--metrics',
      String(port),
      '--labels',
      'comm,rport',
      `rport == ${server.port} or lport == ${server.port}`,
    ]);
    const sockets: Socket[] = [];
    try {
      await cli.ready;
      // A thousand label sets (each server side's rport is a client's own port): a scrape of about 1 MB.
      await runClient('tl_abuse_cli', '127.0.0.1', server.port, { count: 1000 });
      await sleep(300);
      const one = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(one.length).toBeGreaterThan(500_000);
      const ask = 'GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(4);
      // 300 connections, 4 requests each, never reading: 1,200 answers of 1 MB before.
      for (let i = 0; i < 300; i++) {
        const s = connect(port, '127.0.0.1');
        s.on('error', () => {});
        s.on('connect', () => {
          s.write(ask);
          s.pause();
        });
        sockets.push(s);
      }
      await sleep(5000);
      const rss = (pid: number) =>
        Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
      expect(rss(cli.proc.pid!)).toBeLessThan(250);
      for (const s of sockets) s.destroy();
      await sleep(200);
      const t0 = Date.now();
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      expect(res.status).toBe(200);
      expect((await res.text()).length).toBeGreaterThan(500_000);
      expect(Date.now() - t0).toBeLessThan(5000);
    } finally {
      for (const s of sockets) s.destroy();
      cli.proc.kill('SIGINT');
      await cli.exit;
      server.stop();
    }
  }, 60_000);
});
