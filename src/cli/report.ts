/** What went missing, said on stderr at exit. */
import type { SocketState, TracerStats } from '../kernel/tracer.js';

export function lossReport(
  s: TracerStats,
  always: boolean,
  printed: number,
  tracked?: number,
  state: SocketState = 'hash map',
): string[] {
  const lines: string[] = [];
  const lost = s.ringbuf_drops + s.map_full + s.group_full;
  if (lost > 0 || always) {
    lines.push(
      `tcplife: ${lost} session(s) lost: ${s.ringbuf_drops} with the ring buffer full (try a larger --ring-size), ` +
        (state === 'socket storage'
          ? `${s.map_full} with no memory for their socket storage (see net.core.optmem_max)`
          : state === 'hash map, then socket storage'
            ? `${s.map_full} with the socket map full and no memory for their socket storage (see net.core.optmem_max)`
            : `${s.map_full} with the socket map full (try a larger --map-size)`) +
        (s.group_full > 0
          ? `, ${s.group_full} not summarised with the kernel's groups map full (fewer --group-by fields, or a shorter --interval)`
          : ''),
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
      `tcplife: ${s.missed_start} session(s) closed whose start was not seen (opened before tracing began): not reported`,
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
        `${s.owner_unknown} with the task at close as owner`,
    );
  }
  return lines;
}
