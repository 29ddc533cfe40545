// SPDX-License-Identifier: GPL-2.0
/*
 * rbref: the reference the benchmark measures tcplife against — the least
 * a BPF session tracer can cost. One tp_btf program: socket-local storage
 * for the start, direct (CO-RE) reads, a record per closed session into a
 * ring buffer without a wake-up. The `null` program attaches to the same
 * tracepoint and does nothing: the cost of being attached at all.
 */
#include "tcplife-vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

char LICENSE[] SEC("license") = "GPL";

struct rec {
  __u64 span_us;
  __u64 rx_b;
  __u64 tx_b;
  __u32 pid;
  __u16 lport;
  __u16 rport;
  char comm[16];
};

struct start {
  __u64 ts_ns;
  __u32 pid;
  char comm[16];
};

struct {
  __uint(type, BPF_MAP_TYPE_SK_STORAGE);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, int);
  __type(value, struct start);
} starts SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 4 << 20);
} events SEC(".maps");

SEC("tp_btf/inet_sock_set_state")
int rbref(__u64 *ctx)
{
  struct sock *sk = (struct sock *)ctx[0];
  int newstate = (int)ctx[2];
  if (sk->sk_protocol != IPPROTO_TCP)
    return 0;
  if (newstate < TCP_FIN_WAIT1) {
    struct start *s = bpf_sk_storage_get(&starts, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
    if (s && !s->ts_ns)
      s->ts_ns = bpf_ktime_get_ns();
    if (s && newstate == TCP_SYN_SENT) {
      s->pid = bpf_get_current_pid_tgid() >> 32;
      bpf_get_current_comm(s->comm, sizeof(s->comm));
    }
    return 0;
  }
  if (newstate != TCP_CLOSE)
    return 0;
  struct start *s = bpf_sk_storage_get(&starts, sk, 0, 0);
  if (!s || !s->ts_ns)
    return 0;
  /* A BTF pointer to the tcp_sock (inet_sock is its first member). */
  struct tcp_sock *tp = bpf_skc_to_tcp_sock(sk);
  if (!tp)
    return 0;
  struct rec *r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
  if (!r)
    return 0;
  r->span_us = (bpf_ktime_get_ns() - s->ts_ns) / 1000;
  r->rx_b = tp->bytes_received;
  r->tx_b = tp->bytes_acked;
  if (s->pid) {
    r->pid = s->pid;
    __builtin_memcpy(r->comm, s->comm, sizeof(r->comm));
  } else {
    r->pid = bpf_get_current_pid_tgid() >> 32;
    bpf_get_current_comm(r->comm, sizeof(r->comm));
  }
  r->lport = bpf_ntohs(((struct inet_sock *)tp)->inet_sport);
  r->rport = bpf_ntohs(sk->__sk_common.skc_dport);
  bpf_sk_storage_delete(&starts, sk);
  bpf_ringbuf_submit(r, BPF_RB_NO_WAKEUP);
  return 0;
}

SEC("tp_btf/inet_sock_set_state")
int null(__u64 *ctx)
{
  return 0;
}
