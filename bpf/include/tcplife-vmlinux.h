/*
 * The few kernel types and constants tcplife.bpf.c uses, written by hand so
 * that neither kernel headers nor bpftool are needed at run time. Fields are
 * relocated by name against the running kernel's BTF (CO-RE): the layout
 * here does not need to match the kernel's, only the names and types do.
 * Fields that live in anonymous unions in the kernel are declared flat.
 */
#ifndef TCPLIFE_VMLINUX_H
#define TCPLIFE_VMLINUX_H

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef signed char __s8;
typedef short __s16;
typedef int __s32;
typedef long long __s64;
typedef __u16 __be16;
typedef __u32 __be32;
typedef __u32 __wsum;
typedef _Bool bool;
#define true 1
#define false 0

/* uapi/linux/bpf.h: ABI constants, stable across kernels. */
enum {
  BPF_MAP_TYPE_HASH = 1,
  BPF_MAP_TYPE_ARRAY = 2,
  BPF_MAP_TYPE_LRU_HASH = 9,
  BPF_MAP_TYPE_LPM_TRIE = 11,
  BPF_MAP_TYPE_PERCPU_ARRAY = 6,
  BPF_MAP_TYPE_SK_STORAGE = 24,
  BPF_MAP_TYPE_RINGBUF = 27,
};
enum { BPF_F_NO_PREALLOC = 1 };
enum { BPF_SK_STORAGE_GET_F_CREATE = 1 };
enum { BPF_ANY = 0, BPF_NOEXIST = 1 };
enum { BPF_RB_NO_WAKEUP = 1, BPF_RB_FORCE_WAKEUP = 2 };
enum { BPF_RB_AVAIL_DATA = 0 };

#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define EEXIST 17
/* errno values a socket's sk_err holds when it ends (uapi/asm-generic/errno*.h) */
#define EPIPE 32
#define ECONNRESET 104
#define ETIMEDOUT 110
#define ECONNREFUSED 111

/* include/net/tcp_states.h */
enum {
  TCP_ESTABLISHED = 1,
  TCP_SYN_SENT,
  TCP_SYN_RECV,
  TCP_FIN_WAIT1,
  TCP_FIN_WAIT2,
  TCP_TIME_WAIT,
  TCP_CLOSE,
  TCP_CLOSE_WAIT,
  TCP_LAST_ACK,
  TCP_LISTEN,
  TCP_CLOSING,
};

#pragma clang attribute push(__attribute__((preserve_access_index)), apply_to = record)

struct in6_addr {
  union {
    __u8 u6_addr8[16];
    __be32 u6_addr32[4];
  } in6_u;
};

struct ns_common {
  unsigned int inum;
};

struct net {
  struct ns_common ns;
};

typedef struct {
  struct net *net;
} possible_net_t;

typedef struct {
  __s64 counter;
} atomic64_t;

struct sock_common {
  possible_net_t skc_net;
  volatile unsigned char skc_state;
  atomic64_t skc_cookie;
  __be32 skc_daddr;
  __be32 skc_rcv_saddr;
  unsigned int skc_hash;
  union {
    __u32 skc_portpair;
    struct {
      __be16 skc_dport;
      __u16 skc_num;
    };
  };
  unsigned short skc_family;
  struct in6_addr skc_v6_daddr;
  struct in6_addr skc_v6_rcv_saddr;
};

struct sock {
  struct sock_common __sk_common;
  __u16 sk_protocol;
  int sk_err;
};

struct inet_sock {
  struct sock sk;
  __be16 inet_sport;
};

struct tcp_sock {
  __u64 bytes_received;
  __u64 bytes_acked;
  __u32 total_retrans;
  __u32 srtt_us;
};

/* What the iterators read (bpf/templates/tcplife.bpf.c: sessions that have not ended). */
typedef struct {
  unsigned int val;
} kuid_t;

struct cred {
  kuid_t uid;
};

struct kernfs_node {
  __u64 id;
};

struct cgroup {
  struct kernfs_node *kn;
};

struct css_set {
  struct cgroup *dfl_cgrp;
};

struct task_struct {
  int tgid;
  char comm[16];
  const struct cred *cred;
  struct css_set *cgroups;
};

struct socket {
  struct sock *sk;
};

struct file;
struct seq_file;
struct bpf_map;

struct bpf_iter_meta {
  struct seq_file *seq;
  __u64 session_id;
  __u64 seq_num;
};

struct bpf_iter__task_file {
  struct bpf_iter_meta *meta;
  struct task_struct *task;
  __u32 fd;
  struct file *file;
};

struct bpf_iter__bpf_map_elem {
  struct bpf_iter_meta *meta;
  struct bpf_map *map;
  void *key;
  void *value;
};

struct bpf_iter__bpf_sk_storage_map {
  struct bpf_iter_meta *meta;
  struct bpf_map *map;
  struct sock *sk;
  void *value;
};

#pragma clang attribute pop

#endif
