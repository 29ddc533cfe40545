/**
 * Where rule files are found: a path (with a '/' or the .rules suffix) is
 * read as given; a bare name (web) is looked for in each directory of
 * $TCPLIFE_RULES_PATH (colon-separated), then in the package's own rules/,
 * so that the shipped rules are found after an install — and never in the
 * current directory, which may be anyone's (root in /tmp must not read the
 * web another user left there).
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../util/paths.js';

export function ruleSearchPath(): string[] {
  return [
    ...(process.env.TCPLIFE_RULES_PATH ?? '').split(':').filter(Boolean),
    join(PACKAGE_ROOT, 'rules'),
  ];
}

/** A name given to --rules that is a path, not a name to search for. */
export function isRulePath(name: string): boolean {
  return name.includes('/') || name.endsWith('.rules');
}

/** The file to read for a name given to --rules, or why there is none. */
export function findRuleFile(name: string): string | { error: string } {
  if (isRulePath(name)) return name;
  const path = ruleSearchPath();
  for (const dir of path) {
    const p = join(dir, `${name}.rules`);
    if (existsSync(p)) return p;
  }
  return {
    error: `no rule file '${name}' on the search path (${path.join(':')}); a path to a file needs a '/' or the .rules suffix (./${name}.rules)`,
  };
}

/** Every .rules file on the search path, the first of each name (as --rules would find it). */
export function availableRuleFiles(): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const dir of ruleSearchPath()) {
    let names: string[];
    try {
      names = readdirSync(dir).filter((n) => n.endsWith('.rules'));
    } catch {
      continue;
    }
    for (const n of names.sort()) {
      if (seen.has(n)) continue;
      seen.add(n);
      out.push(join(dir, n));
    }
  }
  return out;
}
