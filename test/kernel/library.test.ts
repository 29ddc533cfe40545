/** The library entry: sessions(filter) as an Observable of typed sessions. */
import { firstValueFrom, take, toArray } from 'rxjs';
import { expect, it } from 'vitest';
import { sessions, where } from '../../src/index.js';
import type { Tracer } from '../../src/kernel/tracer.js';
import { describeKernel } from '../helpers/kernel.js';
import { runClient, sleep, startServer } from '../helpers/tcpgen.js';

describeKernel('library use', () => {
  it('a filter as text or as the typed builder; unsubscribing detaches', async () => {
    const srv = await startServer('tl_libsrv', '127.0.0.1', { reply: 500 });
    let tracer: Tracer | undefined;
    const fromText = firstValueFrom(
      sessions(`comm == "tl_libcli" and rport == ${srv.port}`, {
        onTracer: (t) => (tracer = t),
      }).pipe(take(2), toArray()),
    );
    const fromBuilder = firstValueFrom(
      sessions(where((f) => f.lport.eq(srv.port).and(f.comm.glob('tl_lib*')))).pipe(
        take(2),
        toArray(),
      ),
    );
    while (!tracer) await sleep(20);
    await sleep(300); // the second tracer attaches too
    await runClient('tl_libcli', '127.0.0.1', srv.port, { count: 2, send: 70 });
    const [a, b] = await Promise.all([fromText, fromBuilder]);
    srv.stop();
    expect(a.map((s) => [s.comm, s.rport, s.tx_b, s.rx_b])).toEqual([
      ['tl_libcli', srv.port, 72, 501],
      ['tl_libcli', srv.port, 72, 501],
    ]);
    expect(b.map((s) => [s.comm, s.lport, s.tx_b, s.rx_b])).toEqual([
      ['tl_libsrv', srv.port, 501, 71],
      ['tl_libsrv', srv.port, 501, 71],
    ]);
    // take(2) unsubscribed: the tracer is closed and reports its final counters.
    expect(tracer.socketsTracked()).toBe(0);
    expect(tracer.stats().passed).toBeGreaterThanOrEqual(2);
  });

  it('a bad filter errors the Observable with the rendered diagnostic', async () => {
    await expect(firstValueFrom(sessions('dprt == 1'))).rejects.toThrow(
      /unknown field 'dprt'; did you mean 'dport'\?/,
    );
  });
});
