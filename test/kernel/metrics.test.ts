/**
 * --metrics counted in the kernel against the same metrics counted in
 * userspace from the same program's records: one tracer counts each close
 * in its metrics map and sends the record too; the scrape made from the
 * map equals the one made from the records, line for line.
 */
import { expect, it } from 'vitest';
import { generateProgram } from '../../src/codegen/program.js';
import { Tracer } from '../../src/kernel/tracer.js';
import { SessionMetrics } from '../../src/pipeline/metrics.js';
import { boundUs } from '../../src/plan/metrics.js';
import { makePlan } from '../../src/plan/plan.js';
import { describeKernel } from '../helpers/kernel.js';
import { runClient, sleep, startServer } from '../helpers/tcpgen.js';

/** A scrape's session lines, sorted, and its `_sum` lines apart (float sums may differ in the last digits). */
function families(text: string): { lines: string[]; sums: Map<string, number> } {
  const lines: string[] = [];
  const sums = new Map<string, number>();
  for (const l of text.split('\n')) {
    if (!/^tcplife_(sessions|sent_bytes|received_bytes|session_duration|series_dropped)/.test(l))
      continue;
    const sum = /^(tcplife_session_duration_seconds_sum\S*) (\S+)$/.exec(l);
    if (sum) sums.set(sum[1]!, Number(sum[2]));
    else lines.push(l);
  }
  return { lines: lines.sort(), sums };
}

describeKernel('metrics counted in the kernel', () => {
  it('equal those userspace counts from the same records: sessions, bytes, every bucket, the sums', async () => {
    const server = await startServer('tl_kmet_srv', '127.0.0.1', { reply: 900 });
    const labels = ['role', 'outcome', 'comm'];
    // Bounds among the spans of loopback sessions: most buckets get some.
    const buckets = [0.00005, 0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 1];
    const { plan } = makePlan({ filter: `lport == ${server.port} or rport == ${server.port}` });
    const spec = generateProgram(plan!.split, {
      metrics: { labels, boundsUs: buckets.map(boundUs), maxSeries: 100, only: false },
    });
    const tracer = await Tracer.start(spec, { pollMs: 20 });
    const stats = () => tracer.stats();
    const fromKernel = new SessionMetrics({
      labels,
      buckets,
      stats,
      kernel: (visit) => tracer.readMetrics(visit),
    });
    const fromRecords = new SessionMetrics({ labels, buckets, stats });
    const sub = tracer.sessions().subscribe((s) => fromRecords.add(s));
    try {
      await runClient('tl_kmet_cli', '127.0.0.1', server.port, { count: 60, send: 2500 });
      await runClient('tl_kmet_cli', '127.0.0.1', server.port, { count: 6, send: 100, abort: 5 });
      await sleep(200);
      tracer.drainNow();
      const k = families(await fromKernel.text());
      const u = families(await fromRecords.text());
      expect(k.lines).toContain(
        'tcplife_sessions_total{role="client",outcome="closed",comm="tl_kmet_cli"} 60',
      );
      expect(
        k.lines.some((l) => l.includes('outcome="reset"') || l.includes('outcome="aborted"')),
      ).toBe(true);
      // Several buckets hold some sessions and not all: the bounds were compared.
      const counts = new Set(
        k.lines.filter((l) => l.includes('_bucket{')).map((l) => l.split(' ')[1]),
      );
      expect(counts.size).toBeGreaterThan(3);
      expect(k.lines).toEqual(u.lines);
      expect([...k.sums.keys()].sort()).toEqual([...u.sums.keys()].sort());
      for (const [name, v] of k.sums) expect(v, name).toBeCloseTo(u.sums.get(name)!, 9);
    } finally {
      sub.unsubscribe();
      tracer.close();
      server.stop();
    }
  }, 60_000);
});
