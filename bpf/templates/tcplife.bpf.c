// SPDX-License-Identifier: GPL-2.0
/*
 * tcplife: one record per TCP session that closes, filtered in the kernel.
 *
 * This is a template: codegen fills each slot (a NAME between two pairs of at-signs) strictly (an unknown,
 * missing or leftover slot is an error). The slots carry generated code built
 * from validated numbers only; no user text is pasted here.
 */
#include "tcplife-vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

/* The event layout, generated from the field registry (src/model) with a size assert. */
@@EVENT_STRUCT@@

/* Codes of the registry's enum fields (role, outcome): 1 for the first value; 0 is none. */
@@ENUMS@@

/* What was learnt about a socket before it closed. Generated from src/model/start.ts. */
@@START_STRUCT@@

/* Per-CPU counters; userspace sums them. Generated from src/model/counters.ts. */
@@STATS_STRUCT@@

/*
 * Where a socket's start is kept (settings.socket_storage, for tp_btf
 * programs): 0, the hash `starts`, keyed by the socket's address; 1, the
 * socket's own storage (no table to fill, freed by the kernel with the
 * socket, but an allocation per socket); 2, the default: the hash while it
 * has room, the socket's storage for the sockets beyond it. raw_tp programs
 * (the fallback; their socket is not a BTF pointer, which socket storage
 * needs) use the hash alone. The loader creates only the maps in use.
 */
struct {
  __uint(type, BPF_MAP_TYPE_SK_STORAGE);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, int);
  __type(value, struct start);
} sk_starts SEC(".maps");

/* Sizes are defaults: the loader sets them from options before load. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 65536);
  __type(key, __u64);
  __type(value, struct start);
} starts SEC(".maps");

/*
 * Sockets whose start did not fit in `starts`: when one closes, its session
 * is counted once as lost to a full map, not as a start never seen. An LRU
 * map never refuses an entry; it would forget the oldest of more than this
 * many such sockets open at once, which would then count as starts not seen.
 */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 8192);
  __type(key, __u64);
  __type(value, __u8);
} overflowed SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 16 << 20);
} events SEC(".maps");

/* Index 0 counts the main program's work, 1 the stand-in's (below): a
 * nested run never increments a counter the run it interrupted is updating. */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 2);
  __type(key, __u32);
  __type(value, struct stats);
} counters SEC(".maps");

/* What a walk of the open sessions does (tcplife_walk, below); set by userspace before each (src/model/walk.ts). */
@@WALK_STRUCT@@
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct open_walk);
} walk SEC(".maps");

/*
 * Ids for sessions whose socket has no cookie (the kernel makes one only
 * when asked, and a raw_tp program or an iterator over a task's files
 * cannot ask): from 2^52 up, far above any cookie the kernel hands out and
 * still exact as a JSON number.
 */
#define SID_MADE (1ULL << 52)
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} sid_seq SEC(".maps");

static __always_inline __u64 sid_of(__u64 cookie)
{
  if (cookie)
    return cookie;
  __u32 zero = 0;
  __u64 *n = bpf_map_lookup_elem(&sid_seq, &zero);
  return n ? SID_MADE + __sync_fetch_and_add(n, 1) : SID_MADE;
}

/*
 * Per CPU: the state changes the main program took there, newest on top
 * (see tcplife_btf_nested). Changes nested into a stand-in's start push
 * theirs above the one it looks for; with as many as there are slots it would
 * not find its own and take its change a second time (and the account
 * would show one skipped run fewer than there were). Measured in storms of
 * a million changes: the token found one deep 1 to 5 times, two deep once
 * or twice, never deeper. 16 slots; the search stops at the first match,
 * nearly always the top (no cost measured beside 4 slots).
 */
#define TAKEN_SLOTS 16
/* A token counts if pushed among the last this many: more than the state
 * changes one softirq run takes between a main run and its stand-in's. */
#define TAKEN_RECENT 4096
struct taken {
  __u64 top;
  /* Tokens pushed so far on this CPU. */
  __u64 pushed;
  __u64 token[TAKEN_SLOTS];
  __u64 when[TAKEN_SLOTS];
};

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct taken);
} taken SEC(".maps");


/*
 * Settings that are not code, set by the loader before load (read-only data,
 * generated from src/codegen/settings.ts). settings.wakeup_bytes: records
 * are submitted without waking the reader, which drains the ring on a short
 * timer (a wake-up per record costs the traced workload dearly); once this
 * much data waits, the reader is woken at once so a burst cannot fill the
 * ring between two timer ticks.
 */
@@SETTINGS@@

/* In-kernel summaries (src/model/groups.ts): a group's counts and span histogram. */
@@GROUPS@@

/*
 * With settings.aggregate, sessions are summarised per group in one of two
 * maps; `summary_map` says which. Userspace switches it at each interval,
 * waits until no program can still be writing the other (an RCU grace
 * period, through membarrier), then reads and empties that one.
 */
#define GROUPS_MAP(name)                                                                   \
  struct {                                                                                 \
    __uint(type, BPF_MAP_TYPE_HASH);                                                       \
    __uint(map_flags, BPF_F_NO_PREALLOC);                                                  \
    __uint(max_entries, 1);                                                                \
    __type(key, struct event);                                                             \
    __type(value, struct group_val);                                                       \
  } name SEC(".maps")

GROUPS_MAP(groups_a);
GROUPS_MAP(groups_b);

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u32);
} summary_map SEC(".maps");

/* A zero group value, too large for the stack, to insert a new group with. */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct group_val);
} zero_group SEC(".maps");

/*
 * --metrics counted in the kernel (settings.metrics): a label set's
 * counters, keyed as a group is (settings.metric_mask), never emptied:
 * userspace reads them at each scrape. Label sets past the map's room
 * (--max-series) count in metrics_other. settings.metrics: 1 counts
 * and sends records as usual, METRICS_ONLY sends none (-o none).
 */
#define METRICS_ONLY 2
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 1);
  __type(key, struct event);
  __type(value, struct metric_val);
} metrics SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct metric_val);
} metrics_other SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct metric_val);
} zero_metric SEC(".maps");

static __always_inline struct stats *stats(__u32 which)
{
  return bpf_map_lookup_elem(&counters, &which);
}

static __always_inline void remember_owner(struct start *s)
{
  __u64 id = bpf_get_current_uid_gid();
  s->pid = bpf_get_current_pid_tgid() >> 32;
  s->uid = (__u32)id;
  bpf_get_current_comm(&s->comm, sizeof(s->comm));
  s->cgroup_id = bpf_get_current_cgroup_id();
  s->owner = 1;
}

/*
 * How a session ended, from the state it left and the socket's error, both
 * as they are at the transition to CLOSE: tcp_reset() sets ECONNREFUSED in
 * SYN_SENT, EPIPE in CLOSE_WAIT and ECONNRESET elsewhere; tcp_write_err()
 * sets ETIMEDOUT (or a soft ICMP error) before tcp_done(). With no error, a
 * close from the end of the FIN exchange is orderly; from any other state
 * this side aborted (SO_LINGER 0, close with unread data, abort).
 */
static __always_inline __u8 outcome_of(int oldstate, int err)
{
  switch (err) {
  case 0:
    if (oldstate == TCP_FIN_WAIT2 || oldstate == TCP_TIME_WAIT || oldstate == TCP_CLOSING ||
        oldstate == TCP_LAST_ACK)
      return OUTCOME_CLOSED;
    /* Closed by its own side while connecting, with no error of the
     * kernel's: the application gave up (connect timeout, curl
     * --connect-timeout). The kernel's own give-up is ETIMEDOUT. */
    if (oldstate == TCP_SYN_SENT)
      return OUTCOME_ABANDONED;
    return OUTCOME_ABORTED;
  case ECONNREFUSED:
    return OUTCOME_REFUSED;
  case ETIMEDOUT:
    return OUTCOME_TIMEOUT;
  case ECONNRESET:
  case EPIPE:
    return OUTCOME_RESET;
  default:
    return OUTCOME_ERROR;
  }
}

/* Address helpers for the generated filter: a is network order bytes. */
static __always_inline __u32 be32_at(const __u8 *a)
{
  return ((__u32)a[0] << 24) | ((__u32)a[1] << 16) | ((__u32)a[2] << 8) | a[3];
}

static __always_inline bool v4_in(const __u8 *a, __u8 family, __u32 net, __u32 mask)
{
  if (family == 4)
    return (be32_at(a) & mask) == net;
  /* IPv4-mapped IPv6 (::ffff:a.b.c.d), as dual-stack sockets report IPv4 peers */
  if (be32_at(a) != 0 || be32_at(a + 4) != 0 || be32_at(a + 8) != 0xffff)
    return false;
  return (be32_at(a + 12) & mask) == net;
}

static __always_inline bool v6_in(const __u8 *a, __u8 family, __u32 n0, __u32 n1, __u32 n2,
                                  __u32 n3, __u32 m0, __u32 m1, __u32 m2, __u32 m3)
{
  return family == 6 && (be32_at(a) & m0) == n0 && (be32_at(a + 4) & m1) == n1 &&
         (be32_at(a + 8) & m2) == n2 && (be32_at(a + 12) & m3) == n3;
}

/*
 * A filter of a PID, a family and sets of ports, read from the settings: the
 * same C for every such filter (src/codegen/settings-filter.ts). The verifier
 * sees the frozen settings as constants and drops the tests that are off.
 */
static __always_inline bool settings_filter(const struct event *e)
{
  __u64 on = settings.filter;
  if ((on & 1) && e->pid != settings.filter_pid)
    return false;
  if ((on & 2) && e->family != settings.filter_family)
    return false;
  if ((on & 4) && !((settings.lport_set[(e->lport >> 6) & 1023] >> (e->lport & 63)) & 1))
    return false;
  if ((on & 8) && !((settings.rport_set[(e->rport >> 6) & 1023] >> (e->rport & 63)) & 1))
    return false;
  return true;
}

/*
 * Address sets longer than the filter writes out as comparisons (more than
 * 32 CIDRs): longest-prefix tries that the loader fills from the set before
 * attaching, so the C is the same whatever the set holds (one cached object)
 * and a session costs one or two lookups. A key is the family (4 or 6) then
 * the address; a CIDR a.b.c.d/p is the key 4,a,b,c,d with prefix 8 + p. An
 * IPv4-mapped IPv6 address is also looked up as the IPv4 it holds, as the
 * filter's meaning has it (src/dsl/addr.ts: inCidr).
 */
struct addr_key {
  __u32 prefixlen;
  __u8 data[17];
};
#define ADDR_SET(name)                                                                     \
  struct {                                                                                 \
    __uint(type, BPF_MAP_TYPE_LPM_TRIE);                                                   \
    __uint(map_flags, BPF_F_NO_PREALLOC);                                                  \
    __uint(max_entries, 1);                                                                \
    __type(key, struct addr_key);                                                          \
    __type(value, __u8);                                                                   \
  } name SEC(".maps")
ADDR_SET(addr_set_0);
ADDR_SET(addr_set_1);
ADDR_SET(addr_set_2);
ADDR_SET(addr_set_3);

static __always_inline bool addr_in_set(void *set, const __u8 *a, __u8 family)
{
  struct addr_key k = {};
  if (family == 4) {
    k.prefixlen = 8 + 32;
    k.data[0] = 4;
    __builtin_memcpy(&k.data[1], a, 4);
    return bpf_map_lookup_elem(set, &k) != 0;
  }
  k.prefixlen = 8 + 128;
  k.data[0] = 6;
  __builtin_memcpy(&k.data[1], a, 16);
  if (bpf_map_lookup_elem(set, &k))
    return true;
  for (int i = 0; i < 10; i++)
    if (a[i])
      return false;
  if (a[10] != 0xff || a[11] != 0xff)
    return false;
  struct addr_key v4 = {};
  v4.prefixlen = 8 + 32;
  v4.data[0] = 4;
  __builtin_memcpy(&v4.data[1], &a[12], 4);
  return bpf_map_lookup_elem(set, &v4) != 0;
}

/* Generated: sets used by the filter (port bitmaps). */
@@FILTER_DATA@@

/* Generated: the kernel half of the user's filter. */
static __always_inline bool filter(const struct event *e)
{
  return @@FILTER_EXPR@@;
}

/*
 * A field of the socket: read directly in tp_btf programs, whose socket is a
 * BTF pointer (a plain load, CO-RE relocated, checked by the verifier), and
 * through bpf_probe_read_kernel in raw_tp ones. `btf` is a constant in each
 * program, so only one branch is compiled.
 */
#define SK_READ(btf, src, field) ((btf) ? (src)->field : BPF_CORE_READ(src, field))

/*
 * The socket's start, created when `create` and there is none yet;
 * `in_storage` says which store holds it (the close frees each its way).
 */
static __always_inline struct start *start_of(struct sock *sk, const bool btf, bool create,
                                              bool *in_storage)
{
  __u32 storage = btf ? settings.socket_storage : 0;
  *in_storage = storage == 1;
  if (storage == 1)
    return bpf_sk_storage_get(&sk_starts, sk, 0, create ? BPF_SK_STORAGE_GET_F_CREATE : 0);
  __u64 key = (__u64)sk;
  struct start *s = bpf_map_lookup_elem(&starts, &key);
  if (s)
    return s;
  if (storage == 2) {
    /* A start that the full hash sent to the socket's storage. */
    s = bpf_sk_storage_get(&sk_starts, sk, 0, 0);
    if (s) {
      *in_storage = true;
      return s;
    }
  }
  if (!create)
    return 0;
  struct start n = {};
  long err = bpf_map_update_elem(&starts, &key, &n, BPF_NOEXIST);
  if (!err || err == -EEXIST)
    return bpf_map_lookup_elem(&starts, &key);
  if (storage != 2)
    return 0;
  *in_storage = true;
  return bpf_sk_storage_get(&sk_starts, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
}

/*
 * The socket's cookie: the kernel's id for it, made on first asking. A
 * tp_btf (or iterator) program asks with the helper; a raw_tp one can only
 * read it, 0 when nothing asked yet.
 */
static __always_inline __u64 cookie_of(struct sock *sk, const bool btf)
{
  return btf ? bpf_get_socket_cookie(sk) : BPF_CORE_READ(sk, __sk_common.skc_cookie.counter);
}

/*
 * A record of the session on `sk` as it stands `now`, from its start `s`:
 * everything but how it ended (event, outcome) and, when the start has no
 * owner, the owner. False when the socket gives no tcp_sock.
 */
static __always_inline bool fill_event(struct event *e, struct sock *sk, const struct start *s,
                                       __u64 now, const bool btf)
{
  e->ts_ns = now;
  e->span_us = (now - s->ts_ns) / 1000;
  /* tp_btf: a BTF pointer to the tcp_sock; inet_sock is at its start. */
  struct tcp_sock *tp = btf ? bpf_skc_to_tcp_sock(sk) : (struct tcp_sock *)sk;
  if (!tp)
    return false;
  e->rx_b = SK_READ(btf, tp, bytes_received);
  e->tx_b = SK_READ(btf, tp, bytes_acked);
  e->retrans = SK_READ(btf, tp, total_retrans);
  e->rtt_us = SK_READ(btf, tp, srtt_us) >> 3;
  e->role = s->role;
  e->sid = s->sid;
  e->start_seen = !s->adopted;
  e->netns = btf ? sk->__sk_common.skc_net.net->ns.inum
                 : BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
  if (s->owner) {
    e->pid = s->pid;
    e->uid = s->uid;
    __builtin_memcpy(e->comm, s->comm, sizeof(e->comm));
    e->cgroup_id = s->cgroup_id;
    e->owner = 1;
  }
  /* skc_num is already 0 for ephemeral ports at close: inet_sport is still set. */
  struct inet_sock *inet = (struct inet_sock *)tp;
  e->lport = bpf_ntohs(SK_READ(btf, inet, inet_sport));
  e->rport = bpf_ntohs(SK_READ(btf, sk, __sk_common.skc_dport));
  __u16 family = SK_READ(btf, sk, __sk_common.skc_family);
  if (family == AF_INET) {
    e->family = 4;
    __be32 la = SK_READ(btf, sk, __sk_common.skc_rcv_saddr);
    __be32 ra = SK_READ(btf, sk, __sk_common.skc_daddr);
    __builtin_memcpy(e->laddr, &la, 4);
    __builtin_memcpy(e->raddr, &ra, 4);
  } else if (btf) {
    e->family = 6;
    __builtin_memcpy(e->laddr, sk->__sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8, 16);
    __builtin_memcpy(e->raddr, sk->__sk_common.skc_v6_daddr.in6_u.u6_addr8, 16);
  } else {
    e->family = 6;
    BPF_CORE_READ_INTO(&e->laddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
    BPF_CORE_READ_INTO(&e->raddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
  }
  return true;
}

/*
 * The value at key, made from zero (the one value of zero_map, a per-CPU
 * array: too large for the stack) when it is not there yet; NULL when the
 * map has no room for it.
 */
static __always_inline void *lookup_or_zero(void *map, const void *key, void *zero_map)
{
  void *v = bpf_map_lookup_elem(map, key);
  if (v)
    return v;
  __u32 zero = 0;
  void *z = bpf_map_lookup_elem(zero_map, &zero);
  if (!z)
    return NULL;
  long err = bpf_map_update_elem(map, key, z, BPF_NOEXIST);
  if (err && err != -EEXIST)
    return NULL;
  return bpf_map_lookup_elem(map, key);
}

static __always_inline void add_to(void *groups, const struct event *k, const struct event *e,
                                   struct stats *st)
{
  struct group_val *g = lookup_or_zero(groups, k, &zero_group);
  if (!g) {
    st->group_full++;
    return;
  }
  __sync_fetch_and_add(&g->sessions, 1);
  __sync_fetch_and_add(&g->tx_b, e->tx_b);
  __sync_fetch_and_add(&g->rx_b, e->rx_b);
  __sync_fetch_and_add(&g->span_hist[span_bucket(hist_value(e))], 1);
}

/* The counters of a record's label set: a new one past the map's room counts in metrics_other. */
static __always_inline struct metric_val *metric_of(const struct event *e)
{
  struct event k = {};
  group_key_of(e, &k, settings.metric_mask);
  struct metric_val *m = lookup_or_zero(&metrics, &k, &zero_metric);
  if (m)
    return m;
  __u32 zero = 0;
  return bpf_map_lookup_elem(&metrics_other, &zero);
}

/*
 * A record into the metrics: the bytes its session moved since what an
 * earlier interim record counted (tx_seen, rx_seen); a close also counts
 * the session and its span, in the first bucket whose bound holds it.
 */
static __always_inline void count_metrics(const struct event *e, __u64 tx_seen, __u64 rx_seen,
                                          const bool close)
{
  struct metric_val *m = metric_of(e);
  if (!m)
    return;
  if (e->tx_b > tx_seen)
    __sync_fetch_and_add(&m->tx_b, e->tx_b - tx_seen);
  if (e->rx_b > rx_seen)
    __sync_fetch_and_add(&m->rx_b, e->rx_b - rx_seen);
  if (!close)
    return;
  __sync_fetch_and_add(&m->sessions, 1);
  __sync_fetch_and_add(&m->span_us, e->span_us);
  __u32 i = 0;
  for (; i < METRIC_BOUNDS; i++)
    if (e->span_us <= settings.metric_bounds[i])
      break;
  __sync_fetch_and_add(&m->le[i], 1);
}

/* A session into its group of the current summary map. */
static __always_inline void summarise(const struct event *e, struct stats *st)
{
  __u32 zero = 0;
  __u32 *which = bpf_map_lookup_elem(&summary_map, &zero);
  if (!which)
    return;
  struct event k = {};
  group_key_of(e, &k, settings.group_mask);
  if (*which)
    add_to(&groups_b, &k, e, st);
  else
    add_to(&groups_a, &k, e, st);
}

static __always_inline int on_state(struct sock *sk, int oldstate, int newstate, const bool btf,
                                    struct stats *st)
{
  if (SK_READ(btf, sk, sk_protocol) != IPPROTO_TCP)
    return 0;
  __u16 family = SK_READ(btf, sk, __sk_common.skc_family);
  if (family != AF_INET && family != AF_INET6)
    return 0;

  __u64 key = (__u64)sk;

  bool in_storage;
  if (newstate < TCP_FIN_WAIT1) {
    /* SYN_SENT, SYN_RECV, ESTABLISHED: the session starts at the first one seen. */
    struct start *s = start_of(sk, btf, true, &in_storage);
    if (!s) {
      /* No room for it: its close is counted once, as lost to a full map. */
      __u8 one = 1;
      bpf_map_update_elem(&overflowed, &key, &one, BPF_ANY);
      return 0;
    }
    if (s->ts_ns && (newstate == TCP_SYN_SENT ||
                     (newstate == TCP_SYN_RECV && oldstate != TCP_SYN_SENT))) {
      /* A session begins here (connect, or a child of a listener; not a
       * simultaneous open), yet a start is there: left in the hash by an
       * earlier socket at this address whose close no program saw. Counted,
       * and replaced: this socket's session begins now. */
      st->stale++;
      s->ts_ns = 0;
    }
    if (!s->ts_ns) {
      /* A new session (a socket storage is zero when made, and its
       * ts_ns is cleared at close: a socket can connect again). */
      s->ts_ns = bpf_ktime_get_ns();
      s->owner = 0;
      s->adopted = 0;
      s->last_ns = 0;
      s->counted_tx = 0;
      s->counted_rx = 0;
      s->cookie = cookie_of(sk, btf);
      s->sid = sid_of(s->cookie);
      st->started++;
      s->role =
          newstate == TCP_SYN_SENT ? ROLE_CLIENT : newstate == TCP_SYN_RECV ? ROLE_SERVER : 0;
    }
    /* connect() runs in the owner's context; the server's SYN_RECV does not. */
    if (newstate == TCP_SYN_SENT)
      remember_owner(s);
    return 0;
  }

  if ((newstate == TCP_FIN_WAIT1 && oldstate == TCP_ESTABLISHED) || newstate == TCP_LAST_ACK) {
    /* Active close (close() or shutdown()) and passive close run in the owner's context. */
    struct start *s = start_of(sk, btf, false, &in_storage);
    if (s && s->ts_ns)
      remember_owner(s);
    return 0;
  }

  if (newstate != TCP_CLOSE)
    return 0;
  if (oldstate == TCP_LISTEN)
    return 0; /* a listener closing is not a session */

  struct start *sp = start_of(sk, btf, false, &in_storage);
  if (!sp || !sp->ts_ns) {
    /* Once per session, under its true reason. */
    if (bpf_map_lookup_elem(&overflowed, &key)) {
      bpf_map_delete_elem(&overflowed, &key);
      st->map_full++;
    } else {
      st->missed_start++;
    }
    return 0;
  }
  struct start s = *sp;
  /* On every path below, filtered or not: the socket storage is freed with
   * the socket, and marked used in case the socket connects again. */
  if (in_storage)
    sp->ts_ns = 0;
  else
    bpf_map_delete_elem(&starts, &key);
  st->closed++;

  __u64 now = bpf_ktime_get_ns();
  struct event e = {};
  if (!fill_event(&e, sk, &s, now, btf)) {
    /* Counted among the lost: a session is never dropped silently. */
    st->no_tcp_sock++;
    return 0;
  }
  e.event = EVENT_CLOSE;
  e.outcome = outcome_of(oldstate, SK_READ(btf, sk, sk_err));
  if (!s.owner) {
    /* Best effort, as the original tool: the task running at close. */
    __u64 id = bpf_get_current_uid_gid();
    e.pid = bpf_get_current_pid_tgid() >> 32;
    e.uid = (__u32)id;
    bpf_get_current_comm(&e.comm, sizeof(e.comm));
    e.cgroup_id = bpf_get_current_cgroup_id();
    st->owner_unknown++;
  }

  if (!filter(&e))
    return 0;
  st->passed++;
  if (settings.metrics) {
    count_metrics(&e, s.counted_tx, s.counted_rx, true);
    if (settings.metrics == METRICS_ONLY)
      return 0;
  }
  if (settings.aggregate) {
    summarise(&e, st);
    return 0;
  }

  struct event *out = bpf_ringbuf_reserve(&events, sizeof(e), 0);
  if (!out) {
    st->ringbuf_drops++;
    return 0;
  }
  __builtin_memcpy(out, &e, sizeof(e));
  __u64 flags = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= settings.wakeup_bytes
                    ? BPF_RB_FORCE_WAKEUP
                    : BPF_RB_NO_WAKEUP;
  bpf_ringbuf_submit(out, flags);
  return 0;
}

/*
 * An accepted session that its peer resets ends without a state change in
 * its owner's process (the reset is handled in softirq). The owner's first
 * receive or send on the socket runs in its context: take the owner there,
 * while it is still unknown. (Linux 6.3 and later have these tracepoints;
 * the loader leaves these programs out elsewhere.)
 */
static __always_inline int claim_owner(struct sock *sk, const bool btf)
{
  if (SK_READ(btf, sk, sk_protocol) != IPPROTO_TCP)
    return 0;
  bool in_storage;
  struct start *s = start_of(sk, btf, false, &in_storage);
  if (s && s->ts_ns && !s->owner)
    remember_owner(s);
  return 0;
}

SEC("tp_btf/sock_recv_length")
int tcplife_recv_btf(__u64 *ctx)
{
  return claim_owner((struct sock *)ctx[0], true);
}

SEC("tp_btf/sock_send_length")
int tcplife_send_btf(__u64 *ctx)
{
  return claim_owner((struct sock *)ctx[0], true);
}

SEC("raw_tp/sock_recv_length")
int tcplife_recv_raw(__u64 *ctx)
{
  return claim_owner((struct sock *)ctx[0], false);
}

SEC("raw_tp/sock_send_length")
int tcplife_send_raw(__u64 *ctx)
{
  return claim_owner((struct sock *)ctx[0], false);
}

/*
 * The kernel runs a program at most once per CPU at a time: a state change
 * nested into a running one (an interrupt during the program's run, whose
 * exit processes pending network softirqs) skips it and only counts the
 * skip (recursion_misses). Bursts of connections made that hundreds of
 * closes at once.
 * So each attach point has two programs on the tracepoint, run one after
 * the other for each state change: the main one, which first pushes the
 * change's token on its CPU's `taken` stack, and a stand-in, which pops it
 * if it is there (the main program took this change) and otherwise does
 * the work itself: the main program was skipped for it.
 * The token, not a flag the main program holds while it runs: the kernel
 * counts a program as running from before its first instruction to after
 * its last, and interrupts land there too (in a VM, the self-interrupt a
 * run asks for, to refill the hash's memory or wake the reader, arrives
 * just after it). A change nested into the stand-in's own start pushes its
 * token above the one it looks for (and its stand-in is skipped): those are
 * taken, and popped with it. One nested just after the stand-in's pop stays
 * behind: a token counts only if pushed recently, so an old one left so
 * cannot pass for a new socket's at the same address.
 * Each program counts into its own counters; the state changes neither saw
 * are the main program's skips less the stand-in's `nested` runs.
 */
static __always_inline __u64 change_token(__u64 *ctx, const bool btf)
{
  struct sock *sk = (struct sock *)ctx[0];
  __u64 change = ctx[1] << 48 ^ ctx[2] << 56;
  /* A socket's memory is soon reused by a new one making the same changes:
   * its ports tell them apart (both in one read). */
  __u64 ports = SK_READ(btf, sk, __sk_common.skc_portpair);
  if (!btf)
    return ctx[0] ^ ports << 8 ^ change; /* the socket's address */
  /* A typed pointer's value cannot be read as a number: the connection's
   * addresses (skc_hash covers IPv6) stand in for it. */
  struct sock_common *c = &sk->__sk_common;
  return ((__u64)c->skc_daddr << 32 | c->skc_rcv_saddr) ^ (__u64)c->skc_hash << 16 ^ ports ^
         change;
}

static __always_inline int main_run(__u64 *ctx, const bool btf)
{
  __u32 zero = 0;
  struct taken *t = bpf_map_lookup_elem(&taken, &zero);
  struct stats *st = stats(0);
  if (!t || !st)
    return 0;
  __u64 top = t->top + 1;
  __u64 pushed = t->pushed + 1;
  t->token[top & (TAKEN_SLOTS - 1)] = change_token(ctx, btf);
  t->when[top & (TAKEN_SLOTS - 1)] = pushed;
  /* The slot before the top: a change nested in between sees neither. */
  asm volatile("" ::: "memory");
  t->pushed = pushed;
  t->top = top;
  on_state((struct sock *)ctx[0], (int)ctx[1], (int)ctx[2], btf, st);
  return 0;
}

static __always_inline int nested_run(__u64 *ctx, const bool btf)
{
  __u32 zero = 0;
  struct taken *t = bpf_map_lookup_elem(&taken, &zero);
  if (!t)
    return 0;
  __u64 top = t->top;
  __u64 pushed = t->pushed;
  __u64 token = change_token(ctx, btf);
#pragma unroll
  for (__u32 i = 0; i < TAKEN_SLOTS; i++) {
    __u32 slot = (top - i) & (TAKEN_SLOTS - 1);
    if (t->token[slot] == token && pushed - t->when[slot] < TAKEN_RECENT) {
      t->top = top - i - 1;
      return 0;
    }
  }
  struct stats *st = stats(1);
  if (!st)
    return 0;
  st->nested++;
  return on_state((struct sock *)ctx[0], (int)ctx[1], (int)ctx[2], btf, st);
}

SEC("tp_btf/inet_sock_set_state")
int tcplife_btf(__u64 *ctx)
{
  return main_run(ctx, true);
}

SEC("tp_btf/inet_sock_set_state")
int tcplife_btf_nested(__u64 *ctx)
{
  return nested_run(ctx, true);
}

/* Fallback for kernels where the tp_btf program does not load or attach:
 * the same arguments, the hash map alone and probe reads. */
SEC("raw_tp/inet_sock_set_state")
int tcplife_raw(__u64 *ctx)
{
  return main_run(ctx, false);
}

SEC("raw_tp/inet_sock_set_state")
int tcplife_raw_nested(__u64 *ctx)
{
  return nested_run(ctx, false);
}


/*
 * Sessions that have not ended: one walk over every task's open files
 * (every network namespace), in the process context of the reader of an
 * iterator, never per packet. The kernel gives the socket behind a file as
 * a pointer the helpers do not take, so the walk reads through it and finds
 * a session's start in the hash by the socket's address. What it does is
 * set in `walk` before each read:
 * - adopt: a TCP socket open before tracing began, with no start, gets one
 *   now, marked adopted, with the task holding it as its owner. Its byte
 *   counts are the kernel's, from the session's start; its span counts
 *   from now.
 * - event: each session whose last record (or start) is at least
 *   min_age_ns old is written to the iterator's output as a record of this
 *   event, in the ring's layout, if it passes the kernel's filter. `seq`
 *   numbers the walk, so a socket shared by several tasks is reported once.
 */
/* A start for a session already open: its span counts from now. */
static __always_inline void start_adopted(struct start *s, struct sock *sk)
{
  s->ts_ns = bpf_ktime_get_ns();
  s->adopted = 1;
  s->cookie = sk->__sk_common.skc_cookie.counter;
  s->sid = sid_of(s->cookie);
}

/* Keeps a start for a socket found open with none (its owner: below). */
static __always_inline void adopt(struct sock *sk, __u64 key)
{
  struct stats *st = stats(0);
  if (!st)
    return;
  struct start n = {};
  long err = bpf_map_update_elem(&starts, &key, &n, BPF_NOEXIST);
  if (err == -EEXIST)
    return; /* a state change made its start meanwhile */
  struct start *s = bpf_map_lookup_elem(&starts, &key);
  if (err || !s) {
    __u8 one = 1;
    bpf_map_update_elem(&overflowed, &key, &one, BPF_ANY);
    return;
  }
  start_adopted(s, sk);
  st->adopted++;
}

SEC("iter/task_file")
int tcplife_walk(struct bpf_iter__task_file *ctx)
{
  struct file *file = ctx->file;
  struct task_struct *task = ctx->task;
  if (!file || !task)
    return 0;
  struct socket *sock = bpf_sock_from_file(file);
  if (!sock)
    return 0;
  struct sock *sk = sock->sk;
  if (!sk || sk->sk_protocol != IPPROTO_TCP)
    return 0;
  __u16 family = sk->__sk_common.skc_family;
  if (family != AF_INET && family != AF_INET6)
    return 0;
  __u8 state = sk->__sk_common.skc_state;
  if (state == TCP_LISTEN || state == TCP_CLOSE)
    return 0;
  __u32 zero = 0;
  struct open_walk *w = bpf_map_lookup_elem(&walk, &zero);
  if (!w)
    return 0;
  __u64 key = (__u64)sk;
  struct start *s = bpf_map_lookup_elem(&starts, &key);
  struct start unseen = {};
  if (!s || !s->ts_ns) {
    if (w->flags & WALK_ADOPT)
      adopt(sk, key);
    s = bpf_map_lookup_elem(&starts, &key);
    if (!s || !s->ts_ns) {
      if (!(w->flags & WALK_UNSEEN))
        return 0;
      start_adopted(&unseen, sk);
      s = &unseen;
    }
  }
  __u64 cookie = sk->__sk_common.skc_cookie.counter;
  if (s->cookie && cookie != s->cookie)
    return 0; /* not this socket's start: left by one whose close no program saw */
  /* A start made without a cookie takes the one the kernel made since. */
  s->cookie = cookie;
  if (!s->owner) {
    /* The task holding it: for a session adopted or reported unseen, and
     * for an accepted one whose owner no state change showed. */
    s->pid = task->tgid;
    s->uid = BPF_CORE_READ(task, cred, uid.val);
    s->cgroup_id = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn, id);
    bpf_probe_read_kernel(&s->comm, sizeof(s->comm), &task->comm);
    s->owner = 1;
  }
  if (!w->event || s->walk_seq == w->seq)
    return 0;
  s->walk_seq = w->seq;
  __u64 now = bpf_ktime_get_ns();
  __u64 last = s->last_ns ? s->last_ns : s->ts_ns;
  if (now - last < w->min_age_ns)
    return 0;
  struct event e = {};
  if (!fill_event(&e, sk, s, now, false))
    return 0;
  e.event = w->event;
  if (!filter(&e))
    return 0;
  s->last_ns = now;
  if (settings.metrics && e.event == EVENT_INTERIM && s != &unseen) {
    count_metrics(&e, s->counted_tx, s->counted_rx, false);
    s->counted_tx = e.tx_b;
    s->counted_rx = e.rx_b;
  }
  bpf_seq_write(ctx->meta->seq, &e, sizeof(e));
  return 0;
}
