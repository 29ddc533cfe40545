/**
 * pcap-filter habits (`dst port 443`, `tcp port 443`, `host 10.0.0.1`,
 * `src net 10.0.0.0/8`): tcplife does not take them as syntax — a session
 * has fields, not packets with a direction — but a filter written so gets
 * one pointed error naming the tcplife filter that says it (src is this
 * side, dst the peer: lport/laddr and rport/raddr; host, port and net
 * either side; tcp is every session, all of them being TCP).
 */

const JOINERS: Readonly<Record<string, string>> = {
  and: 'and',
  '&&': 'and',
  or: 'or',
  '||': 'or',
  not: 'not',
  '!': 'not',
};

const FIELDS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  port: { src: 'lport', dst: 'rport', '': 'port' },
  host: { src: 'laddr', dst: 'raddr', '': 'addr' },
  net: { src: 'laddr', dst: 'raddr', '': 'addr' },
};

/** The tcplife filter a pcap-filter expression means, or undefined when it is not one. */
export function pcapEquivalent(text: string): string | undefined {
  const words = text.trim().split(/\s+/).filter(Boolean);
  const out: string[] = [];
  let primitives = 0;
  let pcapOnly = false;
  for (let i = 0; i < words.length; ) {
    const w = words[i]!;
    if (JOINERS[w]) {
      out.push(JOINERS[w]!);
      i++;
      continue;
    }
    let proto = false;
    let word = w;
    if (word === 'tcp') {
      proto = true;
      word = words[++i] ?? '';
    }
    let dir = '';
    if (word === 'src' || word === 'dst') {
      dir = word;
      word = words[++i] ?? '';
    }
    const kind = FIELDS[word];
    if (kind) {
      const value = words[i + 1];
      if (value === undefined || JOINERS[value]) return undefined;
      const field = kind[dir]!;
      out.push(word === 'net' ? `${field} in (${value})` : `${field} == ${value}`);
      i += 2;
      primitives++;
      // `port 22` and `host a` are a missing operator too; the rest only pcap has.
      if (proto || dir || word === 'net') pcapOnly = true;
      continue;
    }
    if (proto && !dir && (word === '' || JOINERS[word])) {
      // `tcp` alone: every session.
      out.push('lport >= 0');
      primitives++;
      pcapOnly = true;
      continue;
    }
    return undefined;
  }
  return primitives > 0 && pcapOnly ? out.join(' ') : undefined;
}
