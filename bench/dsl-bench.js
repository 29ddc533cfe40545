// Parse + type-check a filter of 1,000 terms; prints figures (not a test).
import { performance } from 'node:perf_hooks';
import { compileFilter } from '../dist/dsl/index.js';

const terms = [];
for (let i = 0; i < 1000; i++) {
  const t = [
    `dport == ${i % 65536}`,
    `raddr in (10.${i % 256}.0.0/16, fd00::${i.toString(16)})`,
    `tx_kb > ${i}`,
    `comm ~ "w${i}*"`,
    `span_ms >= ${i}.5`,
  ][i % 5];
  terms.push(i % 7 === 0 ? `not ${t}` : t);
}
const text = terms.map((t, i) => (i === 0 ? t : `${i % 3 === 0 ? 'or' : 'and'} ${t}`)).join(' ');

// Building the parser (grammar analysis) happens once per process: time it apart.
const b0 = performance.now();
compileFilter('dport == 1');
console.log(
  `building the lexer and parser (once per process): ${(performance.now() - b0).toFixed(1)} ms`,
);

const times = [];
for (let run = 0; run < 20; run++) {
  const t0 = performance.now();
  const r = compileFilter(text);
  times.push(performance.now() - t0);
  if (!r.pred) throw new Error(r.diagnostics[0].message);
}
times.sort((a, b) => a - b);
console.log(`filter: 1000 terms, ${text.length} characters`);
console.log(
  `parse + check: first ${times.at(-1).toFixed(1)} ms (includes warm-up), median ${times[10].toFixed(1)} ms, best ${times[0].toFixed(1)} ms`,
);

// A 10,000-term chain of ports (a filter file given with -F): parse, check,
// split and emit; it becomes one set, a bitmap in the kernel.
const { splitFilter } = await import('../dist/plan/split.js');
const { emitFilter } = await import('../dist/codegen/emit-c.js');
const ports = [];
for (let i = 0; i < 10_000; i++) ports.push(`dport == ${(i * 7919) % 65536}`);
const chain = ports.join(' or ');
const chainTimes = [];
for (let run = 0; run < 7; run++) {
  const t0 = performance.now();
  const r = compileFilter(chain);
  if (!r.pred) throw new Error(r.diagnostics[0].message);
  emitFilter(splitFilter(r.pred).kernel);
  chainTimes.push(performance.now() - t0);
}
chainTimes.sort((a, b) => a - b);
console.log(`filter: 10,000-term or of ports, ${chain.length} characters`);
console.log(
  `parse + check + split + emit: first ${chainTimes.at(-1).toFixed(1)} ms, median ${chainTimes[3].toFixed(1)} ms`,
);
