/**
 * Records that wrap around the end of the ring are read whole (the reader
 * maps the data area and the first page of the kernel's second copy after
 * it). A small ring cycles many times in a few hundred sessions, and its
 * size is no multiple of a record's, so records straddle its end. The ring
 * is mapped only when it is first read, so that what is set up before (the
 * fast path's writer, compiled at start-up) does not count on top of it.
 */
import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { generateProgram } from '../../src/codegen/program.js';
import { Tracer } from '../../src/kernel/tracer.js';
import type { Session } from '../../src/model/fields.js';
import { RECORD_SIZE } from '../../src/model/record.js';
import { makePlan } from '../../src/plan/plan.js';
import { describeKernel } from '../helpers/kernel.js';
import { runClient, sleep, startServer } from '../helpers/tcpgen.js';

const RING = 1 << 14;
const PAGE = 4096;

/** This process's shared mappings of BPF maps, as start-end text and length. */
function bpfMappings(): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of readFileSync('/proc/self/maps', 'utf8').split('\n')) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) (\S+) .*anon_inode:bpf-map$/.exec(line);
    if (m)
      out.set(`${m[1]}-${m[2]} ${m[3]}`, Number.parseInt(m[2]!, 16) - Number.parseInt(m[1]!, 16));
  }
  return out;
}

describeKernel('the ring reader', () => {
  it('reads every record whole through many cycles of a 16 KiB ring', async () => {
    const srv = await startServer('tl_wrapsrv', '127.0.0.1', { reply: 500 });
    const { plan } = makePlan({ filter: `lport == ${srv.port} or rport == ${srv.port}` });
    const tracer = await Tracer.start(generateProgram(plan!.split, { ringBytes: RING }), {
      pollMs: 5,
    });
    const got: Session[] = [];
    const sub = tracer.sessions().subscribe((s) => got.push(s));
    const sessions = 600;
    try {
      await runClient('tl_wrapcli', '127.0.0.1', srv.port, { count: sessions, send: 70 });
      await sleep(300);
    } finally {
      srv.stop();
      sub.unsubscribe();
    }
    const stats = tracer.stats();
    // Each session is two records, one an end; each either read or counted as lost.
    expect(got.length + stats.ringbuf_drops).toBe(2 * sessions);
    // The ring went round many times (a record and its 8-byte header).
    expect(got.length * (RECORD_SIZE + 8)).toBeGreaterThan(8 * RING);
    const wrong = got.filter((s) =>
      s.comm === 'tl_wrapcli'
        ? s.rport !== srv.port || s.tx_b !== 72 || s.rx_b !== 501
        : s.comm !== 'tl_wrapsrv' || s.lport !== srv.port || s.tx_b !== 501 || s.rx_b !== 71,
    );
    expect(wrong.slice(0, 3)).toEqual([]);
  });

  it('maps the ring when the first reader comes, not at start: its data and one page of the second copy', async () => {
    const { plan } = makePlan({ filter: 'rport == 1' });
    const tracer = await Tracer.start(generateProgram(plan!.split, { ringBytes: RING }));
    const before = bpfMappings();
    const sub = tracer.sessions().subscribe();
    const added = [...bpfMappings()].filter(([k]) => !before.has(k));
    sub.unsubscribe();
    // The consumer's page (read-write), then the producer's page, the data and a page more (read-only).
    expect(added.map(([k, len]) => [k.split(' ')[1], len]).sort()).toEqual([
      ['r--s', PAGE + RING + PAGE],
      ['rw-s', PAGE],
    ]);
  });
});
