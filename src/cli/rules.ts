/**
 * `tcplife rules [FILE…]`: the rules of the named files, or of every rule
 * file on the search path ($TCPLIFE_RULES_PATH, then the package's rules/),
 * each with its tags and description. Exit 0, or 2 when a file has errors.
 */
import { writeSync } from 'node:fs';
import { renderDiagnostics } from '../dsl/diagnostic.js';
import { escapeControls } from '../model/text.js';
import { loadRuleSet } from '../rules/load.js';
import { availableRuleFiles } from '../rules/search.js';
import type { Io } from './io.js';

export function runRules(names: readonly string[], io: Io): number {
  const files = names.length ? names : availableRuleFiles();
  const out: string[] = [];
  let failed = false;
  for (const name of files) {
    const set = loadRuleSet([name]);
    if (set.diagnostics.length) {
      failed = true;
      io.stderr(`${renderDiagnostics(set.diagnostics)}\n\n`);
      continue;
    }
    out.push(escapeControls(set.files[0] ?? name));
    // A description is the rule file author's text: nothing of it reaches the terminal raw.
    const tags = (r: { tags: readonly string[] }) =>
      r.tags.length ? `[${r.tags.map(escapeControls).join(', ')}]` : '';
    const width = Math.max(0, ...set.rules.map((r) => r.name.length));
    const tagWidth = Math.max(0, ...set.rules.map((r) => tags(r).length));
    for (const r of set.rules) {
      out.push(
        `  ${r.name.padEnd(width)}  ${tags(r).padEnd(tagWidth)}  ${escapeControls(r.desc ?? '')}`.trimEnd(),
      );
    }
    if (set.rules.length === 0) out.push('  (no rules: lists and macros only)');
  }
  if (out.length) writeSync(io.stdoutFd, `${out.join('\n')}\n`);
  return failed ? 2 : 0;
}
