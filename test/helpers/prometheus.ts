/**
 * A real Prometheus server (Debian's prometheus, a plain binary) scraping
 * one target every second, for the metrics tests, and a query of its API.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep } from './tcpgen.js';

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface Prometheus {
  readonly proc: ChildProcess;
  /** The values of an instant query's series. */
  query(q: string): Promise<number[]>;
  stop(): void;
}

/** Starts Prometheus scraping 127.0.0.1:`target` every second; resolves once it is ready. */
export async function startPrometheus(target: number): Promise<Prometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'tl-prom-'));
  const web = await freePort();
  writeFileSync(
    join(dir, 'prometheus.yml'),
    `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: tcplife\n    static_configs:\n      - targets: ['127.0.0.1:${target}']\n`,
  );
  const proc = spawn(
    'prometheus',
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${web}`,
    ],
    { stdio: 'ignore' },
  );
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${web}/-/ready`)).ok) break;
    } catch {
      // not yet
    }
    await sleep(100);
  }
  return {
    proc,
    query: async (q) => {
      const res = await fetch(
        `http://127.0.0.1:${web}/api/v1/query?query=${encodeURIComponent(q)}`,
      );
      const body = (await res.json()) as { data: { result: { value: [number, string] }[] } };
      return body.data.result.map((x) => Number(x.value[1]));
    },
    stop: () => proc.kill('SIGKILL'),
  };
}
