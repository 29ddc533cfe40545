/**
 * Installing from a git URL, as `npm install git+URL` does: npm clones the
 * repository, installs its dependencies, runs its `prepare` (the build, the
 * shipped object, the man page) and packs it. Before `prepare` built, such an
 * install exited 0 with no dist/: the CLI and the library failed to load.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/util/paths.js';
import { describeKernel } from '../helpers/kernel.js';

describeKernel('installed from a git URL', () => {
  it('npm install git+file://<clean clone>: the CLI and the library work from the project', () => {
    const work = mkdtempSync(join(tmpdir(), 'tl-git-'));
    const repo = join(work, 'repo');
    execFileSync('git', ['clone', '-q', PACKAGE_ROOT, repo]);
    const project = join(work, 'project');
    mkdirSync(project);
    writeFileSync(
      join(project, 'package.json'),
      '{"name":"consumer","version":"1.0.0","type":"module","private":true}\n',
    );
    execFileSync(
      'npm',
      ['install', '--prefer-offline', '--no-audit', '--no-fund', `git+file://${repo}`],
      { cwd: project, stdio: 'ignore' },
    );
    const pkg = join(project, 'node_modules/tcplife');
    for (const f of [
      'dist/bundle/tcplife.mjs',
      'dist/index.js',
      'prebuilt/tcplife.bpf.o',
      'man/tcplife.8',
    ])
      expect(existsSync(join(pkg, f)), f).toBe(true);
    const v = spawnSync(join(project, 'node_modules/.bin/tcplife'), ['-V'], { encoding: 'utf8' });
    expect(v.stdout).toMatch(/^tcplife \d+\.\d+\.\d+ \(TypeScript/);
    const explain = spawnSync(
      join(project, 'node_modules/.bin/tcplife'),
      ['--explain', '--rules', 'web', 'dport == 443'],
      { encoding: 'utf8', cwd: project },
    );
    expect(explain.status, explain.stderr).toBe(0);
    const lib = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "const m = await import('tcplife'); console.log(typeof m.sessions, typeof m.where);",
      ],
      { encoding: 'utf8', cwd: project },
    );
    expect(lib.stdout.trim(), lib.stderr).toBe('function function');
  }, 180_000);
});
