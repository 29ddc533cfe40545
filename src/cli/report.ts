/** What went missing, said on stderr at exit. */
import type { SocketState, TracerStats } from '../kernel/tracer.js';

/** Why stdout took no more: a full disk is said in words. */
export function writeFailure(e: NodeJS.ErrnoException): string {
  return `cannot write to stdout: ${e.code === 'ENOSPC' ? 'no space left on device' : e.message} (${e.code ?? 'error'})`;
}

/** What the output lost: dropped with its buffer full, or left unwritten at exit (a stalled reader). */
export interface OutputLoss {
  readonly dropped: number;
  readonly unwritten: number;
}

export function lossReport(
  s: TracerStats,
  always: boolean,
  printed: number,
  tracked?: number,
  state: SocketState = 'hash map',
  output: OutputLoss = { dropped: 0, unwritten: 0 },
): string[] {
  const lines: string[] = [];
  const lost =
    s.ringbuf_drops + s.map_full + s.group_full + s.no_tcp_sock + output.dropped + output.unwritten;
  if (lost > 0 || always) {
    lines.push(
      `tcplife: ${lost} session(s) lost: ${s.ringbuf_drops} with the ring buffer full (try a larger --ring-size), ` +
        (output.dropped > 0 || always
          ? `${output.dropped} with the output buffer full (a slow reader; try a larger --buffer-size), `
          : '') +
        (output.unwritten > 0
          ? `${output.unwritten} never taken by a reader that stopped reading, `
          : '') +
        (state === 'socket storage'
          ? `${s.map_full} with no memory for their socket storage (see net.core.optmem_max)`
          : state === 'hash map, then socket storage'
            ? `${s.map_full} with the socket map full and no memory for their socket storage (see net.core.optmem_max)`
            : `${s.map_full} with the socket map full (try a larger --map-size)`) +
        (s.group_full > 0
          ? `, ${s.group_full} not summarised with the kernel's groups map full (fewer --group-by fields, or a shorter --interval)`
          : '') +
        (s.no_tcp_sock > 0 ? `, ${s.no_tcp_sock} whose socket gave no tcp_sock at close` : ''),
    );
  }
  if (s.recursion_misses > 0 || always) {
    lines.push(
      `tcplife: ${s.recursion_misses} program run(s) skipped by the kernel (recursion): state changes not seen` +
        (s.nested > 0 || always
          ? `; ${s.nested} more, nested into a running one on the same CPU, taken by its stand-in`
          : ''),
    );
  }
  if (s.missed_start > 0 || always) {
    lines.push(
      `tcplife: ${s.missed_start} session(s) closed whose start was not seen (opened before tracing began and not found then: held by no process, or not looked for; -v says): not reported`,
    );
  }
  if (always) {
    lines.push(
      `tcplife: ${s.adopted} session(s) already open when tracing began, found then: reported with start_seen false`,
    );
  }
  if (s.stale > 0 || always) {
    lines.push(
      `tcplife: ${s.stale} session(s) whose close no program saw (skipped by the kernel), found when a new socket took their place: not reported`,
    );
  }
  if (always && tracked !== undefined) {
    lines.push(
      `tcplife: ${tracked} socket(s) still tracked at exit (sessions open when tracing stopped${s.recursion_misses > 0 ? ', or whose close the kernel skipped' : ''})`,
    );
  }
  if (always) {
    lines.push(
      `tcplife: ${s.closed} session(s) closed, ${s.passed} passed the kernel filter, ${s.delivered} read, ${printed} printed; ` +
        `${s.owner_unknown} with the task at close as owner` +
        (s.open_records > 0
          ? `; and ${s.open_records} record(s) of sessions still open (interim, exit), among those printed`
          : ''),
    );
  }
  return lines;
}
