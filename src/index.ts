/// <reference types="node" preserve="true" />
/** tcplife as a library. */

export { generateProgram, type ProgramSpec } from './codegen/program.js';
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
export { Tracer, type TracerOptions, type TracerStats } from './kernel/tracer.js';
export { FIELDS, type Session } from './model/fields.js';
export { createFormatter, type FormatOptions, type OutputFormat } from './pipeline/formatters.js';
export { createSummaryFormatter, summarize } from './pipeline/summary.js';
export {
  FilterError,
  type SessionsOptions,
  sessions,
  type TracedSession,
  userspacePart,
} from './pipeline/tcplife.js';
export { makePlan, type Plan, type PlanInput } from './plan/plan.js';
export { TcplifeError } from './util/errors.js';
