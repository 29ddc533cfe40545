/**
 * A start left in the socket map by a socket whose close no program saw
 * (the kernel skipped both programs' runs) must not become the start of the
 * next socket the kernel allocates at the same address: that session begins
 * at its own connect or SYN_RECV, and the left-over one is counted.
 *
 * Such a skip cannot be provoked at will, so the test leaves the starts
 * behind itself: it records the map keys of twenty connections' sockets,
 * closes them (their starts are deleted), writes starts ten seconds old
 * back under those keys, and opens connections, for at most 20 s, until
 * the kernel reuses one of the addresses (TCP sockets come from a slab that
 * hands freed ones out again soon).
 */
import net from 'node:net';
import { expect, it } from 'vitest';
import { generateProgram } from '../../src/codegen/program.js';
import { loadNative } from '../../src/kernel/libbpf.js';
import { Tracer } from '../../src/kernel/tracer.js';
import { enumCode, type Session } from '../../src/model/fields.js';
import { START_OFFSETS, START_SIZE } from '../../src/model/start.js';
import { makePlan } from '../../src/plan/plan.js';
import { describeKernel } from '../helpers/kernel.js';
import { sleep } from '../helpers/tcpgen.js';

const BPF_NOEXIST = 1;
const EEXIST = 17;
const ROLE_SERVER = enumCode('role', 'server');

function keysOf(fd: number): Set<bigint> {
  const n = loadNative();
  const keys = new Set<bigint>();
  let key: Buffer | null = null;
  for (let i = 0; i < 1_000_000; i++) {
    const next = Buffer.alloc(8);
    if (n.bpf.bpf_map_get_next_key(fd, key, next) !== 0) break;
    keys.add(next.readBigUInt64LE());
    key = next;
  }
  return keys;
}

/** One connection to the server, closed from the client's side once it is up. */
function connectOnce(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1', () => c.end());
    c.on('error', reject);
    c.on('close', () => resolve());
  });
}

describeKernel('starts left behind', () => {
  it('a new socket at the address of one whose close was never seen starts its own session', async () => {
    let accepted = 0;
    const server = net.createServer((s) => {
      accepted++;
      s.on('data', () => {});
      s.on('end', () => s.end());
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    const { plan } = makePlan({ filter: `port == ${port}` });
    const tracer = await Tracer.start(generateProgram(plan!.split, { ringBytes: 1 << 16 }), {
      pollMs: 10,
    });
    const got: Session[] = [];
    const sub = tracer.sessions().subscribe((s) => got.push(s));
    try {
      const fd = tracer.mapFd('starts');
      const before = keysOf(fd);
      // Connections held open while their sockets' keys are read: the more
      // addresses left behind, the sooner the kernel reuses one.
      const HELD = 64;
      const clients = await Promise.all(
        Array.from(
          { length: HELD },
          () =>
            new Promise<net.Socket>((r) => {
              const c = net.connect(port, '127.0.0.1', () => r(c));
            }),
        ),
      );
      while (accepted < HELD) await sleep(5);
      const ours = [...keysOf(fd)].filter((k) => !before.has(k));
      await Promise.all(
        clients.map(
          (c) =>
            new Promise<void>((r) => {
              c.on('close', () => r());
              c.end();
            }),
        ),
      );
      while (got.length < 2 * HELD) await sleep(10);
      const after = keysOf(fd);
      const freed = ours.filter((k) => !after.has(k));
      expect(freed.length).toBeGreaterThanOrEqual(2);

      // Starts ten seconds old, as a server's, back under those keys.
      const n = loadNative();
      const value = Buffer.alloc(START_SIZE);
      value.writeBigUInt64LE(process.hrtime.bigint() - 10_000_000_000n, START_OFFSETS.ts_ns);
      value.writeUInt8(ROLE_SERVER, START_OFFSETS.role);
      // (A key another process's new socket has taken meanwhile is its own: left alone.)
      let written = 0;
      for (const k of freed) {
        const key = Buffer.alloc(8);
        key.writeBigUInt64LE(k);
        const rc = n.bpf.bpf_map_update_elem(fd, key, value, BPF_NOEXIST);
        expect([0, -EEXIST]).toContain(rc);
        if (rc === 0) written++;
      }
      expect(written).toBeGreaterThan(0);
      const printed = got.length;
      // Until an address is reused (usually within a few), for at most 20 s.
      const until = Date.now() + 20_000;
      // (At least ten of ours: on a busy machine another process's socket
      // may take a left address first.)
      for (let i = 0; (i < 10 || tracer.stats().stale === 0) && Date.now() < until; i++)
        await connectOnce(port);
      await sleep(100);

      const later = got.slice(printed);
      expect(later.length).toBeGreaterThanOrEqual(2);
      const wrong = later.filter(
        (s) => s.span_us > 5_000_000 || s.role !== (s.lport === port ? 'server' : 'client'),
      );
      expect(wrong).toEqual([]);
      // ... and an address was reused, so the check above checked something.
      expect(tracer.stats().stale).toBeGreaterThan(0);
    } finally {
      sub.unsubscribe();
      tracer.close();
      server.close();
    }
  });
});
