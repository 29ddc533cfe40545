/**
 * `tcplife check [FILE...]`: validate rule files (by default every file on
 * the search path, as `tcplife rules` lists them) and run the samples they
 * carry. Each file is checked on its own (with what it includes). Exit 0
 * when clean, 2 otherwise; diagnostics on stderr, a summary per file on stdout.
 */
import { writeSync } from 'node:fs';
import { renderDiagnostics } from '../dsl/diagnostic.js';
import { loadRuleSet } from '../rules/load.js';
import { availableRuleFiles } from '../rules/search.js';
import type { Io } from './io.js';

export function runCheck(names: readonly string[], io: Io): number {
  // No names: what `tcplife rules` lists, every file on the search path.
  const files = names.length ? names : availableRuleFiles();
  let failed = false;
  const out: string[] = [];
  for (const f of files) {
    const set = loadRuleSet([f]);
    if (set.diagnostics.length) {
      failed = true;
      io.stderr(`${renderDiagnostics(set.diagnostics)}\n\n`);
      out.push(`${f}: ${set.diagnostics.length} error(s)`);
    } else {
      const c = set.counts;
      out.push(
        `${f}: ok (${c.rules} rules, ${c.macros} macros, ${c.lists} lists; ${c.samplesPassed}/${c.samples} samples pass)`,
      );
    }
  }
  writeSync(io.stdoutFd, `${out.join('\n')}\n`);
  return failed ? 2 : 0;
}
