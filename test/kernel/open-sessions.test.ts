/**
 * Sessions that have not ended, on real connections: already open when
 * tracing starts (also in another network namespace), reported while open
 * (--interim), still open at exit, and listed by `tcplife snapshot`; their
 * records replayed byte for byte.
 *
 * A Python process holds one loopback connection (client and server side)
 * and takes commands on stdin: send N bytes, send paced for a while, close.
 * It answers each once the server side has received everything sent so far.
 * tx_b counts as the kernel does: the client's SYN and FIN are acked too
 * (+1 each), so a client that sent N bytes and closed shows N + 2.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, expect, it } from 'vitest';
import { runCli, startCli } from '../helpers/cli.js';
import { describeKernel } from '../helpers/kernel.js';
import { Netns } from '../helpers/netns.js';
import { freePort, startPrometheus } from '../helpers/prometheus.js';
import { sleep } from '../helpers/tcpgen.js';

const HOLDER = `
import os, socket, sys, threading, time
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen()
port = srv.getsockname()[1]
c = socket.create_connection(("127.0.0.1", port))
a, _ = srv.accept()
got = [0]
sent = 0
def drain():
    while True:
        d = a.recv(65536)
        if not d:
            return
        got[0] += len(d)
# a daemon: at the end of its input (the test's end, pass or fail) the process exits
t = threading.Thread(target=drain, daemon=True)
t.start()
def settle():
    while got[0] < sent:
        time.sleep(0.01)
    time.sleep(0.1)
print(port, os.getpid(), flush=True)
for line in sys.stdin:
    cmd = line.split()
    if cmd[0] == "send":
        c.sendall(b"x" * int(cmd[1]))
        sent += int(cmd[1])
    elif cmd[0] == "paced":
        end = time.time() + float(cmd[2])
        while time.time() < end:
            c.sendall(b"p" * int(cmd[1]))
            sent += int(cmd[1])
            time.sleep(0.1)
    elif cmd[0] == "close":
        c.close()
        t.join()
        a.close()
    settle()
    print("ok", sent, flush=True)
    if cmd[0] == "close":
        break
`;

interface Holder {
  readonly port: number;
  readonly pid: number;
  /** Runs a command; resolves with the bytes sent so far once the server has them all. */
  cmd(line: string): Promise<number>;
  readonly proc: ChildProcess;
}

/** Every holder started: killed after the tests, so that a failed test leaves no session open. */
const holders: ChildProcess[] = [];

async function holder(netns?: Netns): Promise<Holder> {
  const [cmd, args] = netns
    ? netns.wrap('python3', ['-c', HOLDER])
    : ['python3', ['-c', HOLDER] as string[]];
  const proc = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  holders.push(proc);
  const lines = createInterface({ input: proc.stdout! })[Symbol.asyncIterator]();
  const next = async () => String((await lines.next()).value);
  const [port, pid] = (await next()).split(' ').map(Number);
  return {
    port: port!,
    pid: pid!,
    proc,
    cmd: async (line) => {
      proc.stdin!.write(`${line}\n`);
      return Number((await next()).split(' ')[1]);
    },
  };
}

type Rec = Record<string, unknown> & {
  event: string;
  sid: number;
  tx_b: number;
  rx_b: number;
  lport: number;
  rport: number;
};

function records(stdout: string): Rec[] {
  return stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Rec);
}

/** The client side's records: its remote port is the listener's. */
const clientOf = (rs: Rec[], port: number) => rs.filter((r) => r.rport === port);

async function stopCli(cli: ReturnType<typeof startCli>): Promise<void> {
  cli.proc.kill('SIGINT');
  expect(await cli.exit).toBe(0);
}

describeKernel('sessions that have not ended', () => {
  const spaces: Netns[] = [];
  afterAll(() => {
    for (const p of holders) p.kill('SIGKILL');
    for (const ns of spaces) ns.delete();
  });

  for (const where of ['this network namespace', 'a container network namespace'] as const) {
    it(`a session open before tracing began is reported at close with its whole bytes and owner (${where})`, async () => {
      const ns = where === 'this network namespace' ? undefined : Netns.create('tl_open');
      if (ns) spaces.push(ns);
      const h = await holder(ns);
      await h.cmd('send 100000');
      const cli = startCli(['-v', '-o', 'jsonl', `port == ${h.port}`]);
      await cli.ready;
      expect(await h.cmd('send 50000')).toBe(150_000);
      await h.cmd('close');
      await sleep(300);
      await stopCli(cli);
      const rs = records(cli.stdout);
      const client = clientOf(rs, h.port);
      expect(client).toHaveLength(1);
      const c = client[0]!;
      expect(c.event).toBe('close');
      expect(c.start_seen).toBe(false);
      // 150,000 bytes, plus the SYN and the FIN the kernel counts as acked.
      expect(c.tx_b).toBe(150_000 + 2);
      expect(c.pid).toBe(h.pid);
      expect(c.comm).toBe('python3');
      expect(c.owner).toBe(true);
      if (ns) expect(c.netns).toBe(ns.inode);
      const server = rs.filter((r) => r.lport === h.port);
      expect(server).toHaveLength(1);
      expect(server[0]!.rx_b).toBe(150_000 + 1);
      expect(server[0]!.sid).not.toBe(c.sid);
    }, 30_000);
  }

  it('with --socket-storage sessions already open are not looked for and --interim has nothing to walk: it says so, and counts their closes', async () => {
    const h = await holder();
    await h.cmd('send 1000');
    const cli = startCli([
      '-v',
      '--socket-storage',
      '--stats',
      '-o',
      'jsonl',
      '--interim',
      '1',
      `port == ${h.port}`,
    ]);
    await cli.ready;
    await sleep(1500);
    await h.cmd('close');
    await sleep(300);
    await stopCli(cli);
    expect(cli.stdout).toBe('');
    expect(cli.stderr).toContain('sessions already open are not looked for with --socket-storage');
    expect(cli.stderr).toContain('--interim makes no interim or exit records');
    expect(cli.stderr).toMatch(/tcplife: 2 session\(s\) closed whose start was not seen/);
  }, 30_000);

  const dir = mkdtempSync(join(tmpdir(), 'tl-open-'));
  const recording = join(dir, 'interim.jsonl');

  it('--interim 2 on a 9 s paced transfer: interim records with one sid, totals that never decrease, then the close', async () => {
    const cli = startCli(['-v', '-o', 'jsonl', '--interim', '2', 'comm == "python3"']);
    await cli.ready;
    const h = await holder();
    const sent = await h.cmd('paced 10000 9');
    await h.cmd('close');
    await sleep(300);
    await stopCli(cli);
    const mine = cli.stdout.split('\n').filter((l) => l && (JSON.parse(l) as Rec).rport === h.port);
    writeFileSync(recording, `${mine.join('\n')}\n`);
    const client = records(mine.join('\n'));
    const interim = client.filter((r) => r.event === 'interim');
    expect(interim.length).toBeGreaterThanOrEqual(3);
    expect(client.at(-1)!.event).toBe('close');
    expect(client.filter((r) => r.event === 'close')).toHaveLength(1);
    expect(new Set(client.map((r) => r.sid)).size).toBe(1);
    for (let i = 1; i < client.length; i++) {
      for (const k of ['tx_b', 'rx_b', 'span_us', 'retrans'] as const)
        expect(client[i]![k] as number).toBeGreaterThanOrEqual(client[i - 1]![k] as number);
    }
    expect(interim[0]!.start_seen).toBe(true);
    expect(interim[0]!.tx_b).toBeGreaterThan(0);
    expect(interim[0]!.outcome).toBe('');
    expect(client.at(-1)!.tx_b).toBe(sent + 2);
  }, 40_000);

  it('replay keeps interim records byte for byte, and event == interim selects exactly them', async () => {
    const text = readFileSync(recording, 'utf8');
    const all = await runCli(['replay', recording]);
    expect(all.code).toBe(0);
    expect(all.stdout).toBe(text);
    const interim = await runCli(['replay', recording, 'event == interim']);
    expect(interim.stdout).toBe(
      `${text
        .split('\n')
        .filter((l) => l.includes('"event":"interim"'))
        .join('\n')}\n`,
    );
    const seen = await runCli(['replay', recording, 'not start_seen']);
    expect(seen.stdout).toBe('');
  });

  it('a session open at exit: one exit record with the bytes sent so far; snapshot shows them too', async () => {
    const h = await holder();
    const cli = startCli(['-v', '-o', 'jsonl', '--interim', '60', `port == ${h.port}`]);
    await cli.ready;
    expect(await h.cmd('send 70000')).toBe(70_000);
    const snap = await runCli(['snapshot', '-o', 'jsonl', `port == ${h.port}`]);
    expect(snap.code).toBe(0);
    const open = clientOf(records(snap.stdout), h.port);
    expect(open).toHaveLength(1);
    expect(open[0]!.event).toBe('interim');
    // The SYN is acked; no FIN yet.
    expect(open[0]!.tx_b).toBe(70_000 + 1);
    expect(open[0]!.pid).toBe(h.pid);
    const table = await runCli(['snapshot', `port == ${h.port}`]);
    expect(table.stdout).toMatch(
      new RegExp(`python3 +127\\.0\\.0\\.1 +\\d+ +127\\.0\\.0\\.1 +${h.port} +68 `),
    );
    await stopCli(cli);
    const rs = clientOf(records(cli.stdout), h.port);
    expect(rs).toHaveLength(1);
    expect(rs[0]!.event).toBe('exit');
    expect(rs[0]!.tx_b).toBe(70_000 + 1);
    expect(rs[0]!.sid).toBe(open[0]!.sid);
    await h.cmd('close');
  }, 30_000);

  it('summaries and --hist count a session once, at its close, with --interim', async () => {
    const h = await holder();
    const summary = startCli([
      '-v',
      '-o',
      'jsonl',
      '--interim',
      '1',
      '--interval',
      '1',
      '--exact',
      `port == ${h.port}`,
    ]);
    const hist = startCli([
      '-v',
      '-o',
      'csv',
      '--interim',
      '1',
      '--hist',
      'tx',
      `port == ${h.port}`,
    ]);
    await Promise.all([summary.ready, hist.ready]);
    await h.cmd('paced 1000 3');
    await h.cmd('close');
    await sleep(1500);
    await stopCli(summary);
    await stopCli(hist);
    const windows = records(summary.stdout) as unknown as { sessions: number }[];
    expect(windows.reduce((n, w) => n + w.sessions, 0)).toBe(2);
    const counts = hist.stdout
      .split('\n')
      .slice(1)
      .filter(Boolean)
      .map((l) => Number(l.split(',').at(-1)));
    expect(counts.reduce((a, b) => a + b, 0)).toBe(2);
  }, 30_000);

  it('a real Prometheus sees tcplife_sent_bytes_total advance during a transfer, before its close', async () => {
    const h = await holder();
    const port = await freePort();
    const cli = startCli([
      '-v',
      '-o',
      'none',
      '--metrics',
      String(port),
      '--interim',
      '1',
      '--labels',
      'comm',
      `port == ${h.port}`,
    ]);
    await cli.ready;
    const prom = await startPrometheus(port);
    try {
      await h.cmd('send 40000');
      const until = async (q: string, done: (v: number) => boolean) => {
        let v: number[] = [];
        for (let i = 0; i < 80; i++) {
          v = await prom.query(q);
          if (v.length && done(v[0]!)) break;
          await sleep(250);
        }
        return v;
      };
      // Open: the client's 40,000 bytes and its SYN, the server's nothing yet.
      expect(await until('sum(tcplife_sent_bytes_total)', (v) => v >= 40_001)).toEqual([40_001]);
      expect(await prom.query('sum(tcplife_sessions_total)')).toEqual([]);
      await h.cmd('close');
      expect(await until('sum(tcplife_sessions_total)', (v) => v === 2)).toEqual([2]);
      // Closed: each FIN acked too; nothing counted twice.
      expect(await until('sum(tcplife_sent_bytes_total)', (v) => v >= 40_003)).toEqual([40_003]);
      expect(await prom.query('sum(tcplife_received_bytes_total)')).toEqual([40_001 + 1]);
    } finally {
      prom.stop();
      await stopCli(cli);
    }
  }, 60_000);
});
