/** The tcplife command, started as a user would start it, on real sessions. */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { FIELDS } from '../../src/model/fields.js';
import { PACKAGE_ROOT } from '../../src/util/paths.js';
import { asUser, BIN, runCli, startCli } from '../helpers/cli.js';
import { describeAsRoot, describeKernel } from '../helpers/kernel.js';
import { connectNamed, runClient, sleep, startServer } from '../helpers/tcpgen.js';

describe('usage errors (no kernel needed)', () => {
  it('a bad filter: the caret on stderr, nothing on stdout, exit 2', async () => {
    const r = await runCli(['dprt == 443 and tx > 10kb']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(
      "<filter>:1:1: error: unknown field 'dprt'; did you mean 'dport'?\n  |\n1 | dprt == 443 and tx > 10kb\n  | ^^^^",
    );
    expect(r.stderr).toContain("<filter>:1:24: error: unknown unit 'kb'; did you mean 'KB'?");
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/);
  });

  it('bad option values exit 2 with a message that names the problem', async () => {
    for (const [args, message] of [
      [['-L', '80,x'], "argument '80,x' is invalid. 'x' is not a port"],
      [['-D', '70000'], 'port 70000 is out of range (0-65535)'],
      [['-p', 'abc'], 'a PID is a whole number'],
      [['-o', 'xml'], 'Allowed choices are table, jsonl, json, csv'],
      [['-4', '-6'], 'tcplife: -4 and -6 exclude each other'],
      [
        ['--fields', 'pid,bogus'],
        'tcplife: unknown field for --fields: bogus; fields are time, pid',
      ],
      [['-s', '-j'], 'tcplife: choose one output format, not csv and jsonl'],
      [['--count', '3'], 'tcplife: --count and --group-by go with --interval'],
      [['--rule', 'x'], 'tcplife: --rule needs --rules FILE'],
      [
        ['--hist', 'comm'],
        "tcplife: --hist takes a numeric field: span, tx, rx, rtt, or one such as retrans or tx_kb; not 'comm'",
      ],
      [
        ['--hist', 'span', '--group-by', 'comm', '--interval', '1'],
        'tcplife: --hist draws one field',
      ],
      [['--fields', ','], 'tcplife: --fields needs at least one field name'],
      [['--duration', '2147484'], 'at most 2147483 seconds (about 24 days)'],
      [['--interval', '2147484'], 'at most 2147483 seconds (about 24 days)'],
      [['--map-size', '100000000'], 'at most 4194304 sockets'],
    ] as const) {
      const r = await runCli([...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr, args.join(' ')).toContain(message);
      expect(r.stderr).not.toMatch(/at .*\.js:\d+/);
    }
  });

  it('tcplife fields lists every field and where it is decided; --help points to it; check --help has examples', async () => {
    const r = await runCli(['fields']);
    expect(r.code).toBe(0);
    const rows = r.stdout.trim().split('\n');
    expect(rows[0]).toMatch(/^FIELD +ALIASES +TYPE +DECIDED +IN JSON +MEANING$/);
    for (const name of Object.keys(FIELDS)) expect(r.stdout).toMatch(new RegExp(`^${name} `, 'm'));
    expect(r.stdout).toMatch(/^rport +dport +port +kernel +yes /m);
    expect(r.stdout).toMatch(/^container +string +userspace +yes /m);
    expect(r.stdout).toMatch(
      /^outcome +closed\|aborted\|reset\|refused\|timeout\|error\|abandoned +kernel /m,
    );
    expect((await runCli(['--help'])).stdout).toContain('Fields: tcplife fields.');
    expect((await runCli(['check', '--help'])).stdout).toContain('tcplife check rules/*.rules');
  });

  it('-V and --version say which tcplife this is', async () => {
    const { version } = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8'));
    for (const flag of ['-V', '--version']) {
      const r = await runCli([flag]);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(
        `tcplife ${version} (TypeScript, with a filter language; not the tcplife of BCC or libbpf-tools)\n`,
      );
    }
  });

  it('--help shows the examples and exits 0', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('tcplife -L 80,81');
    expect(r.stdout).toContain("tcplife 'dport == 443 && tx_kb > 10'");
  });

  it('--explain shows the kernel/userspace split and the C', async () => {
    const r = await runCli(['--explain', '-D', '443', 'comm =~ /^java/']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('filter:     comm =~ /^java/ and rport in (443)');
    expect(r.stdout).toContain('kernel:     rport in (443)');
    expect(r.stdout).toContain('userspace:  comm =~ /^java/ and rport in (443)');
    // A set of remote ports needs no generated C: the program reads it from its settings.
    expect(r.stdout).toContain('  settings_filter(e)\n  with read-only settings: rport in (443)');
    const c = await runCli(['--explain', '-D', '443', 'tx_kb > 1']);
    expect(c.stdout).toContain('((e->tx_b > 1024ULL) && (e->rport == 443ULL))');
  });

  it('--ebpf prints the whole generated program', async () => {
    const r = await runCli(['--ebpf', '-L', '80', 'span > 1s']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('SEC("tp_btf/inet_sock_set_state")');
    expect(r.stdout).toContain('return ((e->span_us > 1000000ULL) && (e->lport == 80ULL));');
    // Options alone are read from the settings: the same program for every -L.
    const a = await runCli(['--ebpf', '-L', '80']);
    const b = await runCli(['--ebpf', '-L', '443', '-p', '1']);
    expect(a.stdout).toContain('return settings_filter(e);');
    expect(b.stdout).toBe(a.stdout);
  });
});

describeAsRoot('as another user (setpriv)', () => {
  it('--explain needs no privileges', async () => {
    const r = await runCli(['--explain', '-D', '443', 'comm =~ /^java/'], { asUser: 'nobody' });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('kernel:     rport in (443)');
  });
});

/** tcplife with its stdout opened on this path (a file, /dev/full). */
function startOn(path: string, args: string[]) {
  const fd = openSync(path, 'w');
  const run = startCli(args, { stdout: fd });
  closeSync(fd);
  return run;
}

describeKernel('tcplife on real sessions', () => {
  async function traced(args: string[], sessions = 3, send = 1500) {
    const cli = startCli(['--verbose', ...args]);
    await cli.ready;
    const srv = await startServer('tl_clisrv', '127.0.0.1', { reply: 4000 });
    const client = await runClient('tl_clicli', '127.0.0.1', srv.port, { count: sessions, send });
    return { cli, srv, client };
  }

  it('JSON lines: one object per session, parsed line by line, and through jq', async () => {
    // -o json is -j (kubectl's and Inspektor Gadget's spelling).
    const { cli, srv, client } = await traced([
      '-o',
      'json',
      '--exit-after',
      '6',
      'comm ~ "tl_cli*"',
    ]);
    const code = await cli.exit;
    srv.stop();
    expect(code).toBe(0);
    const objs = cli.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(objs).toHaveLength(6);
    const mine = objs.filter((o) => o.comm === 'tl_clicli');
    expect(mine).toHaveLength(3);
    for (const o of mine) {
      expect(o).toMatchObject({
        pid: client.pid,
        family: 4,
        raddr: '127.0.0.1',
        rport: srv.port,
        tx_b: 1502,
        rx_b: 4001,
      });
      expect(typeof o.span_ms).toBe('number');
      expect(o.tx_kb).toBeCloseTo(1502 / 1024, 10);
    }
    const jq = execFileSync('jq', ['-r', 'select(.comm == "tl_clisrv") | .lport'], {
      input: cli.stdout,
    })
      .toString()
      .trim()
      .split('\n');
    expect(jq).toEqual([String(srv.port), String(srv.port), String(srv.port)]);
  });

  it('CSV: a header, then rows that parse back', async () => {
    const { cli, srv } = await traced(['-s', '-T', '--exit-after', '2', 'comm == "tl_clicli"']);
    expect(await cli.exit).toBe(0);
    srv.stop();
    const rows = parse(cli.stdout, { columns: true }) as Record<string, string>[];
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({
      COMM: 'tl_clicli',
      IP: '4',
      RADDR: '127.0.0.1',
      RPORT: String(srv.port),
      TX_KB: '1',
      RX_KB: '3',
    });
    expect(rows[0]!.TIME).toMatch(/^\d\d:\d\d:\d\d$/);
  });

  it('-x adds how sessions ended: a refused connect in CSV', async () => {
    const cli = startCli(['--verbose', '-x', '-s', '--exit-after', '1', 'comm == "tl_xcli"']);
    await cli.ready;
    await runClient('tl_xcli', '127.0.0.1', 1, { count: 1, tolerate: true });
    expect(await cli.exit).toBe(0);
    const rows = parse(cli.stdout, { columns: true }) as Record<string, string>[];
    expect(rows).toEqual([
      expect.objectContaining({
        COMM: 'tl_xcli',
        RPORT: '1',
        ROLE: 'client',
        OUTCOME: 'refused',
        RETRANS: '0',
        CONTAINER: '',
      }),
    ]);
  });

  it('-F FILE: a 10,000-term filter too long for a command line, a port bitmap in the kernel', async () => {
    const srv = await startServer('tl_fsrv', '127.0.0.1');
    const ports = new Set<number>([srv.port]);
    for (let p = 1; ports.size < 10_000; p += 3) if (p !== srv.port + 1) ports.add(p);
    const file = join(mkdtempSync(join(tmpdir(), 'tl-filter-')), 'long.filter');
    writeFileSync(
      file,
      `comm == "tl_fcli" and (\n${[...ports].map((p) => `rport == ${p}`).join(' or\n')}\n)\n`,
    );
    const explain = await runCli(['--explain', '-F', file]);
    expect(explain.code).toBe(0);
    expect(explain.stdout).toMatch(/port_set_0\[/);
    const cli = startCli(['--verbose', '-j', '--exit-after', '1', '-F', file]);
    await cli.ready;
    await runClient('tl_fcli', '127.0.0.1', srv.port, { count: 1 });
    expect(await cli.exit).toBe(0);
    srv.stop();
    expect(JSON.parse(cli.stdout)).toMatchObject({ comm: 'tl_fcli', rport: srv.port });
    const both = await runCli(['-F', file, 'lport == 1']);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('give the filter either as arguments or with -F FILE, not both');
  });

  it('a comm that is not UTF-8: selected in the kernel by "\\xHH", \\xHH in JSON and CSV', async () => {
    const srv = await startServer('tl_bytesrv', '127.0.0.1');
    const filter = 'comm == "tl_\\xe9x"';
    const json = startCli(['--verbose', '-j', '--exit-after', '1', filter]);
    const csv = startCli(['--verbose', '-s', '--exit-after', '1', filter]);
    await Promise.all([json.ready, csv.ready]);
    // A client that names itself with the byte 0xE9, which is not UTF-8 on its own.
    connectNamed('tl_\\xe9x', srv.port);
    expect(await json.exit).toBe(0);
    expect(await csv.exit).toBe(0);
    srv.stop();
    expect(JSON.parse(json.stdout)).toMatchObject({ comm: 'tl_\\xe9x', rport: srv.port });
    const rows = parse(csv.stdout, { columns: true }) as Record<string, string>[];
    expect(rows.map((r) => r.COMM)).toEqual(['tl_\\xe9x']);
  });

  it('a filter that is not valid UTF-8 is a usage error', () => {
    const r = spawnSync('sh', ['-c', `${BIN} --explain "$(printf 'comm == "\\351"')"`], {
      encoding: 'utf8',
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('tcplife: the filter is not valid UTF-8 text');
  });

  it('table: the original header and columns; -D filters by remote port', async () => {
    const cli = startCli(['--verbose', '-t', '--exit-after', '2']);
    await cli.ready;
    const srv = await startServer('tl_tblsrv', '127.0.0.1', { reply: 10 });
    const cli2 = startCli(['--verbose', '-D', String(srv.port), '--exit-after', '1']);
    await cli2.ready;
    await runClient('tl_tblcli', '127.0.0.1', srv.port, { count: 1, send: 3000 });
    expect(await cli.exit).toBe(0);
    expect(await cli2.exit).toBe(0);
    srv.stop();
    const lines = cli.stdout.trim().split('\n');
    expect(lines[0]).toBe(
      'TIME(s)   PID   COMM       LADDR           LPORT RADDR           RPORT TX_KB RX_KB MS',
    );
    expect(lines).toHaveLength(3);
    const only = cli2.stdout.trim().split('\n');
    expect(only).toHaveLength(2);
    expect(only[1]).toMatch(
      new RegExp(
        `^\\d+\\s+tl_tblcli\\s+127\\.0\\.0\\.1\\s+\\d+\\s+127\\.0\\.0\\.1\\s+${srv.port}\\s+2\\s+0 \\d+\\.\\d\\d$`,
      ),
    );
  });

  it('| head -1 exits 0 quietly', async () => {
    const sh = spawn(
      'bash',
      // Only this test's sessions: on a busy host the first line could be anyone's.
      [
        '-c',
        `${BIN} -j --verbose 'comm ~ "tl_head*"' 2>/tmp/tl-head.err | head -1; echo "status \${PIPESTATUS[0]}"`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    const exited = new Promise((r) => sh.once('exit', r));
    sh.stdout.on('data', (d) => {
      out += d;
    });
    // wait for attach, then make sessions until the pipe closes
    const srv = await startServer('tl_headsrv', '127.0.0.1');
    for (let i = 0; i < 50 && !out.includes('status'); i++) {
      await runClient('tl_headcli', '127.0.0.1', srv.port, { count: 2 });
      await sleep(100);
    }
    await exited;
    srv.stop();
    const lines = out.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(JSON.parse(lines[0]!).comm).toMatch(/tl_head/);
    expect(lines[1]).toBe('status 0');
  });

  it('a reader that goes away with no further traffic ends tracing promptly, exit 0', async () => {
    const t0 = Date.now();
    const r = spawnSync(
      'bash',
      ['-c', `${BIN} -j 'comm == "tl_nobody_here"' | head -c 0; echo "status \${PIPESTATUS[0]}"`],
      { encoding: 'utf8', timeout: 20_000 },
    );
    expect(r.stdout.trim()).toBe('status 0');
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('idle, writing to a file: the main thread wakes only to drain the ring (20 times a second)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tl-idle-'));
    const run = startOn(join(dir, 'out.jsonl'), ['-j', '--verbose', 'comm == "tl_nobody_here"']);
    const { proc, exit } = run;
    await run.ready;
    await sleep(500);
    // The main thread's sleeps that ended: one a timer or poll that woke it.
    const woken = () =>
      Number(
        /voluntary_ctxt_switches:\s+(\d+)/.exec(
          readFileSync(`/proc/${proc.pid}/task/${proc.pid}/status`, 'utf8'),
        )?.[1],
      );
    const before = woken();
    await sleep(2000);
    const wakeups = woken() - before;
    proc.kill('SIGINT');
    expect(await exit).toBe(0);
    // 40 drains in 2 s; a watch for a pipe's reader would add 10.
    expect(wakeups).toBeGreaterThanOrEqual(30);
    expect(wakeups).toBeLessThanOrEqual(45);
  });

  it('SIGINT: detaches, prints what was read, exits 0 with nothing after', async () => {
    const { cli, srv } = await traced(['-j', 'comm == "tl_clicli"']);
    await sleep(20);
    cli.proc.kill('SIGINT');
    expect(await cli.exit).toBe(0);
    srv.stop();
    const objs = cli.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(objs).toHaveLength(3);
    expect(cli.stdout.endsWith('}\n')).toBe(true);
    expect(cli.stderr).not.toMatch(/Error|at .*\.js/);
  });

  it('stdout on a full disk (/dev/full): one line naming the error, the account, exit 1', async () => {
    const run = startOn('/dev/full', ['--verbose', '-j', 'comm == "tl_fullcli"']);
    await run.ready;
    await runClient('tl_fullcli', '127.0.0.1', 1, { count: 3, tolerate: true });
    expect(await run.exit).toBe(1);
    const stderr = run.stderr;
    expect(stderr).toContain(
      'tcplife: cannot write to stdout: no space left on device (ENOSPC); tracing stopped',
    );
    expect(stderr).toMatch(
      /tcplife: \d+ session\(s\) closed, \d+ passed the kernel filter, \d+ read, 0 printed/,
    );
    expect(stderr).not.toMatch(/internal error|at .*\.js:\d+/);
  });

  it('a signal right after the line that says tracing has begun (the output still being set up) ends tracing cleanly', async () => {
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      const cli = startCli(['-j', 'comm == "tl_early"']);
      while (!cli.stderr.includes('tracing TCP sessions')) {
        if (cli.proc.exitCode !== null) throw new Error(cli.stderr);
        await sleep(1);
      }
      cli.proc.kill(sig);
      expect([sig, await cli.exit]).toEqual([sig, 0]);
      expect(cli.stderr).not.toMatch(/Error|at .*\.js/);
    }
  });

  it('SIGHUP ends tracing like SIGTERM: what was read is printed, exit 0', async () => {
    const { cli, srv } = await traced(['-j', 'comm == "tl_clicli"']);
    await sleep(20);
    cli.proc.kill('SIGHUP');
    expect(await cli.exit).toBe(0);
    srv.stop();
    expect(cli.stdout.trim().split('\n')).toHaveLength(3);
  });

  it('SIGUSR1 opens no debugger: tracing goes on and ends cleanly', async () => {
    const cli = startCli(['--verbose', '-j', '--duration', '2', 'comm == "tl_usr1"']);
    await cli.ready;
    cli.proc.kill('SIGUSR1');
    await sleep(500);
    const listening = execFileSync('ss', ['-ltnpH']).toString();
    expect(listening).not.toContain(`pid=${cli.proc.pid},`);
    expect(listening).not.toMatch(/:9229\b/);
    await runClient('tl_usr1', '127.0.0.1', 1, { count: 1, tolerate: true });
    expect(await cli.exit).toBe(0);
    expect(JSON.parse(cli.stdout)).toMatchObject({ comm: 'tl_usr1', outcome: 'refused' });
    expect(cli.stderr).not.toMatch(/Debugger|inspector/i);
  });

  it('--duration ends on its own; --stats always prints the counters', async () => {
    const r = await runCli(['--duration', '0.5', '--stats', 'lport == 1 and rport == 1']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/tcplife: 0 session\(s\) lost/);
    expect(r.stderr).toMatch(/passed the kernel filter/);
  });

  it("--hist tx: the clients' sessions in the bucket of their byte count", async () => {
    const cli = startCli(['--verbose', '-j', '--hist', 'tx', 'comm == "tl_histcli"']);
    await cli.ready;
    const srv = await startServer('tl_histsrv', '127.0.0.1');
    await runClient('tl_histcli', '127.0.0.1', srv.port, { count: 5, send: 3000 });
    await sleep(200);
    cli.proc.kill('SIGINT');
    expect(await cli.exit).toBe(0);
    srv.stop();
    const h = JSON.parse(cli.stdout);
    // 3,002 bytes acked (payload, SYN, FIN): the bucket [2048, 4096).
    expect(h).toMatchObject({ field: 'tx_b', buckets: [{ lo: 2048, hi: 4096, count: 5 }] });
  });

  it('interval summaries: known counts and sizes, grouped', async () => {
    const cli = startCli([
      '--verbose',
      '-j',
      '--interval',
      '1.5',
      '--count',
      '1',
      '--group-by',
      'comm',
      'comm ~ "tl_sum*"',
    ]);
    await cli.ready;
    const srv = await startServer('tl_sumsrv', '127.0.0.1', { reply: 2048 });
    await runClient('tl_sumcli', '127.0.0.1', srv.port, { count: 7, send: 10_240 });
    expect(await cli.exit).toBe(0);
    srv.stop();
    const rows = cli.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const by = Object.fromEntries(rows.map((r) => [r.comm, r]));
    expect(by.tl_sumcli).toMatchObject({ sessions: 7, tx_b: 7 * 10_242, rx_b: 7 * 2049 });
    expect(by.tl_sumsrv).toMatchObject({ sessions: 7, tx_b: 7 * 2049, rx_b: 7 * 10_241 });
    expect(by.tl_sumcli.span_p99_ms).toBeGreaterThanOrEqual(by.tl_sumcli.span_p50_ms);
  });

  it('as nobody with only the capabilities docs/operating.md grants: traces; cgroups need CAP_DAC_READ_SEARCH', async () => {
    const run = (caps: string) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const proc = spawn(
          ...asUser(
            'nobody',
            BIN,
            ['--verbose', '-j', '--duration', '3', 'comm == "tl_capcli"'],
            caps,
          ),
          { stdio: ['ignore', 'pipe', 'pipe'] },
        );
        let stdout = '';
        let stderr = '';
        let started = false;
        proc.stdout!.on('data', (d) => {
          stdout += d;
        });
        proc.stderr!.on('data', (d) => {
          stderr += d;
          if (!started && stderr.includes('tcplife: cgroup paths')) {
            started = true;
            runClient('tl_capcli', '127.0.0.1', 1, { count: 1, tolerate: true });
          }
        });
        proc.once('close', (code) => resolve({ code, stdout, stderr }));
      });
    const without = await run('+bpf,+perfmon');
    expect(without.code).toBe(0);
    expect(JSON.parse(without.stdout)).toMatchObject({ comm: 'tl_capcli', cgroup: '' });
    expect(without.stderr).toContain('open_by_handle_at needs CAP_DAC_READ_SEARCH');
    const withIt = await run('+bpf,+perfmon,+dac_read_search');
    expect(withIt.code).toBe(0);
    expect(JSON.parse(withIt.stdout).cgroup).not.toBe('');
  });

  it('without privileges: a clear message and exit 1', async () => {
    const r = await runCli(['-j', '--duration', '1'], { asUser: 'nobody' });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('tcplife: not permitted to load BPF programs');
    expect(r.stderr).toContain('CAP_BPF');
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/);
  });

  it('a script can wait for "tcplife: tracing" on stderr; -q says nothing; -v the useful lines; -vv libbpf\'s log too', async () => {
    const server = await startServer('tl_wait_srv', '127.0.0.1');
    try {
      const proc = spawn(BIN, ['-j', `rport == ${server.port}`], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      proc.stdout!.on('data', (d) => {
        out += d;
      });
      // As a shell script would: read stderr until the line, then start the workload.
      await new Promise<void>((resolve) =>
        proc.stderr!.on('data', (d) => {
          err += d;
          if (err.includes('tcplife: tracing TCP sessions; Ctrl-C to end\n')) resolve();
        }),
      );
      await runClient('tl_wait_cli', '127.0.0.1', server.port, { count: 1 });
      await sleep(300);
      proc.kill('SIGINT');
      await new Promise((r) => proc.once('close', r));
      expect(out.trim().split('\n')).toHaveLength(1);
      // First the line; then only the exit account's host-wide counts, if any are not zero.
      expect(err.startsWith('tcplife: tracing TCP sessions; Ctrl-C to end\n')).toBe(true);
      expect(err).not.toMatch(/^libbpf:|attached with/m);
    } finally {
      server.stop();
    }
    const quiet = await runCli(['-q', '-j', '--duration', '0.2']);
    expect(quiet.stderr).not.toContain('tcplife: tracing');
    const v = await runCli(['-v', '-j', '--duration', '0.2']);
    expect(v.stderr).not.toMatch(/^libbpf:/m);
    expect(v.stderr).toMatch(/^tcplife: attached with /m);
    expect(v.stderr.trim().split('\n').length).toBeLessThanOrEqual(5);
    const vv = await runCli(['-vv', '-j', '--duration', '0.2']);
    expect(vv.stderr).toMatch(/^libbpf: /m);
  });

  it('-v, like --verbose, adds the full log to an error', async () => {
    for (const flag of ['-v', '--verbose']) {
      const r = await runCli([flag, '-j', '--duration', '1'], { asUser: 'nobody' });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('tcplife: not permitted to load BPF programs');
      expect(r.stderr, flag).toMatch(/^libbpf: .*(Operation not permitted|failed to load)/m);
    }
    const quiet = await runCli(['-j', '--duration', '1'], { asUser: 'nobody' });
    expect(quiet.stderr).not.toMatch(/^libbpf:/m);
  });

  it('a tiny ring (64 KiB) under a burst, the reader paused: ring drops are counted and reported, memory stays bounded', async () => {
    const cli = startCli(['--verbose', '-j', '--ring-size', '64KiB', 'comm ~ "tl_slow*"']);
    await cli.ready;
    // Nobody reads: the pipe fills and output waits in tcplife's buffer; the
    // ring of 512 records still overflows between drains in the burst.
    cli.proc.stdout!.pause();
    const srv = await startServer('tl_slowsrv', '127.0.0.1');
    const client = await runClient('tl_slowcli', '127.0.0.1', srv.port, { count: 20_000 });
    await sleep(300);
    const status = readFileSync(`/proc/${cli.proc.pid}/status`, 'utf8');
    const rssKb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1]);
    cli.proc.stdout!.resume();
    cli.proc.kill('SIGINT');
    expect(await cli.exit).toBe(0);
    srv.stop();
    const lines = cli.stdout.trim().split('\n').filter(Boolean);
    const printed = lines.length;
    // A 64 KiB ring wraps hundreds of times here: records that straddled its
    // end must decode as well as the others.
    for (const l of lines) {
      const o = JSON.parse(l);
      expect(o.comm).toMatch(/^tl_slow(cli|srv)$/);
      expect([o.tx_b, o.rx_b]).toEqual(o.comm === 'tl_slowcli' ? [2, 1] : [1, 1]);
    }
    const lost = Number(
      /tcplife: (\d+) session\(s\) lost: (\d+) with the ring buffer full/.exec(cli.stderr)?.[2],
    );
    // Bound stated here: the peak RSS of the whole process while the pipe was full.
    if (process.env.TCPLIFE_TEST_FIGURES)
      console.log({ rssKb, printed, lost, sessions: client.sessions });
    expect(rssKb).toBeLessThan(200 * 1024);
    expect(lost).toBeGreaterThan(0);
    // Every session is either printed or counted as lost.
    expect(printed + lost).toBe(2 * client.sessions);
  });
});

describe('stderr into a pipe', () => {
  it('is written whole before exit (process.stderr dropped all past the pipe’s 64 KiB)', () => {
    // The command's own stderr writer, as bin/tcplife uses it, 300,000 bytes then exit.
    const script = `import('${PACKAGE_ROOT}/dist/cli/io.js').then(({ defaultIo }) => { defaultIo.stderr('x'.repeat(300000)); process.exit(0); })`;
    const r = spawnSync('sh', ['-c', `"${process.execPath}" -e "$0" 2>&1 | wc -c`, script], {
      encoding: 'utf8',
    });
    expect(r.stdout.trim()).toBe('300000');
  });
});
