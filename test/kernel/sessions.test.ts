/**
 * Real sessions on the real kernel: two processes with distinct names, over
 * IPv4 and IPv6 between two different addresses, and a dual-stack listener.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { DecodedSession as Session } from '../../src/model/fields.js';
import { ofPorts, startCollecting } from '../helpers/collect.js';
import { describeKernel } from '../helpers/kernel.js';
import { runClient, startServer } from '../helpers/tcpgen.js';

const V6_SERVER = 'fd00:7c1f::1';
const V6_CLIENT = 'fd00:7c1f::2';

function ip(...args: string[]) {
  execFileSync('ip', args, { stdio: 'ignore' });
}

describeKernel('sessions from the kernel', () => {
  beforeAll(() => {
    for (const a of [V6_SERVER, V6_CLIENT]) {
      try {
        ip('-6', 'addr', 'add', `${a}/128`, 'dev', 'lo', 'nodad');
      } catch {
        // already there from an earlier run
      }
    }
  });
  afterAll(() => {
    for (const a of [V6_SERVER, V6_CLIENT]) {
      try {
        ip('-6', 'addr', 'del', `${a}/128`, 'dev', 'lo');
      } catch {
        // gone
      }
    }
  });

  async function exchange(
    serverAddr: string,
    clientTarget: string,
    bind: string,
    names: [string, string],
  ) {
    const SEND = 3000;
    const REPLY = 70_000;
    const N = 3;
    const col = await startCollecting('lport > 0');
    const t0 = Date.now();
    const srv = await startServer(names[0], serverAddr, { reply: REPLY, count: N });
    const cli = await runClient(names[1], clientTarget, srv.port, { count: N, send: SEND, bind });
    const elapsedUs = (Date.now() - t0 + 50) * 1000;
    const got = await col.stop();
    srv.stop();
    const mine = ofPorts(got.sessions, [srv.port]);
    const client = mine.filter((s) => s.rport === srv.port);
    const server = mine.filter((s) => s.lport === srv.port);
    return { SEND, REPLY, N, srv, cli, client, server, elapsedUs, stats: got.stats };
  }

  function checkSpan(s: Session, maxUs: number) {
    expect(s.span_us).toBeGreaterThan(0);
    expect(s.span_us).toBeLessThan(maxUs);
  }

  it('IPv4 between 127.0.0.1 and 127.0.0.2: addresses, ports, owners, bytes, span', async () => {
    const r = await exchange('127.0.0.1', '127.0.0.1', '127.0.0.2', ['tl_srv4', 'tl_cli4']);
    expect(r.client).toHaveLength(r.N);
    expect(r.server).toHaveLength(r.N);
    for (const s of r.client) {
      expect(s).toMatchObject({
        pid: r.cli.pid,
        comm: 'tl_cli4',
        family: 4,
        laddr: '127.0.0.2',
        raddr: '127.0.0.1',
        rport: r.srv.port,
        uid: 0,
        owner: true,
        // the connecting side: payload + SYN + FIN acked; payload + FIN received
        tx_b: r.SEND + 2,
        rx_b: r.REPLY + 1,
      });
      checkSpan(s, r.elapsedUs);
    }
    for (const s of r.server) {
      expect(s).toMatchObject({
        pid: r.srv.pid,
        comm: 'tl_srv4',
        family: 4,
        laddr: '127.0.0.1',
        raddr: '127.0.0.2',
        lport: r.srv.port,
        owner: true,
        // the accepting side: payload + FIN each way
        tx_b: r.REPLY + 1,
        rx_b: r.SEND + 1,
      });
      checkSpan(s, r.elapsedUs);
    }
    // The client's ephemeral ports are the server sessions' remote ports.
    expect(r.client.map((s) => s.lport).sort()).toEqual(r.server.map((s) => s.rport).sort());
    expect(r.stats.ringbuf_drops).toBe(0);
  });

  it('IPv6 between two different addresses keeps source and destination apart', async () => {
    const r = await exchange(V6_SERVER, V6_SERVER, V6_CLIENT, ['tl_srv6', 'tl_cli6']);
    expect(r.client).toHaveLength(r.N);
    expect(r.server).toHaveLength(r.N);
    for (const s of r.client) {
      expect(s).toMatchObject({
        pid: r.cli.pid,
        comm: 'tl_cli6',
        family: 6,
        laddr: V6_CLIENT,
        raddr: V6_SERVER,
        tx_b: r.SEND + 2,
        rx_b: r.REPLY + 1,
      });
    }
    for (const s of r.server) {
      expect(s).toMatchObject({
        pid: r.srv.pid,
        comm: 'tl_srv6',
        family: 6,
        laddr: V6_SERVER,
        raddr: V6_CLIENT,
        tx_b: r.REPLY + 1,
        rx_b: r.SEND + 1,
      });
    }
  });

  it('a dual-stack listener reports IPv4 peers as IPv4-mapped IPv6', async () => {
    const r = await exchange('::', '127.0.0.1', '127.0.0.3', ['tl_srvds', 'tl_clids']);
    expect(r.server).toHaveLength(r.N);
    for (const s of r.server) {
      expect(s).toMatchObject({
        family: 6,
        laddr: '::ffff:127.0.0.1',
        raddr: '::ffff:127.0.0.3',
        comm: 'tl_srvds',
      });
    }
    for (const s of r.client)
      expect(s).toMatchObject({ family: 4, laddr: '127.0.0.3', comm: 'tl_clids' });
  });

  it('listener closes are not sessions', async () => {
    const col = await startCollecting('lport > 0');
    const srv = await startServer('tl_lsn', '127.0.0.1', { count: 1 });
    const exited = new Promise((r) => srv.proc.once('exit', r));
    await runClient('tl_lsnc', '127.0.0.1', srv.port, { count: 1 });
    await exited;
    const got = await col.stop();
    const mine = ofPorts(got.sessions, [srv.port]);
    // one client and one server session; the listener closing on exit is not one
    expect(mine).toHaveLength(2);
    expect(mine.filter((s) => s.rport === 0)).toHaveLength(0);
  });

  it('per-socket state is deleted also when the kernel filter rejects the session', async () => {
    const col = await startCollecting('lport == 1 and rport == 1');
    const before = col.tracer.socketsTracked();
    const srv = await startServer('tl_leak', '127.0.0.1');
    await runClient('tl_leakc', '127.0.0.1', srv.port, { count: 200 });
    srv.stop();
    await new Promise((r) => setTimeout(r, 100));
    const after = col.tracer.socketsTracked();
    const got = await col.stop();
    expect(got.stats.closed).toBeGreaterThanOrEqual(400);
    expect(got.stats.passed).toBe(0);
    // Other traffic on the machine may hold a few entries; 400 closed sessions must not.
    expect(after - before).toBeLessThan(10);
  });
});
