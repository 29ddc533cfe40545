/**
 * The package as a user gets it: a clean clone is packed (the build, the
 * shipped object and the man page happen at pack time), the tarball is
 * installed into a temporary global prefix, and the installed command runs
 * from outside the repository — also with clang hidden from PATH.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/util/paths.js';
import { describeKernel } from '../helpers/kernel.js';
import { runClient, sleep, startServer } from '../helpers/tcpgen.js';

const work = mkdtempSync(join(tmpdir(), 'tl-pack-'));
const prefix = join(work, 'global');
const installed = join(prefix, 'bin/tcplife');
/** A PATH with node but no clang. */
const noClang = join(work, 'no-clang');
/** The packed tarball (set once packed). */
let tarball = '';

function run(args: string[], env: Record<string, string> = {}) {
  return spawnSync(installed, args, {
    cwd: work,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, ...env },
  });
}

/** Runs the installed tcplife until it prints one session of the named client. */
async function traceOne(args: string[], client: string, env: Record<string, string> = {}) {
  return trace(['--exit-after', '1', ...args], client, env);
}

/** Runs the installed tcplife with -v -j and these arguments while a client makes sessions, until it exits. */
async function trace(args: string[], client: string, env: Record<string, string> = {}) {
  const proc = spawn(installed, ['--verbose', '-j', ...args], {
    cwd: work,
    env: { ...process.env, ...env },
  });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d) => {
    stdout += d;
  });
  proc.stderr.on('data', (d) => {
    stderr += d;
  });
  const exit = new Promise<number | null>((r) => proc.once('close', (c) => r(c)));
  while (!stderr.includes('tcplife: attached')) {
    if (proc.exitCode !== null) break;
    await sleep(20);
  }
  const srv = await startServer('tl_pkgsrv', '127.0.0.1');
  for (let i = 0; i < 20 && proc.exitCode === null; i++) {
    await runClient(client, '127.0.0.1', srv.port, { count: 1 });
    await sleep(100);
  }
  srv.stop();
  return { code: await exit, stdout, stderr };
}

describeKernel('the packed package, installed', () => {
  beforeAll(() => {
    const src = join(work, 'src');
    execFileSync('git', ['clone', '-q', PACKAGE_ROOT, src]);
    // The clone's dependencies are the checkout's (no network needed to pack).
    symlinkSync(join(PACKAGE_ROOT, 'node_modules'), join(src, 'node_modules'));
    execFileSync('npm', ['pack', '--silent', '--pack-destination', work], {
      cwd: src,
      stdio: 'ignore',
    });
    tarball = join(
      work,
      `tcplife-${JSON.parse(readFileSync(join(src, 'package.json'), 'utf8')).version}.tgz`,
    );
    const listing = execFileSync('tar', ['tzf', tarball], { encoding: 'utf8' });
    for (const f of [
      'dist/bundle/tcplife.mjs',
      'prebuilt/tcplife.bpf.o',
      'man/tcplife.8',
      'LICENSE',
      'rules/web.rules',
    ])
      expect(listing, f).toContain(`package/${f}`);
    execFileSync(
      'npm',
      ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', tarball],
      { stdio: 'ignore' },
    );
    mkdirSync(noClang);
    symlinkSync(process.execPath, join(noClang, 'node'));
  }, 300_000);

  it('a TypeScript project that imports tcplife type-checks as it is: no "types" setting, no @types/node of its own', () => {
    const project = join(work, 'consumer');
    mkdirSync(project);
    writeFileSync(
      join(project, 'package.json'),
      '{"name":"consumer","version":"1.0.0","type":"module","private":true}\n',
    );
    writeFileSync(
      join(project, 'tsconfig.json'),
      '{"compilerOptions":{"strict":true,"module":"nodenext","moduleResolution":"nodenext","target":"es2022","noEmit":true,"skipLibCheck":false}}\n',
    );
    writeFileSync(
      join(project, 'index.ts'),
      "import { sessions, where } from 'tcplife';\nsessions(where((f) => f.dport.eq(443))).subscribe((s) => console.log(s.comm, s.tx_kb));\n",
    );
    // The TypeScript the project builds with (7: it made 5 errors of TS2591 'Buffer' before).
    const ts = JSON.parse(
      readFileSync(join(PACKAGE_ROOT, 'node_modules/typescript/package.json'), 'utf8'),
    ).version;
    execFileSync(
      'npm',
      ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball, `typescript@${ts}`],
      { cwd: project, stdio: 'ignore' },
    );
    const tsc = spawnSync(join(project, 'node_modules/.bin/tsc'), ['-p', '.'], {
      cwd: project,
      encoding: 'utf8',
    });
    expect(tsc.stdout + tsc.stderr).toBe('');
    expect(tsc.status).toBe(0);
  }, 120_000);

  it('says what it is, explains, checks its shipped rules by name, from outside the repository', () => {
    expect(run(['--version']).stdout).toMatch(/^tcplife \d+\.\d+\.\d+ \(TypeScript/);
    const explain = run(['--explain', 'dport == 443']);
    expect(explain.status).toBe(0);
    expect(explain.stdout).toContain('kernel:     rport == 443');
    const check = run(['check', 'web', 'failures']);
    expect(check.status).toBe(0);
    expect(check.stdout).toMatch(/^web: ok \(3 rules/m);
    expect(check.stdout).toMatch(/^failures: ok \(5 rules/m);
    expect(existsSync(join(prefix, 'share/man/man8/tcplife.8'))).toBe(true);
    const man = spawnSync('man', ['-l', join(prefix, 'share/man/man8/tcplife.8')], {
      encoding: 'utf8',
    });
    expect(man.stdout).toContain('TCPLIFE(8)');
    expect(man.stdout).toContain('--filter-file');
    // The environment, as --help lists it.
    const help = run(['--help']).stdout;
    for (const v of ['TCPLIFE_RULES_PATH', 'TCPLIFE_CLANG_TIMEOUT', '--exact']) {
      expect(help).toContain(v);
      expect(man.stdout).toContain(v);
    }
  });

  it('traces real sessions as root', async () => {
    const r = await traceOne(['comm == "tl_pkgcli"'], 'tl_pkgcli');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ comm: 'tl_pkgcli' });
  });

  it('without clang: a plain trace runs the shipped object; a filter runs in userspace with a note', async () => {
    const env = { PATH: `${noClang}:${join(prefix, 'bin')}` };
    const plain = await traceOne(['--no-cache'], 'tl_pkgcli', env);
    expect(plain.code).toBe(0);
    expect(plain.stderr).toContain('object shipped with the package');
    // The original's options (-p, -L, -D, -4, -6) are settings of the shipped object: in the kernel.
    const v4 = await traceOne(['--no-cache', '-4'], 'tl_pkgcli', env);
    expect(v4.code).toBe(0);
    expect(v4.stderr).toContain('object shipped with the package');
    expect(v4.stderr).not.toContain('runs in userspace');
    expect(JSON.parse(v4.stdout).family).toBe(4);
    const filtered = await traceOne(['--no-cache', 'comm == "tl_pkgcli2"'], 'tl_pkgcli2', env);
    expect(filtered.code).toBe(0);
    expect(filtered.stderr).toContain(
      'tcplife: clang is not installed: the filter runs in userspace',
    );
    expect(JSON.parse(filtered.stdout)).toMatchObject({ comm: 'tl_pkgcli2' });
    // Summaries made in the kernel are settings of the shipped object too.
    const summary = await trace(
      ['--no-cache', '--interval', '1', '--count', '1', '--group-by', 'comm', '-4'],
      'tl_pkgcli3',
      env,
    );
    expect(summary.code).toBe(0);
    expect(summary.stderr).toContain('object shipped with the package');
    expect(summary.stderr).toContain('summaries made in the kernel, by comm');
    const rows = summary.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(rows.find((r) => r.comm === 'tl_pkgcli3')?.sessions).toBeGreaterThan(0);
  });
});
