/** Runs a Tracer around a workload and collects what it delivered. */
import { generateProgram } from '../../src/codegen/program.js';
import { Tracer, type TracerStats } from '../../src/kernel/tracer.js';
import type { DecodedSession as Session } from '../../src/model/fields.js';
import { makePlan } from '../../src/plan/plan.js';
import { sleep } from './tcpgen.js';

export interface Collected {
  readonly sessions: Session[];
  readonly stats: TracerStats;
  readonly tracer: Tracer;
}

export async function startCollecting(filter: string, ringBytes = 1 << 20) {
  const { plan, diagnostics } = makePlan({ filter });
  if (!plan) throw new Error(`bad filter ${filter}: ${diagnostics.map((d) => d.message)}`);
  const tracer = await Tracer.start(generateProgram(plan.split, { ringBytes }), { pollMs: 20 });
  const sessions: Session[] = [];
  const sub = tracer.sessions().subscribe((s) => sessions.push(s));
  return {
    tracer,
    pred: plan.pred,
    async stop(): Promise<Collected> {
      await sleep(150); // two drain periods: everything closed is delivered
      tracer.drainNow();
      const stats = tracer.stats();
      sub.unsubscribe();
      return { sessions, stats, tracer };
    },
  };
}

export function ofPorts(sessions: Session[], ports: number[]): Session[] {
  return sessions.filter((s) => ports.includes(s.lport) || ports.includes(s.rport));
}
