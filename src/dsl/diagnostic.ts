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

function frame(span: Span, label: string): string {
  const { text } = span.source;
  const { line, col } = lineCol(text, span.start);
  const src = sourceLine(text, span.start);
  const lineEnd = src.start + src.text.length;
  const width = Math.max(1, Math.min(span.end, lineEnd) - span.start);
  const gutter = String(line).length;
  const pad = ' '.repeat(gutter);
  return (
    `${safe(span.source.name)}:${line}:${col}: ${safe(label)}\n` +
    `${pad} |\n` +
    `${line} | ${printable(src.text)}\n` +
    `${pad} | ${' '.repeat(col - 1)}${'^'.repeat(width)}`
  );
}

export function renderDiagnostic(d: Diagnostic): string {
  let out = frame(d.span, `${d.severity}: ${d.message}`);
  for (const h of d.hints) out += `\n  = hint: ${safe(h)}`;
  if (d.related) out += `\n${frame(d.related.span, `note: ${d.related.message}`)}`;
  return out;
}

export function renderDiagnostics(ds: readonly Diagnostic[]): string {
  return ds.map(renderDiagnostic).join('\n\n');
}

export function hasErrors(ds: readonly Diagnostic[]): boolean {
  return ds.some((d) => d.severity === 'error');
}
