import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderDiagnostics } from '../../src/dsl/diagnostic.js';
import { compileFilter } from '../../src/dsl/index.js';
import { loadRuleSet } from '../../src/rules/load.js';
import { FIXTURES } from '../fixtures/sessions.js';
import { BIN, runCli } from '../helpers/cli.js';

function files(tree: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'tl-rules-'));
  for (const [name, text] of Object.entries(tree)) {
    const p = join(dir, name);
    mkdirSync(join(p, '..'), { recursive: true });
    writeFileSync(p, text);
  }
  return dir;
}

function errorsOf(tree: Record<string, string>, root = 'main.rules'): string {
  const dir = files(tree);
  const set = loadRuleSet([join(dir, root)]);
  // Paths are shown relative to the working directory; make them stable.
  return renderDiagnostics(set.diagnostics)
    .split(dir)
    .join('<dir>')
    .replace(/(\.\.\/)+tmp\/tl-rules-\w+/g, '<dir>');
}

describe('rule files: diagnostics', () => {
  it('a duplicate name names both places', () => {
    const out = errorsOf({
      'main.rules': 'list a = (1)\nmacro b = lport == 1\nrule a: rport == 2\n',
    });
    expect(out).toMatch(
      /main\.rules:3:6: error: 'a' is already defined as a list\n {2}\|\n3 \| rule a: rport == 2\n {2}\| {6}\^/,
    );
    expect(out).toMatch(
      /main\.rules:1:6: note: first defined here\n {2}\|\n1 \| list a = \(1\)\n {2}\| {6}\^/,
    );
  });

  it('unknown names, with a suggestion', () => {
    const out = errorsOf({
      'main.rules': 'macro web = lport == 80\nrule r: wbe and lport in ports\n',
    });
    expect(out).toContain("main.rules:2:9: error: unknown name 'wbe'; did you mean 'web'?");
    expect(out).toContain("main.rules:2:26: error: unknown list 'ports'");
  });

  it('an include cycle names both include statements', () => {
    const out = errorsOf({
      'main.rules': 'include "sub/b.rules"\n',
      'sub/b.rules': '\ninclude "../main.rules"\n',
    });
    expect(out).toMatch(
      /b\.rules:2:1: error: include cycle: .*main\.rules includes .*b\.rules includes .*main\.rules/,
    );
    expect(out).toMatch(/main\.rules:1:1: note: .*main\.rules includes the next file here/);
  });

  it('recursive macros', () => {
    const out = errorsOf({
      'main.rules': 'macro a = b or lport == 1\nmacro b = rport == 2 and a\n',
    });
    expect(out).toContain("main.rules:2:26: error: 'a' refers to itself: a → b → a");
    expect(out).toContain("main.rules:1:7: note: 'a' is defined here");
  });

  it('type errors inside rules, and lists typed where they are used', () => {
    const out = errorsOf({
      'main.rules':
        'list ports = (80, 70000)\nrule r: span_ms > 10KiB\nrule s: raddr in ports\nrule t: uid in ports\nrule u: lport in ports\n',
    });
    expect(out).toContain(
      'main.rules:2:19: error: span_ms is a duration; a size unit does not apply',
    );
    expect(out).toContain(
      "main.rules:3:18: error: list 'ports' does not fit raddr: raddr is an address; a number cannot be compared with it",
    );
    expect(out).toContain('main.rules:1:15: note: this item');
    // 70000 is a fine uid; as a port it is out of range, reported where the list is used as one.
    expect(out).not.toMatch(/main\.rules:4:/);
    expect(out).toContain(
      "main.rules:5:18: error: list 'ports' does not fit lport: 70000 is out of range: a port is 0-65535",
    );
    expect(out).toContain('main.rules:1:19: note: this item');
  });

  it('a list is not typed by its first item: (70000) serves uid', () => {
    const dir = files({ 'main.rules': 'list big = (70000)\nrule r: uid in big\n' });
    const set = loadRuleSet([join(dir, 'main.rules')]);
    expect(set.diagnostics).toEqual([]);
    expect(set.tag({ uid: 70000 } as never)).toEqual(['r']);
    expect(set.tag({ uid: 7 } as never)).toEqual([]);
  });

  it('a sample leaves unset fields at their zero: enums and resolved strings empty', () => {
    const dir = files({
      'main.rules':
        'rule plain: outcome != closed and container == "" and cgroup == ""\nsample {rport: 1} matches plain\nsample {outcome: closed} rejects plain\n',
    });
    const set = loadRuleSet([join(dir, 'main.rules')]);
    expect(renderDiagnostics(set.diagnostics)).toBe('');
    expect(set.counts.samplesPassed).toBe(2);
  });

  it('a list mixing kinds of values is an error at the item', () => {
    const out = errorsOf({ 'main.rules': 'list m = (80, "x")\n' });
    expect(out).toContain(
      "main.rules:1:15: error: in list 'm': this item is one of strings, the list's first is one of numbers",
    );
  });

  it('a syntax error in a rule file', () => {
    const out = errorsOf({ 'main.rules': 'rule r lport == 1\n' });
    expect(out).toContain("main.rules:1:8: error: expected ':', found 'lport'");
  });

  it('a sample that contradicts its rule points at both', () => {
    const out = errorsOf({
      'main.rules':
        'rule slow: span_ms > 1000\nsample {span: 500ms} matches slow\nsample {ms: 2000} rejects slow\n',
    });
    expect(out).toContain(
      "main.rules:2:30: error: this sample does not match 'slow', but is declared to match it",
    );
    expect(out).toContain(
      "main.rules:3:27: error: this sample matches 'slow', but is declared to reject it",
    );
    expect(out).toContain("main.rules:1:6: note: 'slow' is defined here");
  });

  it('a file that cannot be read', () => {
    const set = loadRuleSet(['/nonexistent/x.rules']);
    expect(set.diagnostics[0]?.message).toBe(
      'cannot read rule file /nonexistent/x.rules: no such file',
    );
  });
});

describe('rule files: meaning', () => {
  const dir = files({
    'main.rules':
      'include "lib/common.rules"\nrule web_slow: lport in web and span_ms > 100\n  tags (web)\n  desc "slow"\nrule curl: comm == "curl"\n',
    'lib/common.rules': 'list web = (443, 8080)\nmacro tls = rport == 443 or lport == 443\n',
  });
  const set = loadRuleSet([join(dir, 'main.rules')]);

  it('includes resolve relative to the including file, across directories', () => {
    expect(set.diagnostics).toEqual([]);
    expect(set.rules.map((r) => r.name)).toEqual(['web_slow', 'curl']);
    expect(set.rules[0]).toMatchObject({ tags: ['web'], desc: 'slow' });
  });

  it('the filter argument uses lists, macros and rules by name', () => {
    const r = compileFilter('tls and rport in web and not web_slow', { env: set.env });
    expect(r.diagnostics).toEqual([]);
  });

  it('tags a session with every rule it matches', () => {
    const [curl, other] = FIXTURES;
    expect(set.tag(curl!)).toEqual(['curl']);
    expect(set.tag({ ...curl!, lport: 443, span_us: 100_001 })).toEqual(['web_slow', 'curl']);
    expect(set.tag(other!)).toEqual([]);
  });

  it('--rule keeps only the named rules; an unknown one is an error', () => {
    const only = loadRuleSet([join(dir, 'main.rules')], ['curl']);
    expect(only.selected.map((r) => r.name)).toEqual(['curl']);
    const bad = loadRuleSet([join(dir, 'main.rules')], ['nope']);
    expect(bad.diagnostics[0]?.message).toMatch(/no rule named 'nope'/);
  });
});

describe('tcplife check', () => {
  it('passes on the example files under rules/', async () => {
    const r = await runCli(['check', 'rules/common.rules', 'rules/web.rules', 'rules/ssh.rules']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      'rules/web.rules: ok (3 rules, 2 macros, 2 lists; 6/6 samples pass)',
    );
  });

  it('prints file:line:column with the caret and exits 2', async () => {
    const dir = files({ 'bad.rules': 'rule r: dprt == 1\n' });
    const r = await runCli(['check', join(dir, 'bad.rules')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /bad\.rules:1:9: error: unknown field 'dprt'; did you mean 'dport'\?\n {2}\|\n1 \| rule r: dprt == 1\n {2}\| {9}\^\^\^\^/,
    );
  });
});

describe('finding and listing rules, selecting by tag', () => {
  it('--rules web finds the shipped file from anywhere; TCPLIFE_RULES_PATH comes first', async () => {
    const elsewhere = mkdtempSync(join(tmpdir(), 'tl-cwd-'));
    const shipped = spawnSync(BIN, ['--explain', '--rules', 'web', '--tag', 'latency'], {
      cwd: elsewhere,
      encoding: 'utf8',
    });
    expect(shipped.status).toBe(0);
    expect(shipped.stdout).toContain('rules:      slow_web\n');
    const mine = files({ 'web.rules': 'rule mine: lport == 7\n  tags (latency)\n' });
    const overridden = spawnSync(BIN, ['--explain', '--rules', 'web', '--tag', 'latency'], {
      cwd: elsewhere,
      encoding: 'utf8',
      env: { ...process.env, TCPLIFE_RULES_PATH: mine },
    });
    expect(overridden.stdout).toContain('rules:      mine\n');
  });

  it('tcplife rules lists every file on the search path with its rules, tags and descriptions', async () => {
    const r = await runCli(['rules']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /\/rules\/web\.rules\n {2}slow_web +\[web, latency\] +Server-side web/,
    );
    expect(r.stdout).toMatch(/\/rules\/failures\.rules\n/);
  });

  it('tcplife check with no files checks what tcplife rules lists, TCPLIFE_RULES_PATH first', async () => {
    const mine = files({ 'mine.rules': 'rule mine: lport == 7\nsample {lport: 7} matches mine\n' });
    const env = { ...(process.env as Record<string, string>), TCPLIFE_RULES_PATH: mine };
    const r = await runCli(['check'], { env });
    expect(r.code).toBe(0);
    const checked = r.stdout.trim().split('\n');
    expect(checked[0]).toBe(
      `${join(mine, 'mine.rules')}: ok (1 rules, 0 macros, 0 lists; 1/1 samples pass)`,
    );
    for (const shipped of ['common', 'failures', 'ssh', 'web'])
      expect(
        checked.some((l) => l.includes(`/rules/${shipped}.rules: ok`)),
        shipped,
      ).toBe(true);
    // A broken file on the path fails the check (exit 2), as when named.
    const bad = files({ 'bad.rules': 'rule r: dprt == 1\n' });
    const failed = await runCli(['check'], { env: { ...env, TCPLIFE_RULES_PATH: bad } });
    expect(failed.code).toBe(2);
    expect(failed.stderr).toContain("unknown field 'dprt'");
  });

  it('--tag selects the rules carrying it; an unknown tag is an error with a suggestion', () => {
    const set = loadRuleSet(['web'], [], ['volume']);
    expect(set.selected.map((r) => r.name)).toEqual(['big_download']);
    // Tags of the selected rules a session matched (slow_web is not selected).
    expect(set.tagsOf(['slow_web', 'big_download'])).toEqual(['web', 'volume']);
    const bad = loadRuleSet(['web'], [], ['latncy']);
    expect(bad.diagnostics[0]?.message).toBe("no rule is tagged 'latncy'; did you mean 'latency'?");
  });
});
