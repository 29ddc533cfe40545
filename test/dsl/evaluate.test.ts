import { describe, expect, it } from 'vitest';
import { compileFilter, compilePredicate, evaluate, where } from '../../src/dsl/index.js';

const base = {
  pid: 1234,
  uid: 1000,
  comm: 'curl',
  family: 4,
  laddr: '10.0.0.5',
  lport: 51000,
  raddr: '93.184.216.34',
  rport: 443,
  tx_b: 10_241,
  rx_b: 5_000,
  span_us: 100_001,
};

function accepts(filter: string, overrides: Record<string, unknown> = {}): boolean {
  const r = compileFilter(filter);
  expect(r.diagnostics).toEqual([]);
  const s = { ...base, ...overrides };
  const ref = evaluate(r.pred!, s);
  // The fast closure must agree with the reference on every example.
  expect(compilePredicate(r.pred!)(s)).toBe(ref);
  return ref;
}

describe('reference evaluator', () => {
  it('the README examples', () => {
    expect(accepts('dport == 443 && tx_kb > 10')).toBe(true);
    expect(accepts('lport in (80, 81) and span_ms > 100')).toBe(false);
    expect(accepts('lport in (80, 81) and span_ms > 100', { lport: 81 })).toBe(true);
    expect(
      accepts('raddr in (10.0.0.0/8, fd00::/8) and not comm == "sshd"', { raddr: 'fd00::1' }),
    ).toBe(true);
    expect(
      accepts('raddr in (10.0.0.0/8, fd00::/8) and not comm == "sshd"', {
        raddr: '10.9.9.9',
        comm: 'sshd',
      }),
    ).toBe(false);
    expect(accepts('rport in 8000..8999 or (tx > 1.5MiB and span > 2s)', { rport: 8999 })).toBe(
      true,
    );
    expect(
      accepts('rport in 8000..8999 or (tx > 1.5MiB and span > 2s)', {
        tx_b: 1572865,
        span_us: 2_000_001,
      }),
    ).toBe(true);
    expect(
      accepts('rport in 8000..8999 or (tx > 1.5MiB and span > 2s)', {
        tx_b: 1572864,
        span_us: 2_000_001,
      }),
    ).toBe(false);
  });

  it('true-or-false fields: == and != with true or false, alone as a condition, in a list', () => {
    expect(accepts('start_seen == false', { start_seen: false })).toBe(true);
    expect(accepts('start_seen == false', { start_seen: true })).toBe(false);
    expect(accepts('start_seen != true', { start_seen: false })).toBe(true);
    expect(accepts('start_seen', { start_seen: true })).toBe(true);
    expect(accepts('not start_seen', { start_seen: true })).toBe(false);
    expect(
      accepts('not start_seen and event == close', { start_seen: false, event: 'close' }),
    ).toBe(true);
    expect(accepts('owner in (false)', { owner: false })).toBe(true);
    expect(accepts('event in (interim, exit)', { event: 'close' })).toBe(false);
    expect(compileFilter(where((f) => f.start_seen.eq(false))).pred).toEqual(
      compileFilter('start_seen == false').pred,
    );
    for (const bad of [
      'start_seen > 0',
      'start_seen == 1',
      'start_seen == yes',
      'start_seen in (true..false)',
    ])
      expect(compileFilter(bad).diagnostics.length, bad).toBeGreaterThan(0);
  });

  it('derived fields compare exactly, never truncated', () => {
    expect(accepts('tx_kb > 10', { tx_b: 10_240 })).toBe(false);
    expect(accepts('tx_kb > 10', { tx_b: 10_241 })).toBe(true);
    expect(accepts('tx_kb == 10', { tx_b: 10_241 })).toBe(false);
    expect(accepts('span_ms > 100', { span_us: 100_000 })).toBe(false);
    expect(accepts('span_ms > 100', { span_us: 100_001 })).toBe(true);
    expect(accepts('ms >= 0.5', { span_us: 500 })).toBe(true);
    expect(accepts('tx_kb > 1.5', { tx_b: 1536 })).toBe(false);
    expect(accepts('tx_kb > 1.5', { tx_b: 1537 })).toBe(true);
    expect(accepts('tx > 10KB', { tx_b: 10_241 })).toBe(true);
  });

  it('units', () => {
    expect(accepts('span < 250us', { span_us: 249 })).toBe(true);
    expect(accepts('span >= 2m', { span_us: 120_000_000 })).toBe(true);
    expect(accepts('rx_b == 0x1388')).toBe(true);
    expect(accepts('rx < 1GiB and tx_b < 2GB')).toBe(true);
  });

  it('IPv4-mapped IPv6 addresses are in IPv4 networks', () => {
    expect(accepts('raddr in (10.0.0.0/8)', { family: 6, raddr: '::ffff:10.1.2.3' })).toBe(true);
    expect(accepts('raddr == 10.1.2.3', { family: 6, raddr: '::ffff:10.1.2.3' })).toBe(true);
    expect(accepts('raddr == ::ffff:10.1.2.3', { raddr: '10.1.2.3' })).toBe(false);
    expect(accepts('raddr in (fd00::/8)', { raddr: '10.1.2.3' })).toBe(false);
  });

  it('strings: equality, glob, regex', () => {
    expect(accepts('comm ~ "cu*"')).toBe(true);
    expect(accepts('comm ~ "c?rl"')).toBe(true);
    expect(accepts('comm ~ "c\\\\*rl"', { comm: 'c*rl' })).toBe(true);
    expect(accepts('comm ~ "c\\\\*rl"')).toBe(false);
    expect(accepts('comm =~ /^cu/')).toBe(true);
    expect(accepts('comm =~ /^CU/i')).toBe(true);
    expect(accepts('comm in ("wget", "curl")')).toBe(true);
    expect(accepts('comm not in ("wget", "curl")')).toBe(false);
    expect(accepts('comm == "a,\\"b"', { comm: 'a,"b' })).toBe(true);
  });

  it('precedence: not > and > or', () => {
    // (false and false) or true
    expect(accepts('dport == 1 and dport == 2 or dport == 443')).toBe(true);
    // false or (true and false)
    expect(accepts('dport == 1 or dport == 443 and pid == 1')).toBe(false);
    // (not false) and true
    expect(accepts('not dport == 1 and pid == 1234')).toBe(true);
    expect(accepts('! (dport == 443 || pid == 1)')).toBe(false);
  });
});

describe('either-side fields, as pcap-filter', () => {
  const s = { lport: 443, rport: 51000, laddr: '10.1.2.3', raddr: '192.168.1.9' };
  const holds = (f: string) => {
    const r = compileFilter(f);
    expect(r.diagnostics, f).toEqual([]);
    return evaluate(r.pred!, s);
  };
  it('port and addr (alias host) hold when either side does', () => {
    expect(holds('port == 443')).toBe(true);
    expect(holds('port == 51000')).toBe(true);
    expect(holds('port == 22')).toBe(false);
    expect(holds('port in (22, 443)')).toBe(true);
    expect(holds('addr in (192.168.0.0/16)')).toBe(true);
    expect(holds('host == 10.1.2.3')).toBe(true);
  });
  it('a negative test holds when neither side does: != and not mean the same', () => {
    expect(holds('port != 443')).toBe(false);
    expect(holds('not port == 443')).toBe(false);
    expect(holds('port != 22')).toBe(true);
    expect(holds('port not in (443)')).toBe(false);
    expect(holds('addr != 10.1.2.3')).toBe(false);
    expect(holds('port > 50000')).toBe(true);
  });
  it('the builder has them too', () => {
    expect(compileFilter(where((f) => f.port.eq(443))).pred).toEqual(
      compileFilter('port == 443').pred,
    );
  });
});
