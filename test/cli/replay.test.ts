/**
 * tcplife replay: recordings filtered again with the same language, as a user
 * runs it — files, gzip by content, stdin, malformed lines, no privileges.
 */
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { compileFilter, evaluate } from '../../src/dsl/index.js';
import { sessionOf } from '../../src/model/fields.js';
import { createFormatter } from '../../src/pipeline/formatters.js';
import { FIXTURES } from '../fixtures/sessions.js';
import { asUser, BIN, runCli } from '../helpers/cli.js';
import { describeAsRoot } from '../helpers/kernel.js';

const dir = mkdtempSync(join(tmpdir(), 'tl-replay-'));
const jsonl = createFormatter({ format: 'jsonl' });
// A recording: the fixtures, many times over, with varied ports and bytes.
const records = Array.from({ length: 60 }, (_, i) => {
  const f = FIXTURES[i % FIXTURES.length]!;
  return sessionOf({ ...f, time: Date.parse(f.time) + i, lport: 1000 + i, tx_b: i * 700 });
});
const text = `${records.map((r) => jsonl.row(r)).join('\n')}\n`;
const plain = join(dir, 'rec.jsonl');
writeFileSync(plain, text);
const gzipped = join(dir, 'rec-gzipped.jsonl'); // gzip under a plain name
writeFileSync(gzipped, gzipSync(text));
const notGzip = join(dir, 'plain.gz'); // plain under a gzip name
writeFileSync(notGzip, text);

function replay(args: string[], input?: string) {
  return spawnSync(BIN, ['replay', ...args], { encoding: 'utf8', input, timeout: 30_000 });
}

describe('tcplife replay', () => {
  it('a number past any field (1e400) or a time that is no time: a bad line at FILE:LINE, in every format', () => {
    const good = text.split('\n').filter(Boolean);
    const inf = good[3]!.replace(/"tx_b":\d+/, '"tx_b":1e400');
    const noTime = good[5]!.replace(/"time":"[^"]+"/, '"time":"yesterday"');
    const f = join(dir, 'bad-values.jsonl');
    writeFileSync(
      f,
      `${[...good.slice(0, 3), inf, good[4], noTime, ...good.slice(6)].join('\n')}\n`,
    );
    const outputs: string[] = [];
    for (const args of [
      [],
      ['-o', 'csv'],
      ['-o', 'table'],
      ['--interval', '60'],
      ['--interval', '60', '-o', 'csv'],
    ]) {
      const r = replay([f, ...args]);
      const what = args.join(' ') || 'jsonl';
      expect(r.status, what).toBe(1);
      expect(r.stderr, what).toContain(`${f}:4: field 'tx_b' is not a finite number`);
      expect(r.stderr, what).toContain(`${f}:6: field 'time' is not a time`);
      expect(r.stderr, what).toContain(`tcplife: 2 line(s) of ${f} skipped`);
      expect(r.stdout, what).not.toMatch(/Infinity|NaN/);
      outputs.push(r.stdout);
    }
    // JSON lines: every other line, exactly.
    expect(outputs[0]).toBe(`${[...good.slice(0, 3), good[4], ...good.slice(6)].join('\n')}\n`);
  });

  it('--interval over times that run backwards: the windows of the forward order, in linear time', () => {
    // 100,000 records a second apart, newest first. Sorting the open windows
    // at each new one took 6.4 s for 40,000 lines, and grew with the square.
    const base = Date.parse('2026-12-07T00:00:00.000Z');
    const lines = Array.from({ length: 100_000 }, (_, i) =>
      jsonl.row(sessionOf({ ...FIXTURES[0]!, time: base + (100_000 - i) * 1000 })),
    );
    const back = join(dir, 'backwards.jsonl');
    const fwd = join(dir, 'forwards.jsonl');
    writeFileSync(back, `${lines.join('\n')}\n`);
    writeFileSync(fwd, `${lines.reverse().join('\n')}\n`);
    const t0 = Date.now();
    const b = replay([back, '--interval', '10', '-o', 'csv']);
    const took = Date.now() - t0;
    const f = replay([fwd, '--interval', '10', '-o', 'csv']);
    expect(b.status).toBe(0);
    expect(b.stdout).toBe(f.stdout);
    expect(b.stdout.split('\n').length).toBeGreaterThan(10_000);
    // A wide bound (it takes about a second): the quadratic way took minutes.
    expect(took).toBeLessThan(20_000);
  }, 60_000);

  it('--group-by rule: a session counts once in the group of each rule it matched, as --labels rule does', () => {
    const rulesFile = join(dir, 'two.rules');
    writeFileSync(rulesFile, 'rule low: lport < 1030\nrule even: tx_b > 20000\n');
    const want = (pred: (r: (typeof records)[number]) => boolean) => records.filter(pred).length;
    const r = replay([plain, '--rules', rulesFile, '--interval', '3600', '--group-by', 'rule']);
    expect(r.status, r.stderr).toBe(0);
    const rows = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const by = Object.fromEntries(rows.map((o) => [o.rule, o.sessions]));
    expect(by).toEqual({ low: want((x) => x.lport < 1030), even: want((x) => x.tx_b > 20000) });
    // Without rule files there is no rule to group by: a usage error.
    const bad = replay([plain, '--interval', '60', '--group-by', 'rule']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--group-by rule needs --rules FILE');
  });

  it('into a full disk: one line saying so, exit 1, as tracing does', () => {
    const big = join(dir, 'big.jsonl');
    writeFileSync(big, text.repeat(600)); // 36,000 lines
    for (const args of [[big], [big, '-o', 'csv'], [big, '--interval', '60']]) {
      const r = spawnSync('sh', ['-c', `exec "$0" replay "$@" > /dev/full`, BIN, ...args], {
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(r.status, args.join(' ')).toBe(1);
      const said = r.stderr.trim().split('\n');
      expect(said, args.join(' ')).toHaveLength(1);
      expect(said[0]).toMatch(
        /^tcplife: cannot write to stdout: no space left on device \(ENOSPC\); replay stopped at .*big\.jsonl:\d+$/,
      );
    }
  });

  it('reproduces a recording byte for byte; gzip by content, not by name; stdin', () => {
    for (const f of [plain, gzipped, notGzip]) {
      const r = replay([f]);
      expect(r.status, f).toBe(0);
      expect(r.stdout).toBe(text);
    }
    expect(replay(['-'], text).stdout).toBe(text);
  });

  it('a recording from before open-session records (no event, sid, start_seen) reads as closes', () => {
    const old = text
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const { event: _e, sid: _s, start_seen: _ss, ...rest } = JSON.parse(l);
        return JSON.stringify(rest);
      });
    const r = replay(['-', 'event == close and start_seen'], `${old.join('\n')}\n`);
    expect(r.status).toBe(0);
    const back = r.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    expect(back).toHaveLength(old.length);
    expect(back[0]).toMatchObject({ event: 'close', sid: 0, start_seen: true });
    // One of the three present: a line of this version, whose missing keys are wrong.
    const bad = replay(['-'], `${JSON.stringify({ ...JSON.parse(old[0]!), sid: 5 })}\n`);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain("<stdin>:1: no field 'event'");
  });

  it('the whole filter runs with the reference evaluator’s meaning', () => {
    for (const f of [
      'tx_kb > 10',
      'comm ~ "a*" or family == 6',
      'lport in (1000..1010, 1050) and not outcome == reset',
      'port == 22 or container != ""',
      'raddr in (10.0.0.0/8, fd00::/8)',
    ]) {
      const pred = compileFilter(f).pred!;
      const want = records.filter((r) => evaluate(pred, r)).map((r) => jsonl.row(r));
      const r = replay([plain, f]);
      expect(r.status, f).toBe(0);
      expect(r.stdout.trim().split('\n').filter(Boolean), f).toEqual(want);
    }
  });

  it('formats, fields, -x and rule tags work as for live sessions', () => {
    const table = replay([plain, 'lport == 1000', '-o', 'table', '-x']);
    expect(table.stdout.split('\n')[0]).toMatch(
      /^PID +COMM .* ROLE +OUTCOME +RETRANS +RTT_MS +CONTAINER$/,
    );
    const csv = replay([plain, 'lport < 1003', '-o', 'csv', '--fields', 'comm,lport']);
    expect(csv.stdout).toBe('comm,lport\ncurl,1000\naverylongname15,1001\n"a,""b",1002\n');
    const rules = files({ 'r.rules': 'rule big: tx_kb > 30\n  tags (volume)\n' });
    const tagged = replay([
      plain,
      '--rules',
      join(rules, 'r.rules'),
      '--fields',
      'lport,rules,tags',
    ]);
    const objs = tagged.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(objs.every((o) => o.rules[0] === 'big' && o.tags[0] === 'volume')).toBe(true);
    expect(objs.map((o) => o.lport)).toEqual(
      records.filter((r) => r.tx_b > 30 * 1024).map((r) => r.lport),
    );
  });

  it("--interval and --group-by summarize in windows of the records' own times", () => {
    // In close order, as tcplife records them (give or take a window's lateness).
    const sorted = join(dir, 'sorted.jsonl');
    const inOrder = [...records].sort((a, b) => Date.parse(a.time) - Date.parse(b.time));
    writeFileSync(sorted, inOrder.map((x) => `${jsonl.row(x)}\n`).join(''));
    const r = replay([sorted, '--interval', '1', '--group-by', 'comm', '-o', 'jsonl']);
    expect(r.status).toBe(0);
    const rows = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const want = new Map<string, number>();
    for (const s of records) {
      const end = new Date((Math.floor(Date.parse(s.time) / 1000) + 1) * 1000).toISOString();
      const k = `${end} ${s.comm}`;
      want.set(k, (want.get(k) ?? 0) + 1);
    }
    expect(new Map(rows.map((x) => [`${x.time} ${x.comm}`, x.sessions]))).toEqual(want);
    expect(rows.every((x) => x.interval_s === 1)).toBe(true);
  });

  it('malformed lines are named FILE:LINE, skipped, counted; exit 1', () => {
    const bad = join(dir, 'bad.jsonl');
    const [a, b] = text.split('\n');
    const wrongType = JSON.stringify({ ...JSON.parse(a!), rport: '443' });
    const missing = JSON.stringify({ ...JSON.parse(a!), comm: undefined });
    writeFileSync(bad, [a, 'not json', wrongType, missing, '[1]', b, ''].join('\n'));
    const r = replay([bad]);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe(`${a}\n${b}\n`);
    expect(r.stderr).toBe(
      `${bad}:2: not JSON\n${bad}:3: field 'rport' is string, not a number\n${bad}:4: no field 'comm'\n${bad}:5: not a JSON object\ntcplife: 4 line(s) of ${bad} skipped\n`,
    );
  });

  it('a wrong filter is a usage error before any line is read', async () => {
    // stdin stays open and empty: a replay that read it would wait.
    const proc = spawn(BIN, ['replay', '-', 'dprt == 1'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    proc.stderr.on('data', (d) => {
      stderr += d;
    });
    const code = await new Promise((r) => proc.once('close', r));
    proc.stdin.destroy();
    expect(code).toBe(2);
    expect(stderr).toContain("unknown field 'dprt'; did you mean 'dport'?");
  });

  it('a missing file: a clear message, exit 1', async () => {
    const r = await runCli(['replay', join(dir, 'nope.jsonl')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/tcplife: cannot read .*nope\.jsonl: no such file/);
  });

  it('a line past 1 MiB (here 300 MB of one byte, gzipped) is a bad line, not held', async () => {
    const good = text.split('\n')[0]!;
    const f = join(dir, 'long-line.jsonl.gz');
    const gz = createGzip({ level: 1 });
    const done = pipeline(gz, createWriteStream(f));
    gz.write(`${good}\n`);
    const mb = Buffer.alloc(1 << 20, 0x61);
    for (let i = 0; i < 300; i++) if (!gz.write(mb)) await once(gz, 'drain');
    gz.end(`\n${good}\n`);
    await done;
    const r = spawnSync('bash', ['-c', `/usr/bin/time -f '%M' ${BIN} replay ${f}`], {
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe(`${good}\n${good}\n`);
    const err = r.stderr.trim().split('\n');
    expect(err[0]).toBe(`${f}:2: longer than 1 MiB: not read`);
    expect(err).toContain(`tcplife: 1 line(s) of ${f} skipped`);
    expect(r.stderr).not.toMatch(/RangeError|at .*\.js:\d+/);
    expect(Number(err.at(-1))).toBeLessThan(150 * 1024);
  }, 120_000);

  it('streams: 200,000 lines in bounded memory', () => {
    const big = join(dir, 'big.jsonl');
    writeFileSync(big, text.repeat(200_000 / records.length));
    const r = spawnSync(
      'bash',
      ['-c', `/usr/bin/time -f '%M' ${BIN} replay ${big} 'tx_kb > 40' -o none`],
      { encoding: 'utf8', timeout: 120_000 },
    );
    expect(r.status).toBe(0);
    const peakKb = Number(r.stderr.trim().split('\n').at(-1));
    expect(peakKb).toBeLessThan(150 * 1024);
  }, 120_000);
});

describeAsRoot('replay as another user', () => {
  it('needs no privileges', () => {
    const r = spawnSync(...asUser('nobody', BIN, ['replay', '-', 'lport == 1000']), {
      input: text,
      encoding: 'utf8',
    });
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).lport).toBe(1000);
  });
});

function files(tree: Record<string, string>): string {
  const d = mkdtempSync(join(tmpdir(), 'tl-replay-rules-'));
  for (const [name, t] of Object.entries(tree)) writeFileSync(join(d, name), t);
  return d;
}
