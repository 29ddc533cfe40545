/** tcplife as a library. */

export type { Diagnostic, Expr, Pred, Schema } from './dsl/index.js';
export {
  compileFilter,
  compilePredicate,
  evaluate,
  not,
  printExpr,
  renderDiagnostics,
  tcplifeSchema,
  where,
} from './dsl/index.js';
export { TcplifeError } from './kernel/errors.js';
export type { Session } from './kernel/layout.js';
export { Tracer, type TracerOptions, type TracerStats } from './kernel/tracer.js';
export { createFormatter, type FormatOptions, type OutputFormat } from './pipeline/formatters.js';
export { createSummaryFormatter, summarize } from './pipeline/summary.js';
export {
  checkedFilter,
  FilterError,
  type SessionsOptions,
  sessions,
  userFilter,
} from './pipeline/tcplife.js';
