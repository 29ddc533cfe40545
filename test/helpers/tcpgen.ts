/** Builds tools/tcpgen.c once and runs it under chosen names (its comm). */
import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { PACKAGE_ROOT } from '../../src/util/paths.js';
import type { Netns } from './netns.js';

const run = promisify(execFile);
const dir = join(tmpdir(), `tcplife-test-bin-${process.pid}`);
let built = false;

export function tcpgen(name: string): string {
  if (!/^[a-z0-9_]{1,15}$/.test(name)) throw new Error(`bad name ${name}`);
  const base = join(dir, 'tcpgen');
  if (!built) {
    mkdirSync(dir, { recursive: true });
    execFileSync('cc', ['-O2', '-o', base, join(PACKAGE_ROOT, 'tools/tcpgen.c')]);
    built = true;
  }
  const path = join(dir, name);
  if (!existsSync(path)) copyFileSync(base, path);
  return path;
}

export interface Server {
  readonly port: number;
  readonly pid: number;
  readonly proc: ChildProcess;
  stop(): void;
}

export async function startServer(
  name: string,
  addr: string,
  opts: { reply?: number; count?: number; netns?: Netns } = {},
): Promise<Server> {
  const argv = ['server', addr, '0', '-r', String(opts.reply ?? 0), '-n', String(opts.count ?? 0)];
  const [cmd, args] = opts.netns ? opts.netns.wrap(tcpgen(name), argv) : [tcpgen(name), argv];
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  const rl = createInterface({ input: proc.stdout! });
  const port = await new Promise<number>((resolve, reject) => {
    rl.once('line', (l) => resolve(Number(/port (\d+)/.exec(l)?.[1])));
    proc.once('exit', (c) => reject(new Error(`server exited ${c}`)));
  });
  return { port, pid: proc.pid!, proc, stop: () => proc.kill('SIGKILL') };
}

export interface ClientRun {
  readonly pid: number;
  readonly sessions: number;
  readonly seconds: number;
  /** connects that failed (with `tolerate`) */
  readonly failed: number;
}

export interface ClientOptions {
  readonly count: number;
  readonly send?: number;
  readonly bind?: string;
  readonly duration?: number;
  readonly netns?: Netns;
  /** close with SO_LINGER 0 after sending (and waiting this many ms): a reset */
  readonly abort?: boolean | number;
  /** TCP_SYNCNT: SYN retries before a connect times out */
  readonly syncnt?: number;
  /** a failed connect is counted, not fatal */
  readonly tolerate?: boolean;
  /** a cgroup2 directory the client moves itself into before it starts */
  readonly cgroup?: string;
}

export async function runClient(
  name: string,
  addr: string,
  port: number,
  opts: ClientOptions,
): Promise<ClientRun> {
  const args = [
    'client',
    addr,
    String(port),
    '-n',
    String(opts.count),
    '-s',
    String(opts.send ?? 0),
  ];
  if (opts.bind) args.push('-b', opts.bind);
  if (opts.duration) args.push('-d', String(opts.duration));
  if (opts.abort) args.push('-A');
  if (typeof opts.abort === 'number') args.push('-w', String(opts.abort));
  if (opts.syncnt) args.push('-y', String(opts.syncnt));
  if (opts.tolerate) args.push('-f');
  let [cmd, argv]: [string, string[]] = [tcpgen(name), args];
  // sh moves itself into the cgroup, then execs the client: one process, one pid.
  if (opts.cgroup)
    [cmd, argv] = [
      'sh',
      ['-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', opts.cgroup, cmd, ...argv],
    ];
  if (opts.netns) [cmd, argv] = opts.netns.wrap(cmd, argv);
  const child = run(cmd, argv);
  const pid = child.child.pid!;
  const { stdout } = await child;
  const m = /sessions (\d+) seconds ([\d.]+) second_port \d+ failed (\d+)/.exec(stdout);
  return { pid, sessions: Number(m?.[1]), seconds: Number(m?.[2]), failed: Number(m?.[3]) };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * One connection from a process whose comm is these bytes (a Python bytes
 * literal's body, such as `ab\\xe9cd`: they need not be UTF-8), closed once
 * the server has answered or closed. Throws, with Python's stderr, on failure.
 */
export function connectNamed(commBytes: string, port: number): void {
  execFileSync('python3', [
    '-c',
    `import ctypes, socket
ctypes.CDLL(None).prctl(15, b"${commBytes}", 0, 0, 0)
s = socket.create_connection(("127.0.0.1", ${port}))
s.shutdown(socket.SHUT_WR)
s.recv(10)
s.close()`,
  ]);
}
