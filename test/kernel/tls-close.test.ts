/**
 * A routine TLS shutdown, measured with a real TLS client and server (Python's
 * ssl over loopback): the server answers and closes without reading the
 * client's close_notify, which arrives at a socket whose owner has closed.
 * The kernel answers it with a reset (a close with data unread, RFC 1122), so
 * one end of a perfectly good HTTPS exchange reads `aborted` (the server)
 * or `reset` (the client), and the other `closed`. That is TCP-correct; the
 * docs say how to tell it from a real reset (docs/fields.md, How a session ended).
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { startCli } from '../helpers/cli.js';
import { describeKernel } from '../helpers/kernel.js';
import { sleep } from '../helpers/tcpgen.js';

const SERVER = `
import socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
l = socket.socket()
l.bind(("127.0.0.1", 0))
l.listen()
print(l.getsockname()[1], flush=True)
c, _ = l.accept()
s = ctx.wrap_socket(c, server_side=True)
s.recv(100)
s.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\nConnection: close\\r\\n\\r\\nok")
# As many web servers do: close without reading the client's close_notify.
s.close()
`;

const CLIENT = `
import socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))))
s.sendall(b"GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n")
body = b""
while not body.endswith(b"ok"):
    body += s.recv(100)
# As curl does at the end: its close_notify, then close.
try:
    s.unwrap()
except OSError:
    pass
s.close()
`;

describeKernel('a routine TLS shutdown', () => {
  it('one end reads aborted or reset, the other closed, every byte delivered', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tl-tls-'));
    const [cert, key] = [join(dir, 'c.pem'), join(dir, 'k.pem')];
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '1',
        '-subj',
        '/CN=localhost',
      ],
      { stdio: 'ignore' },
    );
    const server = spawn('/usr/bin/python3', ['-c', SERVER, cert, key], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const port = await new Promise<number>((resolve) =>
      server.stdout!.once('data', (d) => resolve(Number(String(d).trim()))),
    );
    const cli = startCli(['-v', '-j', `port == ${port}`]);
    await cli.ready;
    execFileSync('/usr/bin/python3', ['-c', CLIENT, String(port)]);
    await sleep(500);
    cli.proc.kill('SIGINT');
    await cli.exit;
    server.kill();
    const got = cli.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l))
      .map((o) => [o.role, o.outcome] as const)
      .sort();
    expect(got).toHaveLength(2);
    const [client, srv] = got;
    // Whichever end the reset reaches first, the other end closed in order.
    expect([
      [
        ['client', 'closed'],
        ['server', 'aborted'],
      ],
      [
        ['client', 'reset'],
        ['server', 'closed'],
      ],
    ]).toContainEqual([client, srv]);
  });
});
