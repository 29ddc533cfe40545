/**
 * What root reads on a user's word (the second hardening round's privilege
 * items 2 and 3). A rule file decides which sessions root is shown: a bare
 * name is never looked for in the current directory, and root refuses a
 * rule file or include that another user could have written. A file a user
 * names is read with that user's own access, not with the capabilities
 * tcplife holds (CAP_DAC_READ_SEARCH reads any file).
 */
import { chmodSync, chownSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { describeAsRoot } from '../helpers/kernel.js';

const NOBODY = 65534;
const EVIL = 'rule evil: lport == 1\n';
const base = mkdtempSync(join(tmpdir(), 'tl-trust-'));
chmodSync(base, 0o755);

/** A directory with these files, its mode and every file's owner chosen. */
function dir(name: string, mode: number, files: Record<string, string>, owner = 0): string {
  const d = join(base, name);
  mkdirSync(d);
  chmodSync(d, mode);
  for (const [f, text] of Object.entries(files)) {
    writeFileSync(join(d, f), text, { mode: 0o644 });
    chownSync(join(d, f), owner, owner);
  }
  return d;
}

const noStack = (stderr: string) => expect(stderr).not.toMatch(/internal error|at .*\.js:\d+/);

describeAsRoot('rule files root will not read', () => {
  it('a bare name is never found in the current directory, even one another user filled', async () => {
    // As root in a shared directory (sticky, like /tmp) where nobody left `web` and `web.rules`.
    const shared = dir('shared', 0o1777, { web: EVIL, 'web.rules': EVIL }, NOBODY);
    const r = await runCli(['--explain', '--rules', 'web'], { cwd: shared });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('rules:      slow_web, big_download, external_web\n');
    expect(r.stdout).not.toContain('evil');
  });

  it('a name not on the search path says where it looked and how to give a path', async () => {
    const r = await runCli(['--explain', '--rules', 'nosuch']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no rule file 'nosuch' on the search path \(.*\/rules\)/);
    expect(r.stderr).toContain("a path to a file needs a '/' or the .rules suffix");
  });

  const refused: [string, () => string[], RegExp][] = [
    [
      'a file another user owns, given as a path',
      () => ['--rules', join(dir('owned', 0o755, { 'x.rules': EVIL }, NOBODY), 'x.rules')],
      /owned by uid 65534, not root/,
    ],
    [
      'a file its group can write',
      () => {
        const d = dir('group', 0o755, { 'x.rules': EVIL });
        chmodSync(join(d, 'x.rules'), 0o664);
        return ['--rules', join(d, 'x.rules')];
      },
      /writable by its group \(mode 0664/,
    ],
    [
      'a root-owned file in a directory others can write, through TCPLIFE_RULES_PATH',
      () => ['--rules', 'web', `TCPLIFE_RULES_PATH=${dir('open', 0o777, { 'web.rules': EVIL })}`],
      /which others can write \(mode 0777, no sticky bit\)/,
    ],
    [
      'an include another user owns',
      () => {
        const theirs = dir('theirs', 0o755, { 'inc.rules': EVIL }, NOBODY);
        const mine = dir('mine', 0o755, {
          'top.rules': `include "${join(theirs, 'inc.rules')}"\nrule ok: lport == 2\n`,
        });
        return ['--rules', join(mine, 'top.rules')];
      },
      /cannot read included file .*inc\.rules: owned by uid 65534/,
    ],
  ];
  for (const [what, args, message] of refused) {
    it(`refuses ${what} (exit 2, saying why)`, async () => {
      const argv = args();
      const env = argv.filter((a) => a.includes('='));
      const r = await runCli(['--explain', ...argv.filter((a) => !a.includes('='))], {
        env: {
          ...(process.env as Record<string, string>),
          ...Object.fromEntries(env.map((e) => e.split('=') as [string, string])),
        },
      });
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stdout).not.toContain('evil');
      noStack(r.stderr);
    });
  }

  it('a sticky shared directory is no reason to refuse a root-owned file in it', async () => {
    const d = dir('sticky', 0o1777, { 'ok.rules': 'rule fine: lport == 3\n' });
    const r = await runCli(['--explain', '--rules', join(d, 'ok.rules')]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('rules:      fine\n');
  });
});

describeAsRoot('files a user names are read with that user’s access', () => {
  // What a deployment grants (docs/operating.md: running without root).
  const asNobody = { asUser: 'nobody', caps: 'bpf,perfmon,dac_read_search' };
  const hidden = dir('hidden', 0o700, { 'f.rules': 'rule secret: lport == 4\n' });

  const cases: [string, string[]][] = [
    ['a filter file (-F)', ['--explain', '-F', '/etc/shadow']],
    ['a rule file (check)', ['check', '/etc/shadow']],
    ['a rule file (--rules)', ['--explain', '--rules', '/etc/shadow']],
    ['a recording (replay)', ['replay', '/etc/shadow']],
    ['a readable file in a directory the user cannot enter', ['check', join(hidden, 'f.rules')]],
  ];
  for (const [what, args] of cases) {
    it(`${what}: permission denied, nothing of it echoed`, async () => {
      const r = await runCli(args, asNobody);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain('permission denied');
      expect(r.stderr + r.stdout).not.toMatch(/root:|secret/);
      noStack(r.stderr);
    });
  }

  it('a file the user may read is read as before', async () => {
    const open = dir('readable', 0o755, { 'f.rules': 'rule mine: lport == 5\n' }, NOBODY);
    const r = await runCli(['check', join(open, 'f.rules')], asNobody);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
});
