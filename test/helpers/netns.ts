/**
 * Network namespaces the tests make for themselves (`ip netns add`), with
 * loopback up, and nftables rules inside them for fault injection. Run a
 * process in one with `nsenter --net=…` (not `ip netns exec`, which remounts
 * /sys and hides the host's cgroup2 mount).
 */
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';

export class Netns {
  readonly path: string;

  private constructor(readonly name: string) {
    this.path = `/run/netns/${name}`;
  }

  /** A fresh namespace, its loopback up with the given MTU (small: many segments). */
  static create(prefix: string, opts: { mtu?: number } = {}): Netns {
    const name = `${prefix}_${process.pid}_${Math.floor(Math.random() * 1e6)}`;
    execFileSync('ip', ['netns', 'add', name]);
    const ns = new Netns(name);
    ns.ip('link', 'set', 'lo', 'up');
    if (opts.mtu) ns.ip('link', 'set', 'lo', 'mtu', String(opts.mtu));
    return ns;
  }

  /** The namespace's inode: what `stat -L /run/netns/NAME` shows. */
  get inode(): number {
    return Number(statSync(this.path).ino);
  }

  ip(...args: string[]): void {
    execFileSync('ip', ['-n', this.name, ...args], { stdio: 'ignore' });
  }

  /** Loads an nftables ruleset (nft -f syntax) inside the namespace. */
  nft(ruleset: string): void {
    execFileSync('nsenter', [`--net=${this.path}`, 'nft', '-f', '-'], { input: ruleset });
  }

  /** argv that runs a command inside the namespace (nsenter execs it: pid and comm are the command's). */
  wrap(cmd: string, args: readonly string[]): [string, string[]] {
    return ['nsenter', [`--net=${this.path}`, cmd, ...args]];
  }

  delete(): void {
    try {
      execFileSync('ip', ['netns', 'del', this.name], { stdio: 'ignore' });
    } catch {
      // already gone
    }
  }
}
