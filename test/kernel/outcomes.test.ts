/**
 * How sessions end, their roles, RTT, network namespace and cgroup, on real
 * sessions inside a network namespace the test makes, with nftables for the
 * faults — and kernel filters on these fields against the reference
 * evaluator.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { compilePredicate } from '../../src/dsl/compile.js';
import { evaluate } from '../../src/dsl/evaluate.js';
import { CgroupResolver, findCgroup2Mount } from '../../src/kernel/cgroups.js';
import type { DecodedSession as Session } from '../../src/model/fields.js';
import { startCollecting } from '../helpers/collect.js';
import { describeKernel } from '../helpers/kernel.js';
import { Netns } from '../helpers/netns.js';
import { runClient, sleep, startServer } from '../helpers/tcpgen.js';

const CONTAINER = 'c0ffee'.repeat(10).concat('abcd');

describeKernel('how sessions end, and where they belong', () => {
  let ns: Netns;
  let cgroupRoot: string;
  let scope: string;
  beforeAll(() => {
    ns = Netns.create('tl_out');
    const mount = findCgroup2Mount();
    if (!mount) throw new Error('no cgroup2 mount in /proc/mounts');
    // A cgroup named as Docker names its scopes under systemd.
    cgroupRoot = join(mount, `tl_test_${process.pid}`);
    scope = join(cgroupRoot, `docker-${CONTAINER}.scope`);
    mkdirSync(scope, { recursive: true });
  });
  afterAll(() => {
    ns.delete();
    for (const d of [scope, cgroupRoot]) {
      try {
        rmdirSync(d);
      } catch {
        // still busy or gone
      }
    }
  });

  it('orderly, aborted, reset, refused and timed-out sessions; roles, RTT, netns, cgroup; kernel filters', async () => {
    const filters = [
      'outcome in (refused, timeout)',
      'role == server',
      'outcome == reset or outcome == aborted',
      `netns == ${ns.inode} and retrans == 0`,
      'rtt_us > 0 and rtt_ms < 1000',
      'cgroup_id != 1 and role == client',
    ];
    const all = await startCollecting('comm ~ "tl_o*"');
    const filtered = [];
    for (const f of filters) {
      const c = await startCollecting(`(${f}) and comm ~ "tl_o*"`);
      // Each of these is decided in the kernel alone.
      expect(c.tracer.program.split.user, f).toEqual({ k: 'const', value: true });
      filtered.push({ f, c });
    }
    // Resolved in userspace: the kernel lets everything through, userspace decides.
    const inContainer = await startCollecting(`container == "${CONTAINER}" and comm ~ "tl_o*"`);
    expect(inContainer.tracer.program.split.user).not.toEqual({ k: 'const', value: true });

    // SYNs to this port are dropped: with TCP_SYNCNT 1 the connect times out after ~3 s.
    const blackhole = 9;
    ns.nft(`table inet tl_faults {
      chain in {
        type filter hook input priority 0;
        tcp dport ${blackhole} tcp flags syn drop
      }
    }`);
    // An application that gives up connecting after 1 s (Python's settimeout,
    // as curl --connect-timeout does): its own close, in SYN_SENT.
    const [gcmd, gargs] = ns.wrap('/usr/bin/python3', [
      '-c',
      `import ctypes, socket
ctypes.CDLL(None).prctl(15, b"tl_ogiveup", 0, 0, 0)
s = socket.socket()
s.settimeout(1.0)
try:
    s.connect(("127.0.0.1", ${blackhole}))
except socket.timeout:
    pass
s.close()`,
    ]);
    const givingUp = new Promise<number | null>((resolve) =>
      spawn(gcmd, gargs, { stdio: 'ignore' }).once('exit', resolve),
    );
    const timingOut = runClient('tl_otime', '127.0.0.1', blackhole, {
      count: 1,
      syncnt: 1,
      tolerate: true,
      netns: ns,
    });

    const srv = await startServer('tl_osrv', '127.0.0.1', { reply: 5000, netns: ns });
    const orderly = await runClient('tl_ook', '127.0.0.1', srv.port, {
      count: 1,
      send: 3000,
      netns: ns,
      cgroup: scope,
    });
    // The client waits before its reset, so that the server has accepted and read.
    const aborting = await runClient('tl_oabort', '127.0.0.1', srv.port, {
      count: 1,
      send: 100,
      abort: 300,
      netns: ns,
    });
    // Nothing listens on port 1 in the new namespace.
    const refused = await runClient('tl_orefuse', '127.0.0.1', 1, {
      count: 1,
      tolerate: true,
      netns: ns,
    });
    const timedOut = await timingOut;
    expect(await givingUp).toBe(0);
    await sleep(200);
    srv.stop();
    expect(refused.failed).toBe(1);
    expect(timedOut.failed).toBe(1);
    expect(timedOut.seconds).toBeGreaterThan(2.5);

    const got = (await all.stop()).sessions;
    const by = (comm: string, role?: string) =>
      got.filter((s) => s.comm === comm && (role === undefined || s.role === role));

    // An orderly session: both ends closed, roles right, no retransmits, a plausible RTT.
    const client = by('tl_ook');
    const server = got.filter((s) => s.comm === 'tl_osrv' && s.rport === client[0]?.lport);
    expect(client).toHaveLength(1);
    expect(server).toHaveLength(1);
    for (const [s, role] of [
      [client[0]!, 'client'],
      [server[0]!, 'server'],
    ] as const) {
      expect(s).toMatchObject({ role, outcome: 'closed', retrans: 0, netns: ns.inode });
      expect(s.rtt_us).toBeGreaterThan(0);
      expect(s.rtt_us).toBeLessThan(100_000);
      expect(s.rtt_ms).toBe(s.rtt_us / 1000);
    }
    expect(client[0]!.pid).toBe(orderly.pid);
    // The client ran in a Docker-like scope; the server did not.
    expect(client[0]).toMatchObject({
      cgroup: `/tl_test_${process.pid}/docker-${CONTAINER}.scope`,
      cgroup_id: Number(statSync(scope).ino),
      container: CONTAINER,
    });
    expect(server[0]!.container).toBe('');
    expect(server[0]!.cgroup_id).not.toBe(client[0]!.cgroup_id);

    // SO_LINGER 0: the aborting end aborted, the peer was reset.
    const aborter = by('tl_oabort', 'client');
    expect(aborter).toHaveLength(1);
    expect(aborter[0]).toMatchObject({ role: 'client', outcome: 'aborted', pid: aborting.pid });
    // The reset reaches the server's socket in the aborting client's context;
    // its owner was taken at its first receive (the owner probes).
    const peer = got.filter(
      (s) => s.role === 'server' && s.lport === srv.port && s.rport === aborter[0]!.lport,
    );
    expect(peer.map((s) => [s.role, s.outcome, s.comm, s.pid, s.owner])).toEqual([
      ['server', 'reset', 'tl_osrv', srv.pid, true],
    ]);

    expect(by('tl_orefuse').map((s) => [s.role, s.outcome, s.rport])).toEqual([
      ['client', 'refused', 1],
    ]);
    // Given up by the application: neither the kernel's timeout nor an abort.
    expect(by('tl_ogiveup').map((s) => [s.role, s.outcome, s.rport])).toEqual([
      ['client', 'abandoned', blackhole],
    ]);
    const t = by('tl_otime');
    expect(t.map((s) => [s.role, s.outcome, s.rport])).toEqual([['client', 'timeout', blackhole]]);
    expect(t[0]!.retrans).toBeGreaterThan(0);
    expect(t[0]!.span_us).toBeGreaterThan(2_500_000);
    for (const s of got) expect(s.netns).toBe(ns.inode);

    // Each kernel filter delivered exactly what the reference evaluator accepts.
    const key = (s: Session) => `${s.comm} ${s.lport} ${s.rport} ${s.outcome}`;
    for (const { f, c } of [...filtered, { f: 'container', c: inContainer }]) {
      // What the kernel delivered, finished by the userspace part of the split.
      const user = compilePredicate(c.tracer.program.split.user);
      const delivered = (await c.stop()).sessions.filter((s) => user(s));
      const want = got.filter((s) => evaluate(c.pred, s));
      expect(delivered.map(key).sort(), f).toEqual(want.map(key).sort());
      expect(want.length, f).toBeGreaterThan(0);
    }
  });

  it('cgroup paths resolve by id, also for a cgroup made after the resolver started', () => {
    const r = new CgroupResolver();
    expect(r.available).toBe(true);
    const late = join(cgroupRoot, `crio-${'1f'.repeat(32)}.scope`);
    mkdirSync(late);
    try {
      const info = r.info(Number(statSync(late).ino));
      expect(info).toEqual({
        cgroup: `/tl_test_${process.pid}/crio-${'1f'.repeat(32)}.scope`,
        container: '1f'.repeat(32),
      });
      expect(r.info(Number(statSync(r.mount!).ino)).cgroup).toBe('/');
      expect(r.info(0)).toEqual({ cgroup: '', container: '' });
    } finally {
      rmdirSync(late);
      r.close();
    }
  });
});
