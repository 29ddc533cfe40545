/**
 * Diagnostics are values: a span in a named source, a message and hints.
 * They are rendered in one place (renderDiagnostic) with the source line and
 * a caret/underline, so every pass reports errors the same way.
 */

export interface SourceText {
  /** Shown before line:column; '<filter>' for the command-line filter. */
  readonly name: string;
  readonly text: string;
}

export interface Span {
  readonly source: SourceText;
  /** Offsets into source.text, end exclusive. */
  readonly start: number;
  readonly end: number;
}

export interface Related {
  readonly span: Span;
  readonly message: string;
}

export interface Diagnostic {
  readonly severity: 'error' | 'warning';
  readonly code: string;
  readonly message: string;
  readonly span: Span;
  readonly hints: readonly string[];
  /** A second place involved (the first definition of a duplicate name...). */
  readonly related?: Related;
}

export function error(
  code: string,
  span: Span,
  message: string,
  hints: readonly string[] = [],
  related?: Related,
): Diagnostic {
  return related
    ? { severity: 'error', code, message, span, hints, related }
    : { severity: 'error', code, message, span, hints };
}

export function lineCol(text: string, offset: number): { line: number; col: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, col: offset - lineStart + 1 };
}

function sourceLine(text: string, offset: number): { text: string; start: number } {
  const start = text.lastIndexOf('\n', offset - 1) + 1;
  let end = text.indexOf('\n', offset);
  if (end < 0) end = text.length;
  return { text: text.slice(start, end), start };
}

/** Tabs and control characters would shift the caret: show them as one space each. */
function printable(s: string): string {
  return s.replace(/[\x00-\x1f\x7f-\x9f]/g, ' ');
}

/** A message or a name, without control characters a terminal would act on. */
function safe(s: string): string {
  return s.replace(
    /[\x00-\x1f\x7f-\x9f]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
}

/** Of a source line longer than this, a window around the caret is shown. */
const WINDOW = 100;

/** The part of a line to show, and where the caret's column falls in it. */
function windowOf(line: string, col: number): { text: string; col: number } {
  if (line.length <= WINDOW) return { text: line, col };
  const start = Math.max(0, Math.min(col - 1 - WINDOW / 2, line.length - WINDOW));
  const end = start + WINDOW;
  const head = start > 0 ? '…' : '';
  return {
    text: `${head}${line.slice(start, end)}${end < line.length ? '…' : ''}`,
    col: col - start + head.length,
  };
}

function frame(span: Span, label: string): string {
  const { text } = span.source;
  const { line, col } = lineCol(text, span.start);
  const src = sourceLine(text, span.start);
  const lineEnd = src.start + src.text.length;
  const shown = windowOf(src.text, col);
  const width = Math.max(1, Math.min(span.end, lineEnd, span.start + WINDOW) - span.start);
  const gutter = String(line).length;
  const pad = ' '.repeat(gutter);
  return (
    `${safe(span.source.name)}:${line}:${col}: ${safe(label)}\n` +
    `${pad} |\n` +
    `${line} | ${printable(shown.text)}\n` +
    `${pad} | ${' '.repeat(shown.col - 1)}${'^'.repeat(Math.max(1, Math.min(width, shown.text.length - shown.col + 1)))}`
  );
}

export function renderDiagnostic(d: Diagnostic): string {
  let out = frame(d.span, `${d.severity}: ${d.message}`);
  for (const h of d.hints) out += `\n  = hint: ${safe(h)}`;
  if (d.related) out += `\n${frame(d.related.span, `note: ${d.related.message}`)}`;
  return out;
}

/** At most this many diagnostics are shown at once; the rest are counted, as compilers do. */
export const MAX_SHOWN = 50;

export function renderDiagnostics(ds: readonly Diagnostic[], max = MAX_SHOWN): string {
  const shown = ds.slice(0, max).map(renderDiagnostic).join('\n\n');
  const more = ds.length - max;
  return more > 0
    ? `${shown}\n\n... and ${more} more diagnostic(s), not shown (the first ${max} are)`
    : shown;
}

export function hasErrors(ds: readonly Diagnostic[]): boolean {
  return ds.some((d) => d.severity === 'error');
}
