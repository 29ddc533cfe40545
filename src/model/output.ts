/** What a run prints: the output formats and a formatter's options (data, so the planner can name them). */

export type OutputFormat = 'table' | 'jsonl' | 'csv';

export interface FormatOptions {
  readonly format: OutputFormat;
  /** explicit columns (--fields); undefined: the original's layout */
  readonly fields?: readonly string[];
  /** -T: HH:MM:SS column */
  readonly time?: boolean;
  /** -t: seconds since the first session */
  readonly timestamp?: boolean;
  /** -w: wide columns that fit IPv6 */
  readonly wide?: boolean;
  /** add the RULES column / rules key */
  readonly rules?: boolean;
  /** -x: add how each session ended and where it belongs (table and CSV) */
  readonly extended?: boolean;
  /**
   * CSV in the original's layout (-s): its columns and headers, integer KiB,
   * local HH:MM:SS. Otherwise CSV is data: JSON lines' keys as headers and
   * their exact values (ISO time, fractional KiB and ms).
   */
  readonly classic?: boolean;
  /**
   * Records of sessions still open are printed too (--interim): the table
   * and the original's CSV begin with an EVENT column (close, interim,
   * exit) so that a reader can tell them apart.
   */
  readonly open?: boolean;
}

/** Output fields a kernel record does not hold: a row adds them to a session (-t, rule tags). */
export const ROW_ONLY_FIELDS: ReadonlySet<string> = new Set(['ts', 'rules', 'tags']);
