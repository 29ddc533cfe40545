import { describe, expect, it } from 'vitest';
import { compileFilter, renderDiagnostics } from '../../src/dsl/index.js';

function errors(filter: string): string {
  const r = compileFilter(filter);
  expect(r.pred).toBeUndefined();
  return renderDiagnostics(r.diagnostics);
}

describe('diagnostics, rendered', () => {
  it('pcap-filter habits get one pointed error naming the tcplife filter', () => {
    const cases: [string, string][] = [
      ['dst port 443', 'rport == 443'],
      ['tcp port 443', 'port == 443'],
      ['src port 8080', 'lport == 8080'],
      ['src net 10.0.0.0/8', 'laddr in (10.0.0.0/8)'],
      ['dst host 10.0.0.1 and not port 22', 'raddr == 10.0.0.1 and not port == 22'],
      ['net 192.168.0.0/16 or dst port 53', 'addr in (192.168.0.0/16) or rport == 53'],
    ];
    for (const [pcap, ours] of cases) {
      const r = compileFilter(pcap);
      expect(r.pred, pcap).toBeUndefined();
      expect(r.diagnostics, pcap).toHaveLength(1);
      expect(r.diagnostics[0]!.message).toBe(
        `this is pcap-filter syntax; tcplife writes it: ${ours}`,
      );
      // What it names is a filter that compiles.
      expect(compileFilter(ours).diagnostics, ours).toEqual([]);
    }
    // A missing operator keeps its own hint.
    expect(errors('host 10.0.0.1')).toContain('did you mean: host == 10.0.0.1?');
  });

  it('of a long line, a window around the caret; of many errors, the first 50 and a count', () => {
    const ports = Array.from({ length: 3000 }, (_, i) => 70_000 + i);
    const out = errors(`lport in (${ports.join(',')})`);
    // 3,000 errors on one 18 KB line printed the line 3,000 times (243 MB).
    expect(out.length).toBeLessThan(20_000);
    expect(out).toContain('... and 2950 more diagnostic(s), not shown (the first 50 are)');
    for (const l of out.split('\n')) expect(l.length).toBeLessThan(160);
    // The 50th error's caret is under its own number, inside the window.
    const frame = out.split('\n\n')[49]!.split('\n');
    expect(frame[0]).toMatch(/^<filter>:1:\d+: error: 70049 is out of range/);
    const caret = frame[3]!.indexOf('^');
    expect(frame[2]!.slice(caret, caret + 5)).toBe('70049');
    expect(frame[2]).toMatch(/^1 \| …/);
  });

  it('unknown field with a suggestion and the field list', () => {
    expect(errors('dprt == 443')).toBe(
      [
        "<filter>:1:1: error: unknown field 'dprt'; did you mean 'dport'?",
        '  |',
        '1 | dprt == 443',
        '  | ^^^^',
        '  = hint: fields: pid, uid, comm, family, laddr, lport, raddr, rport, tx_b, rx_b, tx_kb, rx_kb, span_us, span_ms, span, retrans, owner, role, outcome, rtt_us, rtt_ms, cgroup_id, cgroup, container, netns, event, sid, start_seen, port, addr',
      ].join('\n'),
    );
  });

  it('reports every error, not only the first', () => {
    const out = errors('dprt == 1 and spn > 2s');
    expect(out).toContain("1:1: error: unknown field 'dprt'; did you mean 'dport'?");
    expect(out).toContain("1:15: error: unknown field 'spn'; did you mean 'span'?");
  });

  it('in source order, whichever pass found them (the README example)', () => {
    const out = errors('dprt == 443 and tx > 10kb');
    expect(out.indexOf("unknown field 'dprt'")).toBeLessThan(out.indexOf("unknown unit 'kb'"));
  });

  it('syntax error lists the expected tokens', () => {
    expect(errors('dport ==')).toBe(
      [
        '<filter>:1:9: error: expected a value, found end of input',
        '  |',
        '1 | dport ==',
        '  |         ^',
        '  = hint: expected one of: a number, a size or duration (10KiB, 250ms), a string, a /regex/, an IPv4 address or CIDR, an IPv6 address or CIDR, a bare word (role == server)',
      ].join('\n'),
    );
  });

  it('a missing parenthesis and trailing junk', () => {
    expect(errors('(dport == 1')).toContain("1:12: error: expected ')', found end of input");
    expect(errors('dport == 443 tx')).toContain(
      "1:14: error: unexpected 'tx' after a complete expression",
    );
  });

  it('points at the line and column of multi-line input', () => {
    expect(errors('dport == 443\n  and rport == 99999')).toBe(
      [
        '<filter>:2:16: error: 99999 is out of range: a port is 0-65535',
        '  |',
        '2 |   and rport == 99999',
        '  |                ^^^^^',
      ].join('\n'),
    );
  });

  const cases: [string, string][] = [
    ['dport == 70000', '1:10: error: 70000 is out of range: a port is 0-65535'],
    ['dport == 10.0.0.0/8', '1:10: error: a CIDR prefix cannot be compared with dport, a number'],
    ['pid == "x"', '1:8: error: a string cannot be compared with pid, a number'],
    ['span_ms > 10KiB', '1:11: error: span_ms is a duration; a size unit does not apply'],
    ['tx > 10ms', '1:6: error: tx is a size; a duration unit does not apply'],
    ['dport =~ /x/', "1:1: error: '=~' matches strings; dport is a number"],
    ['comm =~ "x"', "1:9: error: '=~' takes a /regex/, not a string"],
    ['comm == /x/', "1:9: error: a regex matches with '=~', not '=='"],
    ['raddr in (10.0.0.0/33)', '1:20: error: prefix length 33 is more than 32 for IPv4'],
    ['raddr == fd00::/129', '1:17: error: prefix length 129 is more than 128 for IPv6'],
    ['raddr == 10.1.0.0/8', '1:10: error: host bits are set after the prefix'],
    ['raddr > 10.0.0.1', "1:1: error: addresses compare with == and != (or in), not '>'"],
    ['raddr == 300.1.1.1', "1:10: error: invalid IPv4 address '300.1.1.1'"],
    ['raddr == 1:2:3::4::5', "1:10: error: invalid IPv6 address '1:2:3::4::5'"],
    ['span > 5', '1:8: error: span needs a unit'],
    ['family == 5', '1:11: error: family is 4 or 6, not 5'],
    ['lport == 1.5', '1:10: error: lport is a whole number; 1.5 has a fraction'],
    [
      'comm == "abcdefghijklmnopq"',
      '1:9: error: comm holds at most 15 bytes; this string (17) could never match',
    ],
    ['comm < "a"', "1:1: error: strings compare with ==, !=, ~ (glob) and =~ (regex), not '<'"],
    ['comm == "a\\qb"', "1:11: error: unknown escape '\\q' in string"],
    ['comm == "a\\0b"', '1:9: error: comm cannot contain a NUL byte'],
    ['comm == "abc', '1:9: error: unterminated string'],
    ['tx > 10kb', "1:8: error: unknown unit 'kb'; did you mean 'KB'?"],
    ['comm =~ /(/', '1:9: error: invalid regular expression'],
    ['lport in (90..80)', '1:11: error: empty range: 90 is above 80'],
    ['dport', "1:1: error: field 'dport' needs a comparison"],
    ['foo', "1:1: error: unknown name 'foo'"],
    ['lport in web_ports', "1:10: error: unknown list 'web_ports'"],
    ['dport == 443 $', "1:14: error: unexpected character '$'"],
    ['', '1:1: error: empty filter'],
    ['lport in ()', "1:11: error: expected a value, found ')'"],
    ['dport = 443', "1:7: error: '=' does not compare; use '=='"],
    ['dport 443', "1:7: error: a comparison needs an operator between 'dport' and '443'"],
    [
      'outcome == refsued',
      "1:12: error: 'refsued' is not a value of outcome; did you mean 'refused'?",
    ],
    [
      'outcome in (refused, timout)',
      "1:22: error: 'timout' is not a value of outcome; did you mean 'timeout'?",
    ],
    ['role in clinet', "1:9: error: 'clinet' is not a value of role; did you mean 'client'?"],
    [
      'role > client',
      "1:1: error: role is one of client, server: it compares with == and != (or in), not '>'",
    ],
    [
      'outcome == 3',
      '1:12: error: outcome is one of closed, aborted, reset, refused, timeout, error, abandoned; a number is not',
    ],
    [
      'dport == https',
      "1:10: error: the bare word 'https' cannot be compared with dport, a number",
    ],
    [
      'comm == nginx',
      "1:9: error: comm is a string; the bare word 'nginx' cannot be compared with it",
    ],
  ];
  for (const [filter, expected] of cases) {
    it(`${JSON.stringify(filter)} → ${expected}`, () => {
      expect(errors(filter)).toContain(`<filter>:${expected}`);
    });
  }

  it('an enum value may be bare or quoted, alone or in a list, also in a rule-file list', () => {
    for (const f of [
      'outcome == refused',
      'outcome == "refused"',
      'outcome in (refused, "timeout")',
      'outcome in refused',
      'not role != server',
    ]) {
      const r = compileFilter(f);
      expect(r.diagnostics, f).toEqual([]);
    }
    expect(compileFilter('outcome in (refused, "timeout")').pred).toEqual({
      k: 'str',
      key: 'outcome',
      values: ['refused', 'timeout'],
    });
    expect(renderDiagnostics(compileFilter('comm == nginx').diagnostics)).toContain(
      'hint: quote it: "nginx"',
    );
  });

  it('control characters in a message or a source line never reach the terminal raw', () => {
    const value = errors('outcome == "\\x1b[31mred"');
    expect(value).toContain("'\\x1b[31mred' is not a value of outcome");
    const bell = errors('lport == 1 \u0007');
    expect(bell).toContain("unexpected character '\\x07'");
    for (const out of [value, bell])
      expect(out).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
  });

  it('a caret under a tab-indented token lines up', () => {
    const out = errors('\tdport == 70000');
    expect(out).toContain('1 |  dport == 70000\n  |           ^^^^^');
  });
});
