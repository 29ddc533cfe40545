/**
 * From a checked filter to the C source of the BPF program: split, emit the
 * kernel part, fill the template. Returns values; compiling is build.ts's job.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Pred } from '../dsl/ir.js';
import { eventStructC } from '../kernel/layout.js';
import { PACKAGE_ROOT } from '../util/paths.js';
import { emitFilter } from './emit-c.js';
import { type Split, splitFilter } from './split.js';
import { fillTemplate } from './template.js';

export const TEMPLATE_PATH = join(PACKAGE_ROOT, 'bpf/templates/tcplife.bpf.c');
export const INCLUDE_DIR = join(PACKAGE_ROOT, 'bpf/include');

export interface GeneratedProgram {
  readonly split: Split;
  /** The generated filter expression alone (for --explain). */
  readonly filterC: string;
  /** The whole BPF C source. */
  readonly source: string;
}

export interface GenerateOptions {
  /** Ring buffer size in bytes: the reader is woken once 1/8 of it is used. */
  readonly ringBytes: number;
}

let template: string | undefined;

export function generateProgram(pred: Pred, opts: GenerateOptions): GeneratedProgram {
  const split = splitFilter(pred);
  const emitted = emitFilter(split.kernel);
  template ??= readFileSync(TEMPLATE_PATH, 'utf8');
  const wakeup = Math.max(4096, Math.floor(opts.ringBytes / 8));
  if (!Number.isSafeInteger(wakeup)) throw new Error('bad ring size');
  const source = fillTemplate(template, {
    EVENT_STRUCT: eventStructC(),
    FILTER_DATA: emitted.data,
    FILTER_EXPR: emitted.expr,
    WAKEUP_BYTES: `${wakeup}ULL`,
  });
  return { split, filterC: emitted.expr, source };
}
