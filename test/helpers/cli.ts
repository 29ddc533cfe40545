/** Runs bin/tcplife as a user would: a real process, real stdout/stderr and exit status. */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../../src/util/paths.js';

export const BIN = join(PACKAGE_ROOT, 'bin/tcplife');

export interface CliRun {
  readonly proc: ChildProcess;
  stdout: string;
  stderr: string;
  /** resolves once tcplife says it is attached (needs --verbose) */
  readonly ready: Promise<void>;
  /** the exit status, once its stdout and stderr are read to their end */
  readonly exit: Promise<number | null>;
}

export interface CliOptions {
  /** run as this user (setpriv), … */
  asUser?: string;
  /** … holding these capabilities (ambient: 'bpf,perfmon,dac_read_search') */
  caps?: string;
  env?: Record<string, string>;
  cwd?: string;
  /** stdout on this descriptor (a file, /dev/full) instead of a pipe: `stdout` stays '' */
  stdout?: number;
}

/**
 * A command run as another user (setpriv), holding these capabilities as
 * ambient ones ('bpf,perfmon,dac_read_search'), or none.
 */
export function asUser(
  user: string,
  cmd: string,
  args: readonly string[],
  caps?: string,
): [string, string[]] {
  const set = caps
    ?.split(',')
    .map((c) => `+${c.replace(/^\+/, '')}`)
    .join(',');
  return [
    'setpriv',
    [
      '--reuid',
      user,
      '--regid',
      user === 'nobody' ? 'nogroup' : user,
      '--clear-groups',
      ...(set ? ['--inh-caps', set, '--ambient-caps', set] : []),
      cmd,
      ...args,
    ],
  ];
}

export function startCli(args: string[], opts: CliOptions = {}): CliRun {
  const [cmd, argv] = opts.asUser ? asUser(opts.asUser, BIN, args, opts.caps) : [BIN, args];
  const proc = spawn(cmd, argv, {
    stdio: ['ignore', opts.stdout ?? 'pipe', 'pipe'],
    ...(opts.env ? { env: opts.env } : {}),
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
  });
  const run: CliRun = {
    proc,
    stdout: '',
    stderr: '',
    ready: undefined as never,
    // 'close', not 'exit': at 'exit' the output may still be on its way
    // (a socket pair holds 200 KB).
    exit: new Promise((r) => proc.once('close', (code) => r(code))),
  };
  proc.stdout?.on('data', (d) => {
    run.stdout += d;
  });
  (run as { ready: Promise<void> }).ready = new Promise((resolve, reject) => {
    proc.stderr!.on('data', (d) => {
      run.stderr += d;
      if (run.stderr.includes('tcplife: attached')) resolve();
    });
    proc.once('exit', () => reject(new Error(`tcplife exited before attaching: ${run.stderr}`)));
  });
  run.ready.catch(() => {});
  return run;
}

export async function runCli(args: string[], opts: CliOptions = {}) {
  const r = startCli(args, opts);
  const code = await r.exit;
  await new Promise((res) => setImmediate(res));
  return { code, stdout: r.stdout, stderr: r.stderr };
}
