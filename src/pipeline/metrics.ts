/**
 * --metrics [HOST:]PORT: sessions as Prometheus metrics, served at /metrics
 * by prom-client while tracing runs. Label names are field names (plus
 * `rule`); past --max-series label sets, sessions go to one overflow series
 * whose labels are all `__other__`. The kernel's counters are read at each
 * scrape. A scrape only reads counters: it never waits on tracing.
 */
import { createServer, type Server } from 'node:http';
import { Counter, Histogram, Registry } from 'prom-client';
import type { TracerStats } from '../kernel/tracer.js';
import { metricValue } from '../model/groups.js';
import { DEFAULT_BUCKETS, DEFAULT_MAX_SERIES } from '../plan/metrics.js';
import { OUT_FIELDS, type Row } from './fields.js';

const OTHER = '__other__';

export interface MetricsOptions {
  /** label names: fields, or `rule` */
  readonly labels: readonly string[];
  readonly buckets?: readonly number[];
  readonly maxSeries?: number;
  /** counters of the kernel, read at each scrape */
  readonly stats: () => TracerStats;
  /** said once when the series cap is reached */
  readonly onOverflow?: (cap: number) => void;
  /** called before a scrape is rendered (the tracer drains its ring there) */
  readonly beforeRender?: () => void;
  /** The kernel counts the sessions and bytes (add() is then not called): read at each scrape. */
  readonly kernel?: KernelMetrics;
}

/**
 * The kernel's counters of --metrics (Tracer.readMetrics): each label
 * set's, with the session its key reads as; then the overflow's (none).
 */
export type KernelMetrics = (
  visit: (labels: Row | undefined, value: DataView, valueOff: number) => void,
) => void;

/** One line of a histogram as prom-client's registry renders it. */
interface HistValue {
  readonly labels: Record<string, string | number>;
  readonly sharedLabels: Record<string, string>;
  readonly value: number;
  readonly metricName: string;
}

export class SessionMetrics {
  readonly registry = new Registry();
  private readonly sessions: Counter;
  private readonly sent: Counter;
  private readonly received: Counter;
  /** The duration histogram, when userspace counts (add()). */
  private readonly duration: Histogram | undefined;
  private readonly buckets: number[];
  /** With the kernel counting: the histogram's lines, made at each scrape. */
  private kernelLines: HistValue[] = [];
  private readonly dropped: Counter;
  private readonly series = new Set<string>();
  private readonly getters: ((r: Row) => string)[];
  private readonly byRule: boolean;
  private warned = false;

  constructor(private readonly o: MetricsOptions) {
    const labelNames = [...o.labels];
    this.byRule = o.labels.includes('rule');
    this.getters = o.labels
      .filter((l) => l !== 'rule')
      .map((l) => {
        const f = OUT_FIELDS[l]!;
        return (r: Row) => String(f.value(r) ?? '');
      });
    const r = this.registry;
    this.sessions = new Counter({
      name: 'tcplife_sessions_total',
      help: 'TCP sessions that closed (once per rule matched, with a rule label)',
      labelNames,
      registers: [r],
    });
    this.sent = new Counter({
      name: 'tcplife_sent_bytes_total',
      help: 'bytes acked by the peers (tx_b)',
      labelNames,
      registers: [r],
    });
    this.received = new Counter({
      name: 'tcplife_received_bytes_total',
      help: 'bytes received (rx_b)',
      labelNames,
      registers: [r],
    });
    this.buckets = [...(o.buckets ?? DEFAULT_BUCKETS)];
    if (o.kernel) this.registerKernelHistogram();
    else
      this.duration = new Histogram({
        name: DURATION,
        help: DURATION_HELP,
        labelNames,
        buckets: this.buckets,
        registers: [r],
      });
    this.dropped = new Counter({
      name: 'tcplife_series_dropped_total',
      help: `sessions counted in the ${OTHER} series: past --max-series label sets`,
      registers: [r],
    });
    const stats = o.stats;
    new Counter({
      name: 'tcplife_lost_sessions_total',
      help: 'sessions lost before userspace, by reason',
      labelNames: ['reason'],
      registers: [r],
      collect() {
        const s = stats();
        this.reset();
        this.inc({ reason: 'ring_full' }, s.ringbuf_drops);
        this.inc({ reason: 'map_full' }, s.map_full);
        this.inc({ reason: 'start_missed' }, s.missed_start);
        this.inc({ reason: 'no_tcp_sock' }, s.no_tcp_sock);
        this.inc({ reason: 'close_unseen' }, s.stale);
      },
    });
    new Counter({
      name: 'tcplife_kernel_skipped_runs_total',
      help: "state changes no program saw: runs the kernel skipped (bpf_prog_info's recursion_misses) that the stand-in program did not take",
      registers: [r],
      collect() {
        this.reset();
        this.inc(stats().recursion_misses);
      },
    });
  }

  /** Bytes of open sessions already counted, by session id: what their next record adds to. */
  private readonly counted = new Map<number, { tx: number; rx: number }>();

  /**
   * Counts one record (once per rule it matched, when `rule` is a label). A
   * close counts the session and its span; every record adds the bytes its
   * session moved since the last one counted, so the byte counters follow a
   * long session while it runs (interim records). An exit record adds
   * nothing: tracing is ending.
   */
  add(r: Row): void {
    if (r.event === 'exit') return;
    // Most closes follow no interim record: no lookup while none is held.
    const before = this.counted.size > 0 ? this.counted.get(r.sid) : undefined;
    const tx = r.tx_b - (before?.tx ?? 0);
    const rx = r.rx_b - (before?.rx ?? 0);
    const closed = r.event !== 'interim';
    if (!closed) this.counted.set(r.sid, { tx: r.tx_b, rx: r.rx_b });
    else if (before) this.counted.delete(r.sid);
    const values = this.getters.map((g) => g(r));
    const rules = this.byRule ? (r.rules?.length ? r.rules : ['']) : [undefined];
    for (const rule of rules) {
      const vs = rule === undefined ? values : [...values, rule];
      const labels = this.labelsFor(vs);
      if (tx > 0 || closed) this.sent.inc(labels, Math.max(0, tx));
      if (rx > 0 || closed) this.received.inc(labels, Math.max(0, rx));
      if (!closed) continue;
      this.sessions.inc(labels);
      this.duration?.observe(labels, r.span_us / 1e6);
    }
  }

  private labelsFor(values: string[]): Record<string, string> {
    const names = [...this.o.labels.filter((l) => l !== 'rule'), ...(this.byRule ? ['rule'] : [])];
    const key = JSON.stringify(values);
    const cap = this.o.maxSeries ?? DEFAULT_MAX_SERIES;
    if (!this.series.has(key)) {
      if (this.series.size >= cap) {
        if (!this.warned) {
          this.warned = true;
          this.o.onOverflow?.(cap);
        }
        this.dropped.inc();
        return Object.fromEntries(names.map((n) => [n, OTHER]));
      }
      this.series.add(key);
    }
    return Object.fromEntries(names.map((n, i) => [n, values[i]!]));
  }

  /**
   * The duration histogram when the kernel counts: its lines are the
   * kernel's bucket counts, made cumulative, in prom-client's layout (a
   * registry takes any metric whose get() gives them).
   */
  private registerKernelHistogram(): void {
    const lines = () => this.kernelLines;
    this.registry.registerMetric({
      name: DURATION,
      get: async () => ({
        name: DURATION,
        help: DURATION_HELP,
        type: 'histogram',
        values: lines(),
        aggregator: 'sum',
      }),
      reset: () => {},
    } as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  /** The counters set to the kernel's, as they are now. */
  private fromKernel(read: KernelMetrics): void {
    const names = this.o.labels;
    const lines: HistValue[] = [];
    let other = 0;
    this.sessions.reset();
    this.sent.reset();
    this.received.reset();
    read((r, v, valueOff) => {
      const m = metricValue(v, valueOff, this.buckets.length);
      if (!r) {
        other = m.sessions;
        if (m.sessions === 0 && m.tx === 0 && m.rx === 0) return;
      }
      const labels: Record<string, string> = {};
      names.forEach((n, i) => {
        labels[n] = r ? this.getters[i]!(r) : OTHER;
      });
      // Series appear as add() makes them: bytes once some moved, the rest at a close.
      if (m.tx > 0 || m.sessions > 0) this.sent.inc(labels, m.tx);
      if (m.rx > 0 || m.sessions > 0) this.received.inc(labels, m.rx);
      if (m.sessions === 0) return;
      this.sessions.inc(labels, m.sessions);
      let acc = 0;
      const bucket = `${DURATION}_bucket`;
      this.buckets.forEach((le, i) => {
        acc += m.le[i]!;
        lines.push({ labels: { le }, sharedLabels: labels, value: acc, metricName: bucket });
      });
      const line = (extra: Record<string, string>, value: number, metricName: string) =>
        lines.push({ labels: extra, sharedLabels: labels, value, metricName });
      line({ le: '+Inf' }, m.sessions, bucket);
      line({}, m.spanUs / 1e6, `${DURATION}_sum`);
      line({}, m.sessions, `${DURATION}_count`);
    });
    this.dropped.reset();
    this.dropped.inc(other);
    if (other > 0 && !this.warned) {
      this.warned = true;
      this.o.onOverflow?.(this.o.maxSeries ?? DEFAULT_MAX_SERIES);
    }
    this.kernelLines = lines;
  }

  /** A scrape's text, as /metrics serves it. */
  async text(): Promise<string> {
    return (await this.rendered()).toString();
  }

  /**
   * The text of a scrape, rendered at most once per RENDER_MS and shared
   * by every request meanwhile (one Buffer, written to each connection
   * without a copy): six scrape loops cost one render a second, not six.
   */
  private rendered(): Promise<Buffer> {
    const now = Date.now();
    if (this.cache && now - this.cache.at < RENDER_MS) return Promise.resolve(this.cache.body);
    this.rendering ??= (async () => {
      try {
        // What the ring holds is taken first: a scrape never holds up the drain for long.
        this.o.beforeRender?.();
        if (this.o.kernel) this.fromKernel(this.o.kernel);
        const body = Buffer.from(await this.registry.metrics());
        this.cache = { body, at: Date.now() };
        return body;
      } finally {
        this.rendering = undefined;
      }
    })();
    return this.rendering;
  }

  private cache: { body: Buffer; at: number } | undefined;
  private rendering: Promise<Buffer> | undefined;

  /**
   * Serves /metrics; resolves once listening, rejects with a clear error.
   * Bounded: at most `maxConnections` at once (further ones are closed), one
   * response waiting per connection (a client that sends requests and never
   * reads their answers is disconnected), and requests that must arrive
   * whole within a few seconds.
   */
  listen(host: string, port: number, maxConnections = DEFAULT_MAX_CONNECTIONS): Promise<Server> {
    const server = createServer((req, res) => {
      // The previous answer is still unread: this client does not read.
      if (req.socket.writableLength > 0) {
        req.socket.destroy();
        return;
      }
      if (req.url !== '/metrics') {
        res.writeHead(404).end('tcplife serves /metrics\n');
        return;
      }
      this.rendered().then(
        (body) => {
          if (res.socket?.destroyed) return;
          res.writeHead(200, { 'Content-Type': this.registry.contentType }).end(body);
        },
        (e: Error) => res.writeHead(500).end(`${e.message}\n`),
      );
    });
    server.maxConnections = maxConnections;
    server.headersTimeout = 5_000;
    server.requestTimeout = 10_000;
    server.keepAliveTimeout = 5_000;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve(server);
      });
    });
  }
}

const DURATION = 'tcplife_session_duration_seconds';
const DURATION_HELP = 'session lifespans';

/** A scrape's text is rendered at most this often (ms). */
const RENDER_MS = 1000;
/** Connections served at once (--metrics-max-connections). */
export const DEFAULT_MAX_CONNECTIONS = 16;
