/**
 * Data CSV as a data tool loads it: pandas (Debian's python3-pandas) reads
 * tcplife -o csv and every value equals the JSON line of the same session
 * (from a second tracer: its own timing of the session may differ by a
 * few microseconds, everything else must be equal).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { startCli } from '../helpers/cli.js';
import { describeKernel } from '../helpers/kernel.js';
import { runClient, startServer } from '../helpers/tcpgen.js';

const COMPARE = `
import json, sys
import pandas as pd
csv = pd.read_csv(sys.argv[1], keep_default_na=False)
lines = [json.loads(l) for l in open(sys.argv[2])]
assert len(csv) == len(lines) > 0, (len(csv), len(lines))
assert list(csv.columns) == list(lines[0].keys()), (list(csv.columns), list(lines[0].keys()))
by_key = {(o["comm"], o["lport"], o["rport"]): o for o in lines}
checked = 0
for row in csv.to_dict("records"):
    o = by_key[(row["comm"], row["lport"], row["rport"])]
    for k, want in o.items():
        got = row[k]
        # Two tracers time each session from their own start: within a millisecond.
        if k == "time":
            assert abs(pd.Timestamp(got) - pd.Timestamp(want)) <= pd.Timedelta("5ms"), (k, got, want)
        elif k in ("span_us", "span_ms"):
            assert abs(float(got) - float(want)) <= (1000 if k == "span_us" else 1), (k, got, want)
        elif isinstance(want, bool):
            assert str(got).lower() == str(want).lower(), (k, got, want)
        elif isinstance(want, (int, float)):
            assert float(got) == float(want), (k, got, want)
        else:
            assert str(got) == str(want), (k, got, want)
        checked += 1
print("ok", len(csv), checked)
`;

describeKernel('data CSV in a real data tool', () => {
  it('pandas loads -o csv with the same values as the JSON lines', async () => {
    const srv = await startServer('tl_csvsrv', '127.0.0.1', { reply: 3333 });
    const filter = `comm ~ "tl_csv*" and port == ${srv.port}`;
    const csv = startCli(['--verbose', '-o', 'csv', '--exit-after', '6', filter]);
    const json = startCli(['--verbose', '-j', '--exit-after', '6', filter]);
    await Promise.all([csv.ready, json.ready]);
    await runClient('tl_csvcli', '127.0.0.1', srv.port, { count: 3, send: 5000 });
    expect(await csv.exit).toBe(0);
    expect(await json.exit).toBe(0);
    srv.stop();
    const dir = mkdtempSync(join(tmpdir(), 'tl-csv-'));
    writeFileSync(join(dir, 'out.csv'), csv.stdout);
    writeFileSync(join(dir, 'out.jsonl'), json.stdout);
    // Debian's pandas lives with Debian's python, whatever python3 is first in PATH.
    const out = execFileSync(
      '/usr/bin/python3',
      ['-c', COMPARE, join(dir, 'out.csv'), join(dir, 'out.jsonl')],
      {
        encoding: 'utf8',
      },
    );
    expect(out.trim()).toMatch(/^ok 6 \d+$/);
  });
});
