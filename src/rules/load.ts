/** Rule files: placeholder until src/rules is written (issue 5). */
import type { NameEnv } from '../dsl/check.js';
import type { Diagnostic } from '../dsl/diagnostic.js';
import type { Pred } from '../dsl/ir.js';
import type { Session } from '../kernel/layout.js';

export interface RuleSet {
  readonly env: NameEnv;
  readonly diagnostics: readonly Diagnostic[];
  readonly selected: readonly { name: string; pred: Pred }[];
  readonly union: Pred;
  tag(s: Session): string[];
}

export function loadRuleSet(_files: readonly string[], _only: readonly string[]): RuleSet {
  throw new Error('rule files are not supported yet');
}
