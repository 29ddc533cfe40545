/**
 * retrans (tcp_sock.total_retrans at close) on real sessions, with segments
 * dropped by nftables inside a network namespace the test makes.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ofPorts, startCollecting } from '../helpers/collect.js';
import { describeKernel } from '../helpers/kernel.js';
import { Netns } from '../helpers/netns.js';
import { runClient, startServer } from '../helpers/tcpgen.js';

/** TCP segments the namespace has retransmitted so far (its /proc/net/snmp, read from inside it). */
function retransSegs(ns: Netns): number {
  const [cmd, args] = ns.wrap('cat', ['/proc/net/snmp']);
  const [keys, values] = execFileSync(cmd, args, { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.startsWith('Tcp:'))
    .map((l) => l.split(/\s+/));
  return Number(values![keys!.indexOf('RetransSegs')]);
}

describeKernel('retransmits', () => {
  let ns: Netns;
  beforeAll(() => {
    // A 1500-byte MTU: a transfer is many segments, so drops are repaired by retransmission.
    ns = Netns.create('tl_rt', { mtu: 1500 });
  });
  afterAll(() => ns.delete());

  it("a lossy transfer counts retransmits on the sender; an orderly one counts the kernel's own (none, unless the machine stalls); the kernel filters on them", async () => {
    const all = await startCollecting('comm ~ "tl_rt*"');
    const lossy = await startCollecting('retrans > 0 and comm ~ "tl_rt*"');
    expect(lossy.tracer.program.split.user).toEqual({ k: 'const', value: true });

    const clean = await startServer('tl_rtsrv', '127.0.0.1', { netns: ns });
    const before = retransSegs(ns);
    await runClient('tl_rtcli', '127.0.0.1', clean.port, { count: 1, send: 100_000, netns: ns });
    // Nothing drops here, but a loaded machine can stall a receiver past the
    // tail-loss probe's few ms: the kernel's count says what it sent again.
    const resent = retransSegs(ns) - before;

    const dropping = await startServer('tl_rtsrv', '127.0.0.1', { netns: ns });
    // Drop every fourth data packet on the way in: the sender must retransmit
    // them. (Counted, not random: on loopback a packet can carry 64 KiB, so a
    // 300 KB transfer is a handful of them, and a random one in four could
    // drop none.)
    ns.nft(`table inet tl_faults {
      chain in {
        type filter hook input priority 0;
        tcp dport ${dropping.port} meta length > 500 numgen inc mod 4 == 3 drop
      }
    }`);
    await runClient('tl_rtcli', '127.0.0.1', dropping.port, { count: 1, send: 300_000, netns: ns });
    clean.stop();
    dropping.stop();

    const got = await all.stop();
    const filtered = await lossy.stop();
    // The two ends in either order: which one finishes closing first is the
    // kernel's (a retransmitted segment, or a stall, can put the server's first).
    const orderly = ofPorts(got.sessions, [clean.port]).sort((a, b) =>
      a.comm.localeCompare(b.comm),
    );
    expect(orderly.map((s) => s.comm)).toEqual(['tl_rtcli', 'tl_rtsrv']);
    expect(orderly[0]!.retrans + orderly[1]!.retrans).toBe(resent);
    expect(resent).toBeLessThan(3);
    const lost = ofPorts(got.sessions, [dropping.port]);
    const sender = lost.find((s) => s.comm === 'tl_rtcli')!;
    const receiver = lost.find((s) => s.comm === 'tl_rtsrv')!;
    expect(sender.tx_b).toBe(300_002);
    expect(sender.retrans).toBeGreaterThan(0);
    // The receiver sends no data: as the orderly pair, it sends anything
    // again only when the machine stalls it.
    expect(receiver.retrans).toBeLessThan(3);
    expect(receiver.retrans).toBeLessThan(sender.retrans);
    // The kernel part alone chose exactly the retransmitting sessions: the
    // lossy sender, and the orderly ones too if the machine stalled them.
    // (Two programs each time the session from their own start and clock: compare the rest.)
    const id = (s: typeof sender) => [s.pid, s.comm, s.lport, s.rport, s.tx_b, s.retrans];
    const ids = (ss: (typeof sender)[]) => ss.map(id).sort((a, b) => Number(a[2]) - Number(b[2]));
    expect(ids(filtered.sessions)).toEqual(ids(got.sessions.filter((s) => s.retrans > 0)));
    expect(filtered.sessions.map(id)).toContainEqual(id(sender));
  });
});
