/**
 * Where rule files are found: a name given to --rules is the path as given
 * when it exists; a bare name (web, web.rules) is then looked for in each
 * directory of $TCPLIFE_RULES_PATH (colon-separated), then in the package's
 * own rules/, so that the shipped rules are found after an install.
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

/** The file to read for a name given to --rules (the name itself when nothing is found). */
export function findRuleFile(name: string): string {
  if (existsSync(name) || name.includes('/')) return name;
  for (const dir of ruleSearchPath()) {
    for (const n of name.endsWith('.rules') ? [name] : [name, `${name}.rules`]) {
      const p = join(dir, n);
      if (existsSync(p)) return p;
    }
  }
  return name;
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
