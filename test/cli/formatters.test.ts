import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import fc from 'fast-check';
import { from, lastValueFrom, Subject, toArray } from 'rxjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { SESSION_KEYS, sessionOf } from '../../src/model/fields.js';
import { OUT_FIELDS, type Row } from '../../src/pipeline/fields.js';
import { createFormatter, type FormatOptions } from '../../src/pipeline/formatters.js';
import { bucketOf, bucketRange, formatHistogram, histogram } from '../../src/pipeline/histogram.js';
import {
  createSummaryFormatter,
  percentile,
  type SummaryRow,
  summarize,
} from '../../src/pipeline/summary.js';
import { FIXTURES } from '../fixtures/sessions.js';
import { runCli } from '../helpers/cli.js';

beforeAll(() => {
  process.env.TZ = 'UTC';
});

function render(o: FormatOptions, rows: Row[] = FIXTURES): string[] {
  const f = createFormatter(o);
  const h = f.header();
  return [...(h === undefined ? [] : [h]), ...rows.map((r) => f.row(r))];
}

describe('table: the original columns and widths', () => {
  it('default', () => {
    expect(render({ format: 'table' })).toEqual([
      'PID   COMM       LADDR           LPORT RADDR           RPORT TX_KB RX_KB MS',
      '1234  curl       10.0.0.5        51000 93.184.216.34   443      10   512 123.46',
      '4321  averylongn 2001:db8:aaaa:bbbb:cccc:dddd:eeee:1 22    fd00::2         60001     0     0 0.01',
      '7     a,"b       127.0.0.1       8080  127.0.0.2       40000     2     0 1000.00',
    ]);
  });

  it('wide (-w) fits IPv6 and shows the family; -T and -t add time columns', () => {
    expect(
      render(
        { format: 'table', wide: true, time: true, timestamp: true },
        FIXTURES.slice(0, 2).map((r, i) => ({ ...r, ts: i * 1.5 })),
      ),
    ).toEqual([
      'TIME     TIME(s)   PID   COMM             IP LADDR                      LPORT RADDR                      RPORT  TX_KB  RX_KB MS',
      '09:08:07 0.000000  1234  curl             4  10.0.0.5                   51000 93.184.216.34              443       10    512 123.46',
      '09:08:08 1.500000  4321  averylongname15  6  2001:db8:aaaa:bbbb:cccc:dddd:eeee:1 22    fd00::2                    60001      0      0 0.01',
    ]);
  });

  it('--fields picks and orders columns', () => {
    expect(
      render(
        { format: 'table', fields: ['comm', 'rport', 'tx_b', 'span_ms'] },
        FIXTURES.slice(0, 1),
      ),
    ).toEqual([
      'COMM             RPORT       TX_B        MS',
      'curl             443        10242    123.46',
    ]);
  });

  it('no sessions: only the header', () => {
    expect(render({ format: 'table' }, [])).toEqual([
      'PID   COMM       LADDR           LPORT RADDR           RPORT TX_KB RX_KB MS',
    ]);
    expect(render({ format: 'jsonl' }, [])).toEqual([]);
  });
});

describe('-x: how sessions ended and where they belong', () => {
  it('the table adds ROLE, OUTCOME, RETRANS, RTT_MS and a 12-character CONTAINER after the original columns', () => {
    expect(render({ format: 'table', extended: true }, FIXTURES.slice(0, 2))).toEqual([
      'PID   COMM       LADDR           LPORT RADDR           RPORT TX_KB RX_KB       MS ROLE   OUTCOME  RETRANS   RTT_MS CONTAINER',
      '1234  curl       10.0.0.5        51000 93.184.216.34   443      10   512   123.46 client closed         0     0.05',
      '4321  averylongn 2001:db8:aaaa:bbbb:cccc:dddd:eeee:1 22    fd00::2         60001     0     0     0.01 server reset          3    12.35 0123456789ab',
    ]);
  });

  it('CSV adds the same columns, with the whole container ID', () => {
    const rows = parse(render({ format: 'csv', classic: true, extended: true }).join('\n'), {
      columns: true,
    }) as Record<string, string>[];
    expect(rows[1]).toMatchObject({
      ROLE: 'server',
      OUTCOME: 'reset',
      RETRANS: '3',
      RTT_MS: '12.35',
      CONTAINER: FIXTURES[1]!.container,
    });
    expect(FIXTURES[1]!.container).toHaveLength(64);
  });
});

describe('control characters from the kernel never reach the terminal raw', () => {
  it('the table escapes them as \\xHH (and a backslash as \\\\); JSON and CSV keep the value', () => {
    const evil = { ...FIXTURES[0]!, comm: 'a\u001b[31mb\nc\\' };
    const [, row] = render({ format: 'table', fields: ['comm', 'rport'] }, [evil]);
    expect(row).toBe('a\\x1b[31mb\\x0ac\\\\ 443');
    expect(row).not.toMatch(/[\u0000-\u001f]/);
    const [line] = render({ format: 'jsonl', fields: ['comm'] }, [evil]);
    expect(JSON.parse(line!).comm).toBe(evil.comm);
    const csv = render({ format: 'csv', classic: true, fields: ['comm'] }, [evil]).join('\n');
    expect((parse(csv, { columns: true }) as Record<string, string>[])[0]!.COMM).toBe(evil.comm);
  });

  it('bidirectional controls too (a right-to-left override reorders the rest of the line)', () => {
    const evil = { ...FIXTURES[0]!, comm: 'ab\u202ecd\u2066e\u200f' };
    const [, row] = render({ format: 'table', fields: ['comm', 'rport'] }, [evil]);
    expect(row).toBe('ab\\u202ecd\\u2066e\\u200f 443');
    expect(row).not.toMatch(/[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/);
    const [line] = render({ format: 'jsonl', fields: ['comm'] }, [evil]);
    expect(JSON.parse(line!).comm).toBe(evil.comm);
  });

  it('tcplife rules prints a description, tag and name without their control characters', async () => {
    const d = mkdtempSync(join(tmpdir(), 'tl-desc-'));
    const f = join(d, 'evil.rules');
    writeFileSync(
      f,
      'rule r: lport == 1\n  tags (t)\n  desc "\\x1b]0;T\\x07 title \u202e and \\x1b[2J"\n',
    );
    const r = await runCli(['rules', f]);
    expect(r.code).toBe(0);
    expect(r.stdout).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u202e]/);
    expect(r.stdout).toContain('\\x1b]0;T\\x07 title');
  });
});

describe('data CSV (-o csv): JSON lines as a table', () => {
  it('an empty string is written "" (DuckDB reads an empty unquoted cell as NULL), a number never', () => {
    const row = { ...FIXTURES[0]!, container: '', cgroup: '' };
    const [, line] = render({ format: 'csv', fields: ['comm', 'container', 'cgroup', 'retrans'] }, [
      row,
    ]);
    expect(line).toBe(`${FIXTURES[0]!.comm},"","",${FIXTURES[0]!.retrans}`);
    const parsed = (
      parse(`comm,container,cgroup,retrans\n${line}`, { columns: true }) as Record<string, string>[]
    )[0]!;
    expect(parsed.container).toBe('');
  });

  it('headers are the JSON keys; cells are the JSON values, exact', () => {
    const text = render({ format: 'csv' }).join('\n');
    const rows = parse(text, { columns: true }) as Record<string, string>[];
    expect(Object.keys(rows[0]!)).toEqual([...SESSION_KEYS]);
    FIXTURES.forEach((f, i) => {
      for (const k of SESSION_KEYS) {
        const v = (f as unknown as Record<string, unknown>)[k];
        expect(rows[i]![k], k).toBe(String(v));
      }
    });
    expect(rows[0]).toMatchObject({
      time: '2026-11-25T09:08:07.654Z',
      tx_kb: String(10242 / 1024),
    });
  });
});

describe('CSV (RFC 4180)', () => {
  it('parses back to the values, quoting the comm with a comma and a quote', () => {
    const text = render({ format: 'csv', classic: true, time: true }).join('\n');
    const rows = parse(text, { columns: true }) as Record<string, string>[];
    expect(Object.keys(rows[0]!)).toEqual([
      'TIME',
      'PID',
      'COMM',
      'IP',
      'LADDR',
      'LPORT',
      'RADDR',
      'RPORT',
      'TX_KB',
      'RX_KB',
      'MS',
    ]);
    expect(rows.map((r) => r.COMM)).toEqual(['curl', 'averylongname15', 'a,"b']);
    expect(rows[1]).toMatchObject({
      IP: '6',
      LADDR: '2001:db8:aaaa:bbbb:cccc:dddd:eeee:1',
      RPORT: '60001',
      MS: '0.01',
    });
    expect(rows[0]).toMatchObject({ TIME: '09:08:07', TX_KB: '10', RX_KB: '512' });
    expect(text).toContain('"a,""b"');
  });
});

describe('JSON lines', () => {
  it('one object per session, keys are field names, numbers are numbers', () => {
    const lines = render({ format: 'jsonl' });
    expect(lines).toHaveLength(3);
    const objs = lines.map((l) => JSON.parse(l));
    expect(objs[0]).toEqual({
      time: '2026-11-25T09:08:07.654Z',
      pid: 1234,
      uid: 0,
      comm: 'curl',
      family: 4,
      laddr: '10.0.0.5',
      lport: 51000,
      raddr: '93.184.216.34',
      rport: 443,
      tx_b: 10242,
      rx_b: 524289,
      tx_kb: 10242 / 1024,
      rx_kb: 524289 / 1024,
      span_us: 123456,
      span_ms: 123.456,
      retrans: 0,
      owner: true,
      role: 'client',
      outcome: 'closed',
      rtt_us: 51,
      rtt_ms: 0.051,
      cgroup_id: 1,
      cgroup: '/',
      container: '',
      netns: 4026531840,
      event: 'close',
      sid: 8193,
      start_seen: true,
    });
    expect(objs[2].comm).toBe('a,"b');
    expect(objs[1].owner).toBe(false);
  });

  it('rules are added as an array', () => {
    const [line] = render({ format: 'jsonl', rules: true }, [
      { ...FIXTURES[0]!, rules: ['slow_web', 'tls'] },
    ]);
    expect(JSON.parse(line!).rules).toEqual(['slow_web', 'tls']);
    const [tagged] = render({ format: 'jsonl', rules: true }, [
      { ...FIXTURES[0]!, rules: ['slow_web'], tags: ['web', 'latency'] },
    ]);
    expect(JSON.parse(tagged!).tags).toEqual(['web', 'latency']);
  });
});

describe('interval summaries', () => {
  it('counts, totals and nearest-rank percentiles per group', async () => {
    const rows: Row[] = [];
    for (let i = 1; i <= 100; i++)
      rows.push({ ...FIXTURES[0]!, comm: 'a', tx_b: 10, rx_b: 1, span_us: i * 1000 });
    for (let i = 1; i <= 3; i++)
      rows.push({ ...FIXTURES[0]!, comm: 'b', tx_b: 2048, rx_b: 0, span_us: i * 10_000 });
    const out = await lastValueFrom(
      from(rows).pipe(summarize({ intervalMs: 60_000, groupBy: ['comm'] }), toArray()),
    );
    expect(out).toHaveLength(1);
    const byComm = Object.fromEntries(out[0]!.map((r) => [r.group.comm, r]));
    expect(byComm.a).toMatchObject({
      sessions: 100,
      tx_b: 1000,
      rx_b: 100,
      span_p50_ms: 50,
      span_p99_ms: 99,
    });
    expect(byComm.b).toMatchObject({ sessions: 3, tx_b: 6144, span_p50_ms: 20, span_p99_ms: 30 });
    const csv = createSummaryFormatter('csv', ['comm']);
    expect(csv.header()).toBe('TIME,COMM,SESSIONS,TX_KB,RX_KB,P50_MS,P99_MS,PARTIAL');
    expect(csv.row(byComm.b!)).toMatch(/^\d\d:\d\d:\d\d,b,3,6,0,20.00,30.00,yes$/);
    const j = JSON.parse(createSummaryFormatter('jsonl', ['comm']).row(byComm.a!));
    expect(j).toMatchObject({
      comm: 'a',
      sessions: 100,
      tx_b: 1000,
      span_p50_ms: 50,
      span_p99_ms: 99,
    });
  });

  it('a JSON line is the summary object as JSON.stringify writes it, key for key', () => {
    const value = fc.oneof(
      fc.string(),
      fc.integer(),
      fc.boolean(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
    );
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.constantFrom('comm', 'rport', 'outcome', 'container', 'pid'), {
          maxLength: 3,
        }),
        fc.array(value, { minLength: 3, maxLength: 3 }),
        fc.nat(),
        fc.nat(),
        fc.option(fc.double({ min: 0, max: 1e9, noNaN: true }), { nil: null }),
        fc.boolean(),
        (groupBy, vals, sessions, tx, p, partial) => {
          const group = Object.fromEntries(groupBy.map((n, i) => [n, vals[i]]));
          const r = {
            start_ms: 1_700_000_000_000,
            end_ms: 1_700_000_001_234,
            partial,
            group,
            sessions,
            tx_b: tx,
            rx_b: tx * 3,
            span_p50_ms: p,
            span_p99_ms: p === null ? null : p * 2,
          };
          const expected = JSON.stringify({
            time: new Date(r.end_ms).toISOString(),
            interval_s: Math.round(r.end_ms - r.start_ms) / 1000,
            ...group,
            sessions,
            tx_b: r.tx_b,
            rx_b: r.rx_b,
            tx_kb: r.tx_b / 1024,
            rx_kb: r.rx_b / 1024,
            span_p50_ms: r.span_p50_ms,
            span_p99_ms: r.span_p99_ms,
            partial,
          });
          expect(createSummaryFormatter('jsonl', groupBy).row(r)).toBe(expected);
        },
      ),
    );
  });

  it('groups by the new fields too: outcome and container', async () => {
    const out = await lastValueFrom(
      from(FIXTURES).pipe(
        summarize({ intervalMs: 60_000, groupBy: ['outcome', 'container'] }),
        toArray(),
      ),
    );
    expect(out[0]!.map((r) => [r.group.outcome, r.group.container, r.sessions]).sort()).toEqual([
      ['closed', '', 2],
      ['reset', FIXTURES[1]!.container, 1],
    ]);
  });

  it('with --group-by, an interval without sessions says so: one row of 0, its group fields empty, in every format', async () => {
    const quiet = new Subject<Row>();
    const got: SummaryRow[][] = [];
    const sub = quiet
      .pipe(summarize({ intervalMs: 50, groupBy: ['comm', 'rport'] }))
      .subscribe((rs) => got.push(rs));
    await new Promise((r) => setTimeout(r, 130));
    sub.unsubscribe();
    expect(got.length).toBeGreaterThanOrEqual(2);
    for (const rows of got) {
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ sessions: 0, group: {}, partial: false });
    }
    const row = got[0]![0]!;
    expect(createSummaryFormatter('table', ['comm', 'rport']).row(row)).toMatch(/ 0 +0 +0 +- +-$/);
    expect(JSON.parse(createSummaryFormatter('jsonl', ['comm', 'rport']).row(row))).toMatchObject({
      sessions: 0,
    });
    expect(createSummaryFormatter('csv', ['comm', 'rport']).row(row)).toMatch(/,,,0,0,0,-,-,no$/);
  });

  it('percentiles read from the kernel histogram are marked approximate in every format', () => {
    const row: SummaryRow = {
      start_ms: 0,
      end_ms: 5000,
      group: { comm: 'curl' },
      sessions: 3,
      tx_b: 0,
      rx_b: 0,
      span_p50_ms: 37748.74,
      span_p99_ms: 40000,
      partial: false,
      approx: true,
    };
    expect(createSummaryFormatter('table', ['comm']).row(row)).toMatch(/~37748\.74 +~40000\.00$/);
    expect(createSummaryFormatter('csv', ['comm']).row(row)).toMatch(/,~37748\.74,~40000\.00,no$/);
    expect(JSON.parse(createSummaryFormatter('jsonl', ['comm']).row(row))).toMatchObject({
      span_p50_ms: 37748.74,
      approx: true,
    });
    const exact = { ...row, approx: false };
    expect(createSummaryFormatter('table', ['comm']).row(exact)).not.toContain('~');
    expect(JSON.parse(createSummaryFormatter('jsonl', ['comm']).row(exact))).not.toHaveProperty(
      'approx',
    );
  });

  it('groups sorted busiest first; the last interval marked partial; an empty one shows - for percentiles', async () => {
    const rows: Row[] = [
      { ...FIXTURES[0]!, comm: 'rare' },
      ...Array.from({ length: 3 }, () => ({ ...FIXTURES[0]!, comm: 'busy' })),
    ];
    const [out] = await lastValueFrom(
      from(rows).pipe(summarize({ intervalMs: 60_000, groupBy: ['comm'] }), toArray()),
    );
    expect(out!.map((r) => [r.group.comm, r.sessions, r.partial])).toEqual([
      ['busy', 3, true],
      ['rare', 1, true],
    ]);
    expect(createSummaryFormatter('table', ['comm']).row(out![0]!)).toMatch(/ \(partial\)$/);
    const empty = {
      start_ms: 0,
      end_ms: 5000,
      group: {},
      sessions: 0,
      tx_b: 0,
      rx_b: 0,
      span_p50_ms: null,
      span_p99_ms: null,
      partial: false,
    };
    expect(createSummaryFormatter('table', []).row(empty)).toMatch(/ +0 +0 +0 +- +-$/);
    expect(JSON.parse(createSummaryFormatter('jsonl', []).row(empty))).toMatchObject({
      span_p50_ms: null,
      partial: false,
    });
  });

  it('percentile edge cases', () => {
    expect(percentile([], 50)).toBe(0);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([1, 2], 50)).toBe(1);
    expect(percentile([1, 2], 51)).toBe(2);
  });
});

describe('the generated JSON line', () => {
  // The oracle is JSON.stringify of the session itself: a Session has
  // exactly the keys of a JSON line, in the same order.
  const tricky = [
    ...FIXTURES,
    sessionOf({
      ...FIXTURES[0]!,
      time: Date.UTC(2026, 0, 2, 3, 4, 5, 6.75),
      comm: 'é"\\\n\u0001x',
      tx_b: 2 ** 40 + 3,
      rx_b: 0,
      span_us: 0,
    }),
  ];

  it('is byte for byte JSON.stringify of the session, whose keys are every session key', () => {
    const f = createFormatter({ format: 'jsonl' });
    for (const s of tricky) {
      expect(Object.keys(s)).toEqual(SESSION_KEYS);
      expect(f.row(s)).toBe(JSON.stringify(s));
    }
  });

  it('for any field list, parses back to the values the output fields give', () => {
    fc.assert(
      fc.property(
        fc.subarray([...SESSION_KEYS, 'ts', 'rules'], { minLength: 1 }),
        fc.constantFrom(...tricky),
        (fields, s) => {
          const row = { ...s, ts: 1.25, rules: ['a', 'b"c'] };
          const line = createFormatter({ format: 'jsonl', fields }).row(row);
          expect(JSON.parse(line)).toEqual(
            Object.fromEntries(fields.map((n) => [n, OUT_FIELDS[n]!.value(row)])),
          );
          expect(Object.keys(JSON.parse(line))).toEqual(fields);
        },
      ),
    );
  });
});

describe('--fields in every format', () => {
  it('picks and orders columns in CSV and JSON lines too', () => {
    const fields = ['rport', 'comm', 'span_ms', 'owner'];
    const csv = render({ format: 'csv', classic: true, fields }, FIXTURES.slice(2));
    expect(csv).toEqual(['RPORT,COMM,MS,OWNER', '40000,"a,""b",1000.00,yes']);
    const [line] = render({ format: 'jsonl', fields }, FIXTURES.slice(2));
    expect(Object.entries(JSON.parse(line!))).toEqual([
      ['rport', 40000],
      ['comm', 'a,"b'],
      ['span_ms', 1000],
      ['owner', true],
    ]);
  });
});

describe('--hist: log2 histograms', () => {
  it('buckets: 0 alone, then [2^(k-1), 2^k)', () => {
    expect([0, 1, 2, 3, 4, 1023, 1024].map(bucketOf)).toEqual([0, 1, 2, 2, 3, 10, 11]);
    expect(bucketRange(0)).toEqual([0, 1]);
    expect(bucketRange(11)).toEqual([1024, 2048]);
  });

  it('once at the end without an interval; bars scaled to the largest; JSON and CSV carry the counts', async () => {
    const rows: Row[] = [1, 1, 1, 1500, 1600, 70_000].map((tx_b) => ({ ...FIXTURES[0]!, tx_b }));
    const out = await lastValueFrom(from(rows).pipe(histogram('tx_b', {}), toArray()));
    expect(out).toHaveLength(1);
    expect(out[0]!.partial).toBe(false);
    const table = formatHistogram(out[0]!, 'table');
    expect(table[0]).toMatch(/^\d\d:\d\d:\d\d tx_b$/);
    expect(table[1]).toBe(`[1, 2)          3 |${'@'.repeat(52)}|`);
    expect(table[2]).toMatch(/^\[2, 4\) +0 \| +\|$/);
    expect(table.find((l) => l.startsWith('[1024, 2048)'))).toMatch(/ 2 \|@{35}/);
    expect(table.at(-1)).toMatch(/^\[65536, 131072\) 1 \|@{17} +\|$/);
    const json = JSON.parse(formatHistogram(out[0]!, 'jsonl')[0]!);
    expect(json.buckets[0]).toEqual({ lo: 1, hi: 2, count: 3 });
    expect(json.buckets.reduce((a: number, b: { count: number }) => a + b.count, 0)).toBe(6);
    expect(formatHistogram(out[0]!, 'csv')[0]).toMatch(/^[^,]+,tx_b,1,2,3$/);
  });
});
