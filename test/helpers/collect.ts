/** Runs a Tracer around a workload and collects what it delivered. */
import { compileFilter } from '../../src/dsl/index.js';
import type { Session } from '../../src/kernel/layout.js';
import { Tracer, type TracerStats } from '../../src/kernel/tracer.js';
import { sleep } from './tcpgen.js';

export interface Collected {
  readonly sessions: Session[];
  readonly stats: TracerStats;
  readonly tracer: Tracer;
}

export async function startCollecting(filter: string, ringBytes = 1 << 20) {
  const r = compileFilter(filter);
  if (!r.pred) throw new Error(`bad filter ${filter}: ${r.diagnostics.map((d) => d.message)}`);
  const tracer = await Tracer.start({ filter: r.pred, pollMs: 20, ringBytes });
  const sessions: Session[] = [];
  const sub = tracer.sessions().subscribe((s) => sessions.push(s));
  return {
    tracer,
    pred: r.pred,
    async stop(): Promise<Collected> {
      await sleep(150); // two drain periods: everything closed is delivered
      tracer.flush((s) => sessions.push(s));
      const stats = tracer.stats();
      sub.unsubscribe();
      return { sessions, stats, tracer };
    },
  };
}

export function ofPorts(sessions: Session[], ports: number[]): Session[] {
  return sessions.filter((s) => ports.includes(s.lport) || ports.includes(s.rport));
}
