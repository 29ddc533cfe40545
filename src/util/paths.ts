import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The package root (the folder holding bpf/, rules/ and package.json). Found
 * by walking up from this module, which lives in src/, dist/ or the bundle.
 */
function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && JSON.parse(readFileSync(pkg, 'utf8')).name === 'tcplife') return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('tcplife: cannot find the package root (bpf/ templates)');
    dir = up;
  }
}

export const PACKAGE_ROOT = findRoot();
