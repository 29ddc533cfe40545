/**
 * A cgroup lookup that fails for a passing reason (no file descriptor left)
 * is not cached: the next session of that cgroup is looked up again, and the
 * failure is counted. Before, the first failure stuck: every later session
 * of the cgroup had cgroup "" and rules on `container` missed them.
 */
import { spawnSync } from 'node:child_process';
import { expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/util/paths.js';
import { describeAsRoot } from '../helpers/kernel.js';

describeAsRoot('cgroup lookups', () => {
  it('with descriptors exhausted, a lookup fails and is counted; once freed, the same id resolves', () => {
    // In a child with few descriptors: take them all, look up its own cgroup,
    // give them back, look it up again.
    const script = `
      import { openSync, closeSync, readFileSync, statSync } from 'node:fs';
      const { CgroupResolver } = await import('${PACKAGE_ROOT}/dist/kernel/cgroups.js');
      (await import('${PACKAGE_ROOT}/dist/kernel/libbpf.js')).loadNative();
      const r = new CgroupResolver();
      const own = readFileSync('/proc/self/cgroup', 'utf8').trim().split('::')[1];
      const id = statSync(r.mount + own).ino;
      const held = [];
      try { for (;;) held.push(openSync('/dev/null', 'r')); } catch {}
      const starved = r.cgroup(id);
      for (const fd of held) closeSync(fd);
      const after = r.cgroup(id);
      console.log(JSON.stringify({ own, starved, after, failed: r.failed, failedWith: r.failedWith }));
    `;
    const p = spawnSync(
      'prlimit',
      ['--nofile=64:64', process.execPath, '--input-type=module', '-e', script],
      { encoding: 'utf8' },
    );
    expect(p.status, p.stderr).toBe(0);
    const r = JSON.parse(p.stdout);
    expect(r.starved).toBe('');
    expect(r.failed).toBe(1);
    expect(r.failedWith).toBe(24); // EMFILE
    expect(r.after).toBe(r.own);
  });
});
