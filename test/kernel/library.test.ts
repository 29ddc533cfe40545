/** The library entry: sessions(filter) as an Observable of typed sessions. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { filter, firstValueFrom, take, toArray } from 'rxjs';
import { expect, it } from 'vitest';
import { generateProgram } from '../../src/codegen/program.js';
import { sessions, where } from '../../src/index.js';
import { Tracer } from '../../src/kernel/tracer.js';
import type { Session } from '../../src/model/fields.js';
import { makePlan } from '../../src/plan/plan.js';
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

  it('interim records of a session open before subscribing, with { interim }', async () => {
    const server = net.createServer((c) => c.resume());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    const client = net.connect(port, '127.0.0.1');
    await new Promise<void>((r) => client.once('connect', r));
    await new Promise<void>((r) => client.write(Buffer.alloc(5000), () => r()));
    await sleep(100);
    try {
      const first = await firstValueFrom(
        sessions(`rport == ${port}`, { interim: 1 }).pipe(
          filter((s) => s.event === 'interim'),
          take(1),
        ),
      );
      // Found at the start: its bytes from the session's start (and the SYN), its start unseen.
      expect([first.tx_b, first.start_seen, first.outcome, first.pid]).toEqual([
        5001,
        false,
        '',
        process.pid,
      ]);
    } finally {
      client.destroy();
      server.close();
    }
  });

  it('one tracer serves two subscribers: each gets every session; it closes when the last leaves', async () => {
    const { plan } = makePlan({ filter: 'comm == "tl_twocli"' });
    const tracer = await Tracer.start(generateProgram(plan!.split, { ringBytes: 1 << 16 }), {
      pollMs: 10,
    });
    const first: Session[] = [];
    const second: Session[] = [];
    const subA = tracer.sessions().subscribe((s) => first.push(s));
    const subB = tracer.sessions().subscribe((s) => second.push(s));
    const srv = await startServer('tl_twosrv', '127.0.0.1');
    await runClient('tl_twocli', '127.0.0.1', srv.port, { count: 4 });
    await sleep(100);
    expect(first).toHaveLength(4);
    expect(second).toEqual(first);
    // The first to leave does not end the other's stream.
    subA.unsubscribe();
    await runClient('tl_twocli', '127.0.0.1', srv.port, { count: 3 });
    await sleep(100);
    srv.stop();
    expect(first).toHaveLength(4);
    expect(second).toHaveLength(7);
    expect(tracer.socketsTracked()).toBeGreaterThanOrEqual(0);
    subB.unsubscribe();
    // The last one gone: the program is detached and a new subscriber is refused.
    await expect(firstValueFrom(tracer.sessions())).rejects.toThrow(/tracer is closed/);
    expect(tracer.stats().passed).toBe(7);
  });

  it('sessions() takes rule files as the command line does, and tags each session', async () => {
    const srv = await startServer('tl_rulsrv', '127.0.0.1');
    const rules = `${process.cwd()}/test/rules/fixtures/lib.rules`;
    let tracer: Tracer | undefined;
    const got = firstValueFrom(
      sessions(`rport == ${srv.port} or lport == ${srv.port}`, {
        rules: [rules],
        onTracer: (t) => (tracer = t),
      }).pipe(take(2), toArray()),
    );
    while (!tracer) await sleep(20);
    await runClient('tl_rulcli', '127.0.0.1', srv.port, { count: 1, send: 2000 });
    const all = await got;
    srv.stop();
    const byComm = Object.fromEntries(all.map((s) => [s.comm, s.rules]));
    expect(byComm).toEqual({
      tl_rulcli: ['lib_client', 'lib_big_sender'],
      tl_rulsrv: ['lib_server'],
    });
  });

  it('a bad filter errors the Observable with the rendered diagnostic', async () => {
    await expect(firstValueFrom(sessions('dprt == 1'))).rejects.toThrow(
      /unknown field 'dprt'; did you mean 'dport'\?/,
    );
  });

  it('an error in one subscription reaches its error callback only: the others go on', async () => {
    const srv = await startServer('tl_liberr', '127.0.0.1');
    let bad: unknown;
    const broken = sessions(`rport == ${srv.port}`, { rules: ['no/such/file.rules'] }).subscribe({
      error: (e) => {
        bad = e;
      },
    });
    // A rule file found by name, as --rules web finds the shipped ones.
    const dir = mkdtempSync(join(tmpdir(), 'tl-librules-'));
    writeFileSync(join(dir, 'mine.rules'), 'rule mine: lport >= 0\n');
    process.env.TCPLIFE_RULES_PATH = dir;
    let attached = false;
    const good = firstValueFrom(
      sessions(`comm == "tl_libok" and rport == ${srv.port}`, {
        rules: ['mine'],
        onTracer: () => {
          attached = true;
        },
      }).pipe(take(1), toArray()),
    );
    delete process.env.TCPLIFE_RULES_PATH;
    // Attached (a fixed wait was too short where clang compiled slowly: CI).
    while (!attached) await sleep(20);
    await runClient('tl_libok', '127.0.0.1', srv.port, { count: 1 });
    const got = await good;
    srv.stop();
    broken.unsubscribe();
    expect(String(bad)).toMatch(/cannot read rule file no\/such\/file\.rules: no such file/);
    expect(got).toHaveLength(1);
    expect(got[0]!.rules).toEqual(['mine']);
  });
});
