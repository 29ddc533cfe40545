/**
 * Every session is printed or counted once, under its true reason: with a
 * socket map far too small for the sockets open at once, the sessions that
 * did not fit are counted as lost to a full map — once each, not once per
 * start state, and not again as starts never seen.
 */
import { spawn } from 'node:child_process';
import { expect, it } from 'vitest';
import { startCli } from '../helpers/cli.js';
import { describeKernel } from '../helpers/kernel.js';

const HOLD = `
import socket, sys, time
n = int(sys.argv[1])
srv = socket.socket(); srv.bind(("127.0.0.1", 0)); srv.listen(1024)
port = srv.getsockname()[1]
print(port, flush=True)
sys.stdin.readline()                      # tracing has started
clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(n)]
servers = [srv.accept()[0] for _ in range(n)]
time.sleep(0.2)
for s in clients + servers: s.close()
time.sleep(0.3)
print("done", flush=True)
`;

describeKernel('loss accounting', () => {
  it('a full socket map: printed + lost = every session, each counted once', async () => {
    const N = 200;
    const hold = spawn('python3', ['-c', HOLD, String(N)], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    hold.stdout!.on('data', (d) => {
      out += d;
    });
    while (!out.includes('\n')) await new Promise((r) => setTimeout(r, 20));
    const port = Number(out.trim());
    const cli = startCli([
      '--verbose',
      '-j',
      '--stats',
      '--map-size',
      '16',
      `lport == ${port} or rport == ${port}`,
    ]);
    await cli.ready;
    hold.stdin!.write('go\n');
    while (!out.includes('done')) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 200));
    cli.proc.kill('SIGINT');
    expect(await cli.exit).toBe(0);
    const printed = cli.stdout.trim().split('\n').filter(Boolean).length;
    const mapFull = Number(/(\d+) with the socket map full/.exec(cli.stderr)?.[1]);
    const notSeen = Number(
      /(\d+) session\(s\) closed whose start was not seen/.exec(cli.stderr)?.[1],
    );
    // 2N sockets closed; 16 fit in the map at once.
    expect(printed).toBe(16);
    expect(printed + mapFull).toBe(2 * N);
    expect(notSeen).toBe(0);
  });
});
